/**
 * Benchmark of the doctor's data-path model on a kube-proxy-sized ruleset. Prints figures, never
 * asserts them (the machine is shared; targets are in docs/doctor.md).
 *
 *   node bench/doctor-parse.ts                       # generate 10,000 Services × 5 endpoints shaped like
 *                                                    # kube-proxy's (lib/synthetic-ruleset.ts), load them
 *                                                    # into a private netns with iptables-restore, time
 *                                                    # iptables-save there, then parse it
 *   node bench/doctor-parse.ts --file save.txt --cluster-state cluster.json   # an existing dump
 *   options: --services N --endpoints N --runs N --backend nft|legacy
 *
 * The netns is named nwdoc-<random>, only ever touched through `ip netns exec`, and deleted at exit.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createReadStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClusterState } from '../src/netfilter/cluster-state.ts';
import { parseClusterState, serializeClusterState } from '../src/netfilter/cluster-state.ts';
import { diffKubeProxy } from '../src/netfilter/diff-kube-proxy.ts';
import { expectedServicePorts } from '../src/netfilter/expected.ts';
import { streamIptablesSave } from '../src/netfilter/iptables-save.ts';
import { readIptablesState, readIptablesStateStream } from '../src/netfilter/iptables-state.ts';
import { syntheticKubeProxyRuleset } from './lib/synthetic-ruleset.ts';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

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
  const r = spawnSync(cmd, args, { input, maxBuffer: 1 << 30, encoding: 'utf8' });
  const ms = performance.now() - t0;
  if (r.status !== 0)
    throw new Error(`${cmd} ${args.join(' ')}: exit ${r.status}: ${(r.stderr ?? '').slice(0, 300)}`);
  return { out: r.stdout, ms };
}

async function probeRss(file: string, clusterFile: string, streamed: boolean): Promise<void> {
  // Child mode: peak RSS growth of read + parse + expected + diff over a baseline taken with the
  // cluster state already loaded (the input both sides share). A worker thread samples the
  // process RSS every 2 ms, because the measured work is synchronous.
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
    ? await readIptablesStateStream(createReadStream(file, { highWaterMark: 1 << 20 }))
    : readIptablesState(readFileSync(file, 'utf8'));
  const expected = expectedServicePorts(cluster);
  const findings = diffKubeProxy({ mode: 'iptables', state }, expected);
  await new Promise((r) => setTimeout(r, 50));
  Atomics.store(shared, 1, 1);
  await sampler.terminate();
  process.stdout.write(
    JSON.stringify({ baseMb: base, peakMb: Atomics.load(shared, 0), findings: findings.length }),
  );
}

async function main(): Promise<void> {
  if (process.argv.includes('--rss-probe'))
    return probeRss(
      arg('--rss-probe') as string,
      arg('--cluster') as string,
      process.argv.includes('--streamed'),
    );
  const runs = Number(arg('--runs') ?? 5);
  const backend = arg('--backend') ?? 'nft';
  const work = mkdtempSync(join(tmpdir(), 'nwdoc-bench-'));
  let file = arg('--file');
  let clusterFile = arg('--cluster-state');
  const saveMs: number[] = [];
  try {
    let cluster: ClusterState;
    if (clusterFile) cluster = parseClusterState(readFileSync(clusterFile, 'utf8')).state;
    else {
      const services = Number(arg('--services') ?? 10_000);
      const endpoints = Number(arg('--endpoints') ?? 5);
      cluster = syntheticCluster(services, endpoints);
      clusterFile = join(work, 'cluster.json');
      writeFileSync(clusterFile, serializeClusterState(cluster));
    }
    if (!file) {
      const restore = syntheticKubeProxyRuleset(expectedServicePorts(cluster), {
        clusterCidr: '10.128.0.0/10',
      });
      const ns = `nwdoc-${randomBytes(4).toString('hex')}`;
      sh('ip', ['netns', 'add', ns]);
      try {
        const r = sh('ip', ['netns', 'exec', ns, `iptables-${backend}-restore`], restore);
        console.log(
          `iptables-${backend}-restore of ${restore.split('\n').length} lines: ${(r.ms / 1000).toFixed(2)} s`,
        );
        let out = '';
        for (let i = 0; i < runs; i++) {
          const s = sh('/usr/bin/time', ['-f', '%M', 'ip', 'netns', 'exec', ns, `iptables-${backend}-save`]);
          saveMs.push(s.ms);
          out = s.out;
        }
        file = join(work, 'iptables-save.txt');
        writeFileSync(file, out);
      } finally {
        spawnSync('ip', ['netns', 'delete', ns]);
      }
    }
    const text = readFileSync(file, 'utf8');
    const lines = text.split('\n').length;
    console.log(`ruleset: ${file}: ${lines} lines, ${(text.length / 1e6).toFixed(1)} MB`);
    const parseMs: number[] = [];
    const parseCpuMs: number[] = [];
    const collectMs: number[] = [];
    const totalMs: number[] = [];
    let rules = 0;
    let findings = 0;
    let ports = 0;
    for (let i = 0; i < runs; i++) {
      let t0 = performance.now();
      const c0 = process.cpuUsage();
      let n = 0;
      const summary = streamIptablesSave(text, { rule: () => void n++ });
      parseMs.push(performance.now() - t0);
      const c1 = process.cpuUsage(c0);
      parseCpuMs.push((c1.user + c1.system) / 1000);
      rules = summary.rules;
      t0 = performance.now();
      const state = readIptablesState(text);
      collectMs.push(performance.now() - t0);
      const expected = expectedServicePorts(cluster);
      ports = expected.ports.length;
      findings = diffKubeProxy({ mode: 'iptables', state }, expected).length;
      totalMs.push(performance.now() - t0);
    }
    const p = median(parseMs);
    console.log(
      `parse to structured rules: median ${p.toFixed(0)} ms = ${(((lines / p) * 1000) / 1e6).toFixed(2)} M lines/s (${rules} rules; runs: ${parseMs.map((x) => x.toFixed(0)).join(', ')} ms)`,
    );
    const pc = median(parseCpuMs);
    console.log(
      `  same, by process CPU time (less sensitive to a busy machine): median ${pc.toFixed(0)} ms = ${(((lines / pc) * 1000) / 1e6).toFixed(2)} M lines/s; load average now ${(await import('node:os')).loadavg()[0]?.toFixed(1)}`,
    );
    console.log(
      `parse + collect state:     median ${median(collectMs).toFixed(0)} ms = ${(((lines / median(collectMs)) * 1000) / 1e6).toFixed(2)} M lines/s`,
    );
    console.log(
      `parse + expected + diff:   median ${median(totalMs).toFixed(0)} ms (${ports} service ports, ${findings} finding(s))`,
    );
    if (saveMs.length > 0) {
      console.log(
        `iptables-${backend}-save:        median ${median(saveMs).toFixed(0)} ms (runs: ${saveMs.map((x) => x.toFixed(0)).join(', ')} ms)`,
      );
      console.log(`ratio parse+diff / iptables-save: ${(median(totalMs) / median(saveMs)).toFixed(2)}`);
    }
    for (const streamed of [false, true]) {
      const growth: number[] = [];
      let last = { baseMb: 0, peakMb: 0 };
      for (let i = 0; i < 3; i++) {
        const args = [
          '--expose-gc',
          process.argv[1] as string,
          '--rss-probe',
          file,
          '--cluster',
          clusterFile,
          ...(streamed ? ['--streamed'] : []),
        ];
        const probe = spawnSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 1 << 20 });
        if (probe.status !== 0) {
          console.log(`RSS probe failed: ${probe.stderr.slice(0, 300)}`);
          break;
        }
        last = JSON.parse(probe.stdout) as { baseMb: number; peakMb: number };
        growth.push(last.peakMb - last.baseMb);
      }
      if (growth.length > 0) {
        console.log(
          `peak RSS growth, ${streamed ? 'streamed from the file (1 MiB chunks)' : 'file read whole into a string'}: median ${median(growth)} MB over ${growth.length} fresh processes (last: baseline ${last.baseMb} MB with the cluster state loaded, peak ${last.peakMb} MB)`,
        );
      }
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (import.meta.main) await main();
