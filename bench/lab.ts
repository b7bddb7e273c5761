/**
 * Lab benchmarks on real nodes (figures only, no assertions): lab up time (2 nodes), pod start
 * latency (API create → Ready seen by a watch), reboot → all of the node's pods recreated and
 * Ready, the memory of one lab node, and reboot-race wall time (the demo's faults and defaults).
 * Prints one JSON object on stdout (medians, p95, every sample) and progress on stderr.
 * Usage: sudo node_modules/.bin/node bench/lab.ts [--runs 3] [--pods 6] [--races 2]
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { Pod } from '../src/core/objects.ts';
import { cgroupPids } from '../src/lab/cgroups.ts';
import { labImageRef } from '../src/lab/images.ts';
import { Lab } from '../src/lab/lab.ts';
import { NODE_ENV } from '../src/lab/node.ts';
import { pidsWithEnv, RUN_ENV } from '../src/lab/run-dir.ts';
import { REBOOT_RACE_DEFAULTS, runRebootRace } from '../src/lab/scenarios/reboot-race.ts';
import { waitFor } from '../src/lab/wait.ts';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    pods: { type: 'string', default: '6' },
    races: { type: 'string', default: '2' },
  },
});
const runs = Number(values.runs);
const podCount = Number(values.pods);
const races = Number(values.races);

const q = (xs: readonly number[], p: number): number =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))] ?? Number.NaN;
const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] ?? Number.NaN) : ((s[m - 1] ?? 0) + (s[m] ?? 0)) / 2;
};
const say = (line: string): void => {
  process.stderr.write(`${line}\n`);
};
const isReady = (p: Pod): boolean =>
  p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;

/** Resident memory (kB) of every process of a node: its programs (by environment) and its containers (by cgroup). */
function nodeRssKb(lab: Lab, node: string): { rssKb: number; processes: number } {
  const pids = new Set([
    ...pidsWithEnv({ [RUN_ENV]: lab.run.id, [NODE_ENV]: node }),
    ...cgroupPids(lab.node(node).cgroup),
  ]);
  let rssKb = 0;
  for (const pid of pids) {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      rssKb += Number(m?.[1] ?? 0);
    } catch {
      // exited
    }
  }
  return { rssKb, processes: pids.size };
}

async function podStartLatencies(lab: Lab, r: number): Promise<number[]> {
  const created = new Map<string, number>();
  const ready = new Map<string, number>();
  const watch = await lab.admin.pods.watch(
    {
      onEvent: (ev) => {
        const name = ev.object.metadata?.name ?? '';
        if (!ready.has(name) && isReady(ev.object)) ready.set(name, performance.now());
      },
    },
    { labelSelector: 'bench=start' },
  );
  for (let i = 0; i < podCount; i++) {
    const name = `start-${r}-${i}`;
    created.set(name, performance.now());
    await lab.admin.objects.create({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace: 'default', labels: { bench: 'start' } },
      spec: {
        automountServiceAccountToken: false,
        containers: [
          {
            name: 'c',
            image: labImageRef('tcp-server'),
            imagePullPolicy: 'Never',
            ports: [{ containerPort: 8080 }],
            readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1 },
          },
        ],
      },
    });
  }
  await waitFor('every bench pod Ready', () => ready.size >= podCount, 120_000, 50).catch(() => undefined);
  await watch.stop();
  return [...created].flatMap(([name, t]) => {
    const at = ready.get(name);
    return at === undefined ? [] : [at - t];
  });
}

/** Power-off of node-2 → every pod bound to it Ready again in a sandbox of the new boot. */
async function rebootRecreate(lab: Lab): Promise<number> {
  const t0 = Date.now();
  await lab.reboot('node-2', { downtimeMs: 1_000, kubeProxyDelayMs: 0, cniReadyDelayMs: 0 });
  await waitFor(
    "node-2's pods recreated and Ready",
    async () => {
      const pods = await lab.pods('node-2');
      return (
        pods.length > 0 &&
        pods.every((p) => {
          const sandbox = p.status?.conditions?.find((c) => c.type === 'PodReadyToStartContainers');
          return isReady(p) && Date.parse(String(sandbox?.lastTransitionTime ?? 0)) >= t0 - 1000;
        })
      );
    },
    180_000,
    100,
  );
  return Date.now() - t0;
}

const upMs: number[] = [];
const podMs: number[] = [];
const recreateMs: number[] = [];
const memory: { rssKb: number; processes: number }[] = [];
for (let r = 0; r < runs; r++) {
  const t0 = performance.now();
  const lab = await Lab.up({ nodes: 2 });
  upMs.push(performance.now() - t0);
  try {
    podMs.push(...(await podStartLatencies(lab, r)));
    memory.push(nodeRssKb(lab, 'node-2'));
    recreateMs.push(await rebootRecreate(lab));
    say(
      `run ${r + 1}: up ${Math.round(upMs.at(-1) ?? 0)} ms, pods ${podMs.length}, node-2 ${Math.round((memory.at(-1)?.rssKb ?? 0) / 1024)} MB, reboot→recreated ${recreateMs.at(-1)} ms`,
    );
  } finally {
    await lab.down();
  }
}

const raceMs: number[] = [];
for (let r = 0; r < races; r++) {
  const t0 = performance.now();
  await runRebootRace({ ...REBOOT_RACE_DEFAULTS, faults: ['cni-config-persisted', 'early-pods-lose-route'] });
  raceMs.push(performance.now() - t0);
  say(`reboot-race ${r + 1}: ${Math.round(raceMs.at(-1) ?? 0)} ms`);
}

const round = (x: number): number => Math.round(x);
console.log(
  JSON.stringify(
    {
      labUpMs: { median: round(median(upMs)), samples: upMs.map(round), nodes: 2 },
      podCreateToReadyMs: {
        p50: round(q(podMs, 0.5)),
        p95: round(q(podMs, 0.95)),
        pods: podMs.length,
        image: labImageRef('tcp-server'),
        readinessProbe: 'tcpSocket, period 1 s',
      },
      rebootToAllPodsRecreatedMs: { median: round(median(recreateMs)), samples: recreateMs, delays: 0 },
      nodeMemory: {
        medianRssMB: round(median(memory.map((m) => m.rssKb)) / 1024),
        samples: memory,
        what: 'node-2 after pod starts: kubelet, containerd, shims, containers, CNI daemon, namespace holder',
      },
      rebootRaceWallMs: {
        median: round(median(raceMs)),
        samples: raceMs.map(round),
        params:
          'defaults (kube-proxy 20 s, CNI 10 s, 60 s window), faults cni-config-persisted,early-pods-lose-route',
      },
    },
    null,
    2,
  ),
);
