/**
 * Recovery benchmark: reboot-race with cni-config-persisted and early-pods-lose-route, N runs with netwarden on and N with
 * it off. With netwarden, how long after the data path was ready were all pods Ready again
 * (recoveredMsAfterDataPathReady, replacements' start included)? Without, did they recover within
 * the window at all? Prints medians and p95 side by side; asserts nothing.
 * Usage: sudo node_modules/.bin/node bench/recovery.ts [--runs 10] [--observe 60s]
 */
import { parseArgs } from 'node:util';
import { parseDuration } from '../src/core/duration.ts';
import {
  REBOOT_RACE_DEFAULTS,
  type RebootRaceParams,
  runRebootRace,
} from '../src/lab/scenarios/reboot-race.ts';

const { values } = parseArgs({
  options: { runs: { type: 'string', default: '10' }, observe: { type: 'string', default: '60s' } },
});
const runs = Number(values.runs);
const observeMs = parseDuration(values.observe ?? '60s') as number;
const base: RebootRaceParams = {
  ...REBOOT_RACE_DEFAULTS,
  faults: ['cni-config-persisted', 'early-pods-lose-route'],
  tcpServers: 4,
  observeMs,
};

const q = (xs: number[], p: number): number =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))] ?? Number.NaN;
const on: number[] = [];
const reaction: number[] = [];
let onNotRecovered = 0;
let offRecovered = 0;
const offBroken: number[] = [];
for (let i = 0; i < runs; i++) {
  const r = await runRebootRace({ ...base, netwarden: true, seed: i + 1 });
  const s = r.summary;
  if (s.recoveredMsAfterDataPathReady != null) on.push(s.recoveredMsAfterDataPathReady);
  else onNotRecovered++;
  if (s.gateReactionMs != null) reaction.push(s.gateReactionMs);
  console.error(
    `on  #${i + 1}: recovered ${s.recoveredMsAfterDataPathReady ?? 'never'} ms after data path ready; recycled ${s.recycled?.length ?? 0}; PDB violations ${s.pdbViolations}; gate reaction ${s.gateReactionMs} ms`,
  );
  const off = await runRebootRace({ ...base, netwarden: false, seed: i + 1 });
  if (off.summary.allReadyAtMs !== null) offRecovered++;
  offBroken.push(off.summary.brokenPods.length);
  console.error(
    `off #${i + 1}: all Ready ${off.summary.allReadyAtMs ?? 'never'} within ${observeMs} ms; ${off.summary.brokenPods.length} pod(s) still broken at the end`,
  );
}
console.log(
  `recoveredMsAfterDataPathReady with netwarden on: median ${q(on, 0.5)} ms, p95 ${q(on, 0.95)} ms over ${on.length} runs (${onNotRecovered} did not recover within ${observeMs / 1000} s)`,
);
console.log(`gate reaction in the same runs: median ${q(reaction, 0.5)} ms, p95 ${q(reaction, 0.95)} ms`);
console.log(
  `with netwarden off: recovered within ${observeMs / 1000} s in ${offRecovered} of ${runs} runs; broken pods at the end: median ${q(offBroken, 0.5)}`,
);
