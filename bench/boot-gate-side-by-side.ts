/**
 * The three layers side by side: reboot-race with cni-config-persisted and early-pods-lose-route,
 * N runs of gate + repair (`--netwarden on`) and N of gate + repair + boot gate (`--boot-gate on`),
 * interleaved (same seeds, same machine load). Per mode: pods broken at the end, pods recycled,
 * pods whose network was set up before the data path was ready, and reboot → all pods Ready, as
 * medians (with min–max). Asserts nothing; each run is one full lab (~2 min on 2 shared cores).
 * Every run's figures go to stderr as one JSON line as soon as it ends (a cut-short bench keeps them).
 * The CNI is ready 20 s and kube-proxy 30 s after the reboot by default (reboot-race's own: 10 s and
 * 20 s): on a loaded machine the kubelet can take over 10 s to recreate the pods, and then none is
 * set up before the CNI is ready and the fault does not bite.
 * Usage: sudo node_modules/.bin/node bench/boot-gate-side-by-side.ts [--runs 10] [--observe 90s]
 *        [--cni-ready-delay 20s] [--kube-proxy-delay 30s] [--output json]
 */
import { parseArgs } from 'node:util';
import { parseDuration } from '../src/core/duration.ts';
import {
  REBOOT_RACE_DEFAULTS,
  type RebootRaceParams,
  type RebootRaceReport,
  runRebootRace,
} from '../src/lab/scenarios/reboot-race.ts';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '10' },
    observe: { type: 'string', default: '90s' },
    'cni-ready-delay': { type: 'string', default: '20s' },
    'kube-proxy-delay': { type: 'string', default: '30s' },
    output: { type: 'string', default: 'text' },
  },
});
const runs = Number(values.runs);
const observeMs = parseDuration(values.observe ?? '90s');
const cniReadyDelayMs = parseDuration(values['cni-ready-delay'] ?? '20s');
const kubeProxyDelayMs = parseDuration(values['kube-proxy-delay'] ?? '30s');
if (
  !Number.isInteger(runs) ||
  runs < 1 ||
  typeof observeMs !== 'number' ||
  typeof cniReadyDelayMs !== 'number' ||
  typeof kubeProxyDelayMs !== 'number'
) {
  console.error(
    'usage: bench/boot-gate-side-by-side.ts [--runs N] [--observe 90s] [--cni-ready-delay 20s] [--kube-proxy-delay 30s] [--output json]',
  );
  process.exit(2);
}
const base: RebootRaceParams = {
  ...REBOOT_RACE_DEFAULTS,
  faults: ['cni-config-persisted', 'early-pods-lose-route'],
  tcpServers: 4,
  observeMs,
  cniReadyDelayMs,
  kubeProxyDelayMs,
  netwarden: true,
  // Both modes run the agents as lab programs: the lab's boot gate needs that, and the comparison
  // must differ in the boot gate alone.
  agentDeploy: 'process',
};
const MODES = { 'gate+repair': false, 'gate+repair+boot-gate': true } as const;
type Mode = keyof typeof MODES;

/** One run's figures. */
interface RunFigures {
  mode: Mode;
  seed: number;
  /** Pods not Ready at the end (after repair: the pod without a controller, which it only reports). */
  brokenPods: number;
  /** Pods whose own-namespace probe failed the moment the data path was ready (before any repair). */
  brokenAtDataPathReady: number;
  recycled: number;
  /** Pods of the rebooted node whose network was set up before the lab saw the data path ready. */
  setUpEarly: number;
  /** Reboot → every pod Ready (null: not within the window). */
  allReadyAtMs: number | null;
  dataPathReadyAtMs: number | null;
  gateOpenedAtMs: number | null;
  bootGate: RebootRaceReport['summary']['bootGate'] | null;
  wallMs: number;
}

function figures(mode: Mode, seed: number, r: RebootRaceReport, wallMs: number): RunFigures {
  const s = r.summary;
  const ready = s.dataPathReadyAtMs ?? Number.POSITIVE_INFINITY;
  return {
    mode,
    seed,
    brokenPods: s.brokenPods.length,
    brokenAtDataPathReady: r.pods.filter((p) => p.brokenAfterDataPathReady === true).length,
    recycled: s.recycled?.length ?? 0,
    setUpEarly: r.pods.filter(
      (p) => !p.name.startsWith('kube-system/') && p.networkSetUpAtMs !== null && p.networkSetUpAtMs < ready,
    ).length,
    allReadyAtMs: s.allReadyAtMs,
    dataPathReadyAtMs: s.dataPathReadyAtMs,
    gateOpenedAtMs: s.gateOpenedAtMs ?? null,
    bootGate: s.bootGate ?? null,
    wallMs,
  };
}

const median = (xs: readonly number[]): number | null => {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] ?? null) : ((s[m - 1] ?? 0) + (s[m] ?? 0)) / 2;
};
const range = (xs: readonly number[]): [number, number] | null =>
  xs.length === 0 ? null : [Math.min(...xs), Math.max(...xs)];

const all: RunFigures[] = [];
for (let i = 0; i < runs; i++) {
  for (const [mode, bootGate] of Object.entries(MODES) as [Mode, boolean][]) {
    const t0 = performance.now();
    try {
      const r = await runRebootRace({ ...base, bootGate, seed: i + 1 });
      const f = figures(mode, i + 1, r, Math.round(performance.now() - t0));
      all.push(f);
      console.error(JSON.stringify(f));
    } catch (err) {
      console.error(`${mode} #${i + 1} failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
}

const summary = Object.fromEntries(
  (Object.keys(MODES) as Mode[]).map((mode) => {
    const rs = all.filter((r) => r.mode === mode);
    const ready = rs.map((r) => r.allReadyAtMs).filter((x): x is number => x !== null);
    const pick = (k: 'brokenPods' | 'brokenAtDataPathReady' | 'recycled' | 'setUpEarly') =>
      rs.map((r) => r[k]);
    return [
      mode,
      {
        runs: rs.length,
        brokenPods: { median: median(pick('brokenPods')), range: range(pick('brokenPods')) },
        brokenAtDataPathReady: {
          median: median(pick('brokenAtDataPathReady')),
          range: range(pick('brokenAtDataPathReady')),
        },
        recycled: { median: median(pick('recycled')), range: range(pick('recycled')) },
        setUpEarly: { median: median(pick('setUpEarly')), range: range(pick('setUpEarly')) },
        allReadyAtMs: {
          median: median(ready),
          range: range(ready),
          notWithinWindow: rs.length - ready.length,
        },
      },
    ];
  }),
);

if (values.output === 'json') {
  console.log(
    JSON.stringify(
      { observeMs, cniReadyDelayMs, kubeProxyDelayMs, faults: base.faults, summary, runs: all },
      null,
      2,
    ),
  );
} else {
  const fmt = (m: { median: number | null; range: [number, number] | null }, unit = ''): string =>
    m.median === null ? '–' : `${m.median}${unit} (${m.range?.[0]}–${m.range?.[1]})`;
  for (const [mode, s] of Object.entries(summary)) {
    console.log(
      `${mode.padEnd(22)} runs ${s.runs}: broken when the data path was ready ${fmt(s.brokenAtDataPathReady)}, at the end ${fmt(s.brokenPods)}, recycled ${fmt(s.recycled)}, set up before the data path ${fmt(s.setUpEarly)}, reboot → all Ready ${fmt(s.allReadyAtMs, ' ms')}${s.allReadyAtMs.notWithinWindow ? ` (${s.allReadyAtMs.notWithinWindow} not within ${observeMs / 1000} s)` : ''}`,
    );
  }
}
