/**
 * Lab benchmarks (figures only, no assertions): lab up time (2 nodes), pod start latency
 * (API create → Ready observed by a watch), and reboot-race wall time.
 * Usage: sudo node_modules/.bin/node bench/lab.ts [--runs 3] [--pods 6]
 */
import { parseArgs } from 'node:util';
import type { Pod } from '../src/core/objects.ts';
import { Lab } from '../src/lab/lab.ts';
import { REBOOT_RACE_DEFAULTS, runRebootRace } from '../src/lab/scenarios/reboot-race.ts';

const { values } = parseArgs({
  options: { runs: { type: 'string', default: '3' }, pods: { type: 'string', default: '6' } },
});
const runs = Number(values.runs);
const podCount = Number(values.pods);

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] ?? 0) : ((s[m - 1] ?? 0) + (s[m] ?? 0)) / 2;
};
const p = (xs: number[], q: number): number =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))] ?? 0;

const upTimes: number[] = [];
const podLatencies: number[] = [];
for (let r = 0; r < runs; r++) {
  const t0 = performance.now();
  const lab = await Lab.up({ nodes: 2 });
  upTimes.push(performance.now() - t0);
  try {
    const created = new Map<string, number>();
    const ready = new Map<string, number>();
    const watch = await lab.admin.pods.watch(
      {
        onEvent: (ev) => {
          const name = ev.object.metadata?.name ?? '';
          if (
            !ready.has(name) &&
            ev.object.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')
          ) {
            ready.set(name, performance.now());
          }
        },
      },
      { labelSelector: 'bench=start' },
    );
    for (let i = 0; i < podCount; i++) {
      const name = `start-${r}-${i}`;
      const pod: Pod & { apiVersion: string; kind: string } = {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name, namespace: 'default', labels: { bench: 'start' } },
        spec: {
          automountServiceAccountToken: false,
          containers: [
            {
              name: 'c',
              image: 'lab/tcp-server',
              ports: [{ containerPort: 8080 }],
              readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1 },
            },
          ],
        },
      };
      created.set(name, performance.now());
      await lab.admin.objects.create(pod as never);
    }
    const deadline = Date.now() + 120_000;
    while (ready.size < podCount && Date.now() < deadline) await new Promise((res) => setTimeout(res, 50));
    await watch.stop();
    for (const [name, t] of created) {
      const r2 = ready.get(name);
      if (r2 !== undefined) podLatencies.push(r2 - t);
    }
  } finally {
    await lab.down();
  }
}

const rrTimes: number[] = [];
for (let r = 0; r < Math.min(runs, 2); r++) {
  const t0 = performance.now();
  await runRebootRace({
    ...REBOOT_RACE_DEFAULTS,
    faults: ['early-pods-lose-route'],
    timeScale: 0.2,
    observeMs: 25_000,
  });
  rrTimes.push(performance.now() - t0);
}

const s = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
console.log(
  `lab up (2 nodes, control plane + CoreDNS Ready): median ${s(median(upTimes))} over ${upTimes.length} runs (min ${s(Math.min(...upTimes))}, max ${s(Math.max(...upTimes))})`,
);
console.log(
  `pod start latency (create → Ready, lab/tcp-server with a 1 s tcpSocket probe): median ${Math.round(median(podLatencies))} ms, p95 ${Math.round(p(podLatencies, 0.95))} ms over ${podLatencies.length} pods`,
);
console.log(
  `reboot-race wall time (early-pods-lose-route, 25 s window, time scale 0.2): median ${s(median(rrTimes))} over ${rrTimes.length} runs`,
);
