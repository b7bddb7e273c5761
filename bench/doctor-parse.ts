/**
 * Benchmark of the data-path model on a kube-proxy-sized ruleset: `iptables-save` itself beside
 * netwarden's parse and diff of its output, in the same runs. Prints figures, never asserts them
 * (the machine is shared; targets are in docs/doctor.md).
 *
 *   node bench/doctor-parse.ts [--output json]      # 10,000 Services × 5 endpoints, rendered as
 *        kube-proxy writes them, loaded with iptables-restore into a private netns; each run times
 *        iptables-save there, then parses and diffs what it printed, then a streamed full read
 *        (iptables-save piped straight into the parser, as the agent reads)
 *   node bench/doctor-parse.ts --file save.txt --cluster-state cluster.json   # an existing dump
 *   options: --services N --endpoints N --runs N --backend nft|legacy --output text|json
 *
 * Figures (medians over runs; wall clock unless named cpu):
 *   saveMs       iptables-save in the netns, output captured
 *   parseMs      the dump text → the agent's rule state (parse + collect), linesPerSecond from it
 *   parseDiffMs  parse + diff against the expected state (computed once, as the agent does per
 *                cluster generation; expectedMs says what that costs): a full read's work beyond the save
 *   ratio        parseDiffMs ÷ saveMs, each run's own pair
 *   streamedMs   iptables-save piped into the parser, then expected + diff: the agent's full read
 *
 * The netns is named nwdoc-<random>, only ever touched through `ip netns exec`, deleted at exit.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createReadStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { ClusterState } from '../src/netfilter/cluster-state.ts';
import { parseClusterState, serializeClusterState } from '../src/netfilter/cluster-state.ts';
import { diffKubeProxy } from '../src/netfilter/diff-kube-proxy.ts';
import { type ExpectedServices, expectedServicePorts } from '../src/netfilter/expected.ts';
import {
  type IptablesNodeState,
  readIptablesState,
  readIptablesStateStream,
} from '../src/netfilter/iptables-state.ts';
import { syntheticKubeProxyRuleset } from './lib/synthetic-ruleset.ts';

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};
const round = (x: number): number => Math.round(x * 10) / 10;

/** A synthetic cluster: N ClusterIP services with E ready endpoints each (one named TCP port). */
export function syntheticCluster(services: number, endpoints: number): ClusterState {
  const svcs = [];
  const slices = [];
  for (let i = 0; i < services; i++) {
    const name = `svc-${i}`;
    const ns = `ns-${i % 50}`;
    const ip = `10.96.${(i >> 8) & 255}.${i & 255}`;
    svcs.push({
      kind: 'Service',
      metadata: { name, namespace: ns },
      spec: {
        type: 'ClusterIP',
        clusterIP: ip,
        clusterIPs: [ip],
        ports: [{ name: 'http', port: 80, protocol: 'TCP' }],
      },
    });
    const eps = [];
    for (let e = 0; e < endpoints; e++) {
      const n = i * endpoints + e;
      eps.push({
        addresses: [`10.${128 + ((n >> 16) & 63)}.${(n >> 8) & 255}.${n & 255}`],
        conditions: { ready: true },
        nodeName: `node-${n % 100}`,
      });
    }
    slices.push({
      kind: 'EndpointSlice',
      metadata: { name: `${name}-abcde`, namespace: ns, labels: { 'kubernetes.io/service-name': name } },
      addressType: 'IPv4',
      ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
      endpoints: eps,
    });
  }
  return { services: svcs, endpointSlices: slices, pods: [] } as unknown as ClusterState;
}

function sh(cmd: string, args: string[], input?: string): { out: string; ms: number } {
  const t0 = performance.now();
  const r = spawnSync(cmd, args, { input, maxBuffer: 1 << 30, encoding: 'utf8', timeout: 300_000 });
  const ms = performance.now() - t0;
  if (r.status !== 0)
    throw new Error(`${cmd} ${args.join(' ')}: exit ${r.status}: ${(r.stderr ?? '').slice(0, 300)}`);
  return { out: r.stdout, ms };
}

/** The diff of one parsed dump; returns the finding count. */
function diffOf(state: IptablesNodeState, expected: ExpectedServices): number {
  return diffKubeProxy({ mode: 'iptables', state }, expected).length;
}

/** The agent's full read: the save binary's stdout streamed into the parser, then expected + diff. */
async function streamedRead(
  save: string[],
  expected: ExpectedServices,
): Promise<{ ms: number; findings: number }> {
  const t0 = performance.now();
  const child = spawn(save[0] as string, save.slice(1), { stdio: ['ignore', 'pipe', 'ignore'] });
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  const state = await readIptablesStateStream(child.stdout);
  const code = await exited;
  if (code !== 0) throw new Error(`${save.join(' ')}: exit ${code}`);
  const findings = diffOf(state, expected);
  return { ms: performance.now() - t0, findings };
}

/**
 * Child mode: peak RSS growth of read + parse + expected + diff over a baseline taken with the
 * cluster state already loaded (the input both sides share). A worker thread samples the process
 * RSS every 2 ms, because the measured work is synchronous.
 */
async function probeRss(file: string, clusterFile: string, streamed: boolean): Promise<void> {
  const { Worker } = await import('node:worker_threads');
  const cluster = parseClusterState(readFileSync(clusterFile, 'utf8')).state;
  (globalThis as { gc?: () => void }).gc?.();
  await new Promise((r) => setTimeout(r, 200));
  const shared = new Int32Array(new SharedArrayBuffer(8));
  const sampler = new Worker(
    `const { parentPort, workerData } = require('node:worker_threads');
     const a = workerData; const tick = () => { const mb = Math.round(process.memoryUsage.rss() / 1048576);
       if (mb > Atomics.load(a, 0)) Atomics.store(a, 0, mb); if (Atomics.load(a, 1) === 0) setTimeout(tick, 2); };
     tick();`,
    { eval: true, workerData: shared },
  );
  await new Promise((r) => setTimeout(r, 100));
  const base = Math.round(process.memoryUsage.rss() / 1048576);
  Atomics.store(shared, 0, base);
  const state = streamed
    ? await readIptablesStateStream(createReadStream(file, { highWaterMark: 1 << 16 }))
    : readIptablesState(readFileSync(file, 'utf8'));
  const findings = diffOf(state, expectedServicePorts(cluster));
  await new Promise((r) => setTimeout(r, 50));
  Atomics.store(shared, 1, 1);
  await sampler.terminate();
  process.stdout.write(JSON.stringify({ baseMb: base, peakMb: Atomics.load(shared, 0), findings }));
}

/** Median peak RSS growth over 3 fresh processes (each parses once). */
function rssGrowth(file: string, clusterFile: string, streamed: boolean): number | undefined {
  const growth: number[] = [];
  for (let i = 0; i < 3; i++) {
    const args = ['--expose-gc', process.argv[1] as string, '--rss-probe', file, '--cluster', clusterFile];
    if (streamed) args.push('--streamed');
    const probe = spawnSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 1 << 20 });
    if (probe.status !== 0) {
      console.error(`RSS probe failed: ${probe.stderr.slice(0, 300)}`);
      return undefined;
    }
    const r = JSON.parse(probe.stdout) as { baseMb: number; peakMb: number };
    growth.push(r.peakMb - r.baseMb);
  }
  return median(growth);
}

/** Each run: iptables-save (or the file), parse, diff, then a streamed full read; all timed. */
async function timeRuns(
  runs: number,
  save: string[] | undefined,
  file: string | undefined,
  expected: ExpectedServices,
) {
  const saveMs: number[] = [];
  const parseMs: number[] = [];
  const parseCpuMs: number[] = [];
  const parseDiffMs: number[] = [];
  const ratios: number[] = [];
  const streamedMs: number[] = [];
  let text = '';
  let findings = 0;
  for (let i = 0; i < runs; i++) {
    let ms = 0;
    if (save) {
      const s = sh(save[0] as string, save.slice(1));
      ms = s.ms;
      saveMs.push(ms);
      text = s.out;
    } else text = readFileSync(file as string, 'utf8');
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const state = readIptablesState(text);
    const t1 = performance.now();
    const c1 = process.cpuUsage(c0);
    findings = diffOf(state, expected);
    const t2 = performance.now();
    parseMs.push(t1 - t0);
    parseCpuMs.push((c1.user + c1.system) / 1000);
    parseDiffMs.push(t2 - t0);
    if (save) {
      ratios.push((t2 - t0) / ms);
      streamedMs.push((await streamedRead(save, expected)).ms);
    }
  }
  return { saveMs, parseMs, parseCpuMs, parseDiffMs, ratios, streamedMs, text, findings };
}

/** The figures as text lines. */
function printText(result: Result, backend: string): void {
  const { lines, findings } = result;
  console.log(
    `ruleset: ${lines} lines, ${(result.bytes / 1e6).toFixed(1)} MB, ${result.services} Services, ${findings} finding(s)`,
  );
  console.log(
    `parse (text → rule state): median ${result.parseMs} ms = ${(result.linesPerSecond / 1e6).toFixed(2)} M lines/s (cpu ${result.parseCpuMs} ms; runs ${result.runsMs.parse.join(', ')})`,
  );
  console.log(
    `parse + diff:              median ${result.parseDiffMs} ms (runs ${result.runsMs.parseDiff.join(', ')}); expected state, once: ${result.expectedMs} ms`,
  );
  if (result.saveMs !== undefined) {
    console.log(
      `iptables-${backend}-save:       median ${result.saveMs} ms (runs ${result.runsMs.save.join(', ')})`,
    );
    console.log(`ratio parse+diff / save:   median ${result.ratio} (each run's own pair)`);
    console.log(
      `streamed full read:        median ${result.streamedMs} ms (save piped into the parser, then diff)`,
    );
  }
  console.log(
    `peak RSS growth: ${result.rssGrowthMb.whole} MB read whole, ${result.rssGrowthMb.streamed} MB streamed; load average ${result.loadavg1}`,
  );
}

type Result = {
  lines: number;
  bytes: number;
  services: number;
  findings: number;
  saveMs: number | undefined;
  parseMs: number;
  parseCpuMs: number;
  parseDiffMs: number;
  expectedMs: number;
  ratio: number | undefined;
  linesPerSecond: number;
  streamedMs: number | undefined;
  rssGrowthMb: { whole: number | undefined; streamed: number | undefined };
  runsMs: { save: number[]; parse: number[]; parseCpu: number[]; parseDiff: number[]; streamed: number[] };
  loadavg1: number;
};

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      'rss-probe': { type: 'string' },
      cluster: { type: 'string' },
      streamed: { type: 'boolean', default: false },
      file: { type: 'string' },
      'cluster-state': { type: 'string' },
      services: { type: 'string', default: '10000' },
      endpoints: { type: 'string', default: '5' },
      runs: { type: 'string', default: '5' },
      backend: { type: 'string', default: 'nft' },
      output: { type: 'string', default: 'text' },
    },
  });
  if (values['rss-probe'])
    return probeRss(values['rss-probe'], values.cluster as string, values.streamed ?? false);
  const runs = Number(values.runs);
  const backend = values.backend;
  if (!Number.isInteger(runs) || runs < 1)
    throw new Error(`--runs must be a positive integer, got ${values.runs}`);
  if (backend !== 'nft' && backend !== 'legacy')
    throw new Error(`--backend must be nft or legacy, got ${backend}`);
  if (values.output !== 'text' && values.output !== 'json') throw new Error('--output must be text or json');
  const work = mkdtempSync(join(tmpdir(), 'nwdoc-bench-'));
  const ns = `nwdoc-${randomBytes(4).toString('hex')}`;
  let nsCreated = false;
  const cleanUp = (): void => {
    if (nsCreated) spawnSync('ip', ['netns', 'delete', ns]);
    rmSync(work, { recursive: true, force: true });
  };
  for (const sig of ['SIGINT', 'SIGTERM'] as const)
    process.once(sig, () => {
      cleanUp();
      process.exit(130);
    });
  try {
    let clusterFile = values['cluster-state'];
    let cluster: ClusterState;
    if (clusterFile) cluster = parseClusterState(readFileSync(clusterFile, 'utf8')).state;
    else {
      cluster = syntheticCluster(Number(values.services), Number(values.endpoints));
      clusterFile = join(work, 'cluster.json');
      writeFileSync(clusterFile, serializeClusterState(cluster));
    }
    const save = ['ip', 'netns', 'exec', ns, `iptables-${backend}-save`];
    if (!values.file) {
      const restore = syntheticKubeProxyRuleset(expectedServicePorts(cluster), {
        clusterCidr: '10.128.0.0/10',
      });
      sh('ip', ['netns', 'add', ns]);
      nsCreated = true;
      const r = sh('ip', ['netns', 'exec', ns, `iptables-${backend}-restore`], restore);
      console.error(
        `iptables-${backend}-restore of ${restore.split('\n').length} lines: ${(r.ms / 1000).toFixed(2)} s`,
      );
    }
    // The agent computes the expected state once per cluster generation, not per read.
    const e0 = performance.now();
    const expected = expectedServicePorts(cluster);
    const expectedMs = performance.now() - e0;
    const { saveMs, parseMs, parseCpuMs, parseDiffMs, ratios, streamedMs, text, findings } = await timeRuns(
      runs,
      values.file ? undefined : save,
      values.file,
      expected,
    );
    const file = values.file ?? join(work, 'iptables-save.txt');
    if (!values.file) writeFileSync(file, text);
    const lines = text.split('\n').length;
    const result: Result & { runs: number; backend: string | undefined } = {
      lines,
      bytes: text.length,
      services: cluster.services.length,
      runs,
      backend: values.file ? undefined : backend,
      findings,
      saveMs: saveMs.length ? round(median(saveMs)) : undefined,
      parseMs: round(median(parseMs)),
      parseCpuMs: round(median(parseCpuMs)),
      parseDiffMs: round(median(parseDiffMs)),
      expectedMs: round(expectedMs),
      ratio: ratios.length ? Math.round(median(ratios) * 1000) / 1000 : undefined,
      linesPerSecond: Math.round((lines / median(parseMs)) * 1000),
      streamedMs: streamedMs.length ? round(median(streamedMs)) : undefined,
      rssGrowthMb: {
        whole: rssGrowth(file, clusterFile, false),
        streamed: rssGrowth(file, clusterFile, true),
      },
      runsMs: {
        save: saveMs.map(round),
        parse: parseMs.map(round),
        parseCpu: parseCpuMs.map(round),
        parseDiff: parseDiffMs.map(round),
        streamed: streamedMs.map(round),
      },
      loadavg1: Math.round((loadavg()[0] ?? 0) * 100) / 100,
    };
    if (values.output === 'json') console.log(JSON.stringify(result, null, 2));
    else printText(result, backend);
  } finally {
    cleanUp();
  }
}

if (import.meta.main) await main();
