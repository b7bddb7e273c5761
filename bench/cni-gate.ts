/**
 * Boot gate cost, and the measurement behind its implementation choice. A pod's CNI ADD through
 * the lab's real chain (ptp + host-local, in a throwaway node namespace, run as a runtime runs a
 * conflist) without a gate and with a gate as last plugin, the boot verified (the steady case):
 *   none           ptp + host-local only
 *   go             + netwarden-cni-gate, the Go plugin (tools/cni-gate)
 *   node           + a Node.js plugin started per call (bench/lib/cni-gate-node-prototype.cjs)
 *   node-snapshot  + the same from a V8 startup snapshot (node --snapshot-blob)
 * The Node.js prototype only does the hot path (less than the Go plugin: no counters), so its
 * figures are a lower bound. Variants are interleaved round by round, so the machine's noise
 * (other builds and labs on 2 cores) spreads over all of them. Per variant: ADD latency (median,
 * p95), added latency (median minus the chain's own), the gate exec'd alone, and the gate
 * process's max RSS (wait4 rusage via /usr/bin/time): verified, and for Go also while holding.
 * Budget (issue 12): ≤ 50 ms added median, ≤ 20 MB per call. Prints figures; asserts nothing.
 * Usage: sudo node_modules/.bin/node bench/cni-gate.ts [--runs 30] [--output text|json]
 */
import { randomUUID } from 'node:crypto';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { GateState } from '../src/cni-gate/state.ts';
import { DEFAULT_GATE_SETTINGS, gateEntry } from '../src/core/boot-gate.ts';
import { run, runOk } from '../src/host/exec.ts';
import { ensureBinaries } from '../src/lab/binaries.ts';
import { type CniConfList, type CniResult, cniAdd, cniDel } from '../src/lab/cni.ts';
import { createCniNode } from '../src/lab/cni-node.ts';

const { values } = parseArgs({
  options: { runs: { type: 'string', default: '30' }, output: { type: 'string', default: 'text' } },
});
const runs = Number(values.runs);
const json = values.output === 'json';
const say = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

type Variant = 'none' | 'go' | 'node' | 'node-snapshot';
const VARIANTS: Variant[] = ['none', 'go', 'node', 'node-snapshot'];
const GATE_TYPE: Record<Exclude<Variant, 'none'>, string> = {
  go: 'netwarden-cni-gate',
  node: 'netwarden-cni-gate-node',
  'node-snapshot': 'netwarden-cni-gate-node-snapshot',
};

interface Stats {
  readonly median: number;
  readonly p95: number;
  readonly min: number;
  readonly max: number;
}
function stats(xs: readonly number[]): Stats {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number): number => s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? Number.NaN;
  const r = (x: number): number => Math.round(x * 100) / 100;
  return { median: r(q(0.5)), p95: r(q(0.95)), min: r(s[0] ?? Number.NaN), max: r(s.at(-1) ?? Number.NaN) };
}
const loadavg = (): string => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

const bins = await ensureBinaries();
const node = await createCniNode(bins, ['netwarden-cni-gate']);
const loadBefore = loadavg();
try {
  const root = join(node.run.dir, 'bench');
  mkdirSync(root, { recursive: true });
  const bootIdFile = join(root, 'boot_id');
  const bootId = randomUUID();
  writeFileSync(bootIdFile, `${bootId}\n`);
  const settings = { ...DEFAULT_GATE_SETTINGS, stateDir: join(root, 'run'), bootIdFile };
  const state = new GateState(settings.stateDir, bootIdFile);
  await state.beat();
  await state.markVerified(bootId);

  // The Node.js prototypes as plugin executables (a shebang, as a Node.js plugin would ship).
  const proto = join(root, 'prototype.cjs');
  copyFileSync(new URL('./lib/cni-gate-node-prototype.cjs', import.meta.url), proto);
  const blob = join(root, 'prototype.blob');
  await runOk(process.execPath, ['--snapshot-blob', blob, '--build-snapshot', proto], { timeoutMs: 60_000 });
  const source = readFileSync(proto, 'utf8');
  const nodePlugin = join(node.cniBin, GATE_TYPE.node);
  writeFileSync(nodePlugin, `#!${process.execPath}\n${source}`);
  const snapPlugin = join(node.cniBin, GATE_TYPE['node-snapshot']);
  writeFileSync(snapPlugin, `#!/usr/bin/env -S ${process.execPath} --snapshot-blob ${blob}\n`);
  chmodSync(nodePlugin, 0o755);
  chmodSync(snapPlugin, 0o755);

  const entry = gateEntry(settings);
  const conf = (v: Variant): CniConfList => ({
    cniVersion: '1.0.0',
    name: 'lab-pods',
    plugins: v === 'none' ? [node.ptpPlugin] : [node.ptpPlugin, { ...entry, type: GATE_TYPE[v] }],
  });

  let podN = 0;
  const addOnce = async (v: Variant): Promise<{ ms: number; result: CniResult }> => {
    const name = `p${++podN}`;
    const ctx = {
      containerId: `bench-${podN}`,
      netnsPath: await node.podNetns(name),
      ifName: 'eth0',
      cniPath: node.cniBin,
      args: { IgnoreUnknown: '1', K8S_POD_NAMESPACE: 'bench', K8S_POD_NAME: name },
    };
    const t0 = performance.now();
    const result = await cniAdd(conf(v), ctx);
    const ms = performance.now() - t0;
    await cniDel(conf(v), ctx, result);
    await node.deletePodNetns(name);
    return { ms, result };
  };

  say(`warming up (3 ADD/DEL per variant), then ${runs} rounds; load average ${loadBefore}`);
  for (const v of VARIANTS) for (let i = 0; i < 3; i++) await addOnce(v);
  const add: Record<Variant, number[]> = { none: [], go: [], node: [], 'node-snapshot': [] };
  let sample: CniResult = {};
  for (let round = 0; round < runs; round++) {
    // Rotate the order so that no variant always follows the same one.
    const order = VARIANTS.map((_, i) => VARIANTS[(i + round) % VARIANTS.length] as Variant);
    for (const v of order) {
      const r = await addOnce(v);
      add[v].push(r.ms);
      sample = r.result;
    }
  }

  // The gate exec'd alone with what it gets in the chain (ptp's result as prevResult).
  const input = (type: string, s = settings) =>
    JSON.stringify({ ...gateEntry(s), type, cniVersion: '1.0.0', name: 'lab-pods', prevResult: sample });
  const env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    CNI_COMMAND: 'ADD',
    CNI_CONTAINERID: 'bench-alone',
    CNI_NETNS: '/var/run/netns/none',
    CNI_IFNAME: 'eth0',
    CNI_ARGS: 'K8S_POD_NAMESPACE=bench;K8S_POD_NAME=alone',
  };
  const rssKb = async (path: string, stdin: string): Promise<number> => {
    const r = await run('/usr/bin/time', ['-f', '%M', path], { input: stdin, env, timeoutMs: 60_000 });
    return Number(r.stderr.trim().split('\n').at(-1));
  };
  const alone: Partial<Record<Variant, { ms: Stats; maxRssKb: Stats }>> = {};
  for (const v of ['go', 'node', 'node-snapshot'] as const) {
    const path = join(node.cniBin, GATE_TYPE[v]);
    const ms: number[] = [];
    const kb: number[] = [];
    for (let i = 0; i < runs; i++) {
      const r = await run(path, [], { input: input(GATE_TYPE[v]), env, timeoutMs: 60_000 });
      if (r.code !== 0) throw new Error(`${v} gate alone failed: ${r.stdout} ${r.stderr}`);
      ms.push(r.durationMs);
      kb.push(await rssKb(path, input(GATE_TYPE[v])));
    }
    alone[v] = { ms: stats(ms), maxRssKb: stats(kb) };
  }
  // The Go plugin while holding (boot not verified, agent heartbeating): its largest footprint.
  const heldState = { ...settings, stateDir: join(root, 'held'), maxWaitMs: 1_000 };
  await new GateState(heldState.stateDir, bootIdFile).beat();
  const heldKb: number[] = [];
  for (let i = 0; i < 5; i++)
    heldKb.push(await rssKb(join(node.cniBin, GATE_TYPE.go), input(GATE_TYPE.go, heldState)));

  const none = stats(add.none);
  const report = {
    bench: 'cni-gate',
    runs,
    chain: 'ptp + host-local (lab CNI plugins v1.9.1), boot verified',
    machine: {
      cpus: (await run('nproc', [])).stdout.trim(),
      loadBefore,
      loadAfter: loadavg(),
      node: process.version,
    },
    budget: { addedMedianMs: 50, maxRssMb: 20 },
    variants: Object.fromEntries(
      VARIANTS.map((v) => {
        const s = stats(add[v]);
        const a = v === 'none' ? undefined : alone[v];
        return [
          v,
          {
            addMs: s,
            ...(v === 'none'
              ? {}
              : {
                  addedMedianMs: Math.round((s.median - none.median) * 100) / 100,
                  ratioToChain: Math.round((s.median / none.median) * 100) / 100,
                  gateAloneMs: a?.ms,
                  gateMaxRssKb: a?.maxRssKb,
                }),
            ...(v === 'go' ? { heldMaxRssKb: stats(heldKb) } : {}),
          },
        ];
      }),
    ),
  };
  if (json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else {
    console.log(`CNI ADD, ${runs} rounds, ${report.chain}; load ${loadBefore} → ${report.machine.loadAfter}`);
    console.log(
      'variant         ADD median   ADD p95   added (median)   gate alone median   gate max RSS (median/max)',
    );
    for (const v of VARIANTS) {
      const r = report.variants[v] as {
        addMs: Stats;
        addedMedianMs?: number;
        gateAloneMs?: Stats;
        gateMaxRssKb?: Stats;
      };
      const mb = (kb: number | undefined): string =>
        kb === undefined ? '-' : `${(kb / 1024).toFixed(1)} MB`;
      console.log(
        `${v.padEnd(15)} ${`${r.addMs.median} ms`.padStart(10)} ${`${r.addMs.p95} ms`.padStart(9)} ${(r.addedMedianMs === undefined ? '-' : `${r.addedMedianMs} ms`).padStart(16)} ${(r.gateAloneMs ? `${r.gateAloneMs.median} ms` : '-').padStart(19)}   ${mb(r.gateMaxRssKb?.median)} / ${mb(r.gateMaxRssKb?.max)}`,
      );
    }
    const held = stats(heldKb);
    console.log(
      `go plugin while holding: max RSS median ${(held.median / 1024).toFixed(1)} MB, max ${(held.max / 1024).toFixed(1)} MB`,
    );
  }
} finally {
  const problems = await node.close();
  if (problems.length > 0) say(`clean-up problems: ${problems.join('; ')}`);
}
