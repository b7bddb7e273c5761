/**
 * Agent steady-state cost: CPU (its own and its children's: iptables-save, nft) and RSS while the
 * gate is open, at 1,000 and then 10,000 ClusterIP Services (5 endpoints each), programmed by the
 * lab's real kube-proxy. Prints figures only.
 * With --save DIR, also records the last step's ruleset for bench/doctor-parse.ts (see lib/ruleset.ts).
 * Usage: sudo node_modules/.bin/node bench/agent-steady.ts [--steps 1000,10000] [--window 60s] [--save DIR]
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parseDuration } from '../src/core/duration.ts';
import { CONDITION_TYPE } from '../src/core/gate.ts';
import { Lab } from '../src/lab/lab.ts';
import { createSyntheticServices } from '../src/lab/scale.ts';
import { waitFor } from '../src/lab/wait.ts';
import { recordRuleset, waitProgrammed } from './lib/ruleset.ts';

const { values } = parseArgs({
  options: {
    steps: { type: 'string', default: '1000,10000' },
    window: { type: 'string', default: '60s' },
    save: { type: 'string' },
  },
});
const steps = (values.steps ?? '').split(',').map(Number);
const windowMs = parseDuration(values.window ?? '60s') as number;
const TICKS = 100; // USER_HZ

/** utime+stime and cutime+cstime (seconds) and RSS (MB) of a process. */
function usage(pid: number): { self: number; children: number; rssMb: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat
    .slice(stat.lastIndexOf(')') + 2)
    .split(' ')
    .map(Number);
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rssKb = Number(status.match(/VmRSS:\s+(\d+)/)?.[1] ?? 0);
  // fields after ")": state=0 … utime=11 stime=12 cutime=13 cstime=14
  return {
    self: ((f[11] ?? 0) + (f[12] ?? 0)) / TICKS,
    children: ((f[13] ?? 0) + (f[14] ?? 0)) / TICKS,
    rssMb: rssKb / 1024,
  };
}

const lab = await Lab.up({ nodes: 1, netwarden: {}, log: (l) => console.error(l) });
try {
  const node = lab.node('node-1');
  let created = 0;
  for (const total of steps) {
    await createSyntheticServices(lab.admin.objects, 'bench', total - created, 5, {
      concurrency: 24,
      onProgress: (n) => console.error(`  +${n}`),
      startAt: created,
    });
    created = total;
    console.error(`${total} services created; waiting for kube-proxy and the gate`);
    await waitProgrammed(lab, 'node-1');
    await waitFor(
      'the gate open',
      async () =>
        (await lab.admin.nodes.get('node-1'))?.status?.conditions?.find((c) => c.type === CONDITION_TYPE)
          ?.status === 'True',
      10 * 60_000,
      1_000,
    );
    await new Promise((r) => setTimeout(r, 15_000)); // let the Service churn settle
    const pid = node.agent?.pid;
    if (!pid) throw new Error('no agent process');
    const a = usage(pid);
    let maxRss = a.rssMb;
    const t0 = performance.now();
    while (performance.now() - t0 < windowMs) {
      await new Promise((r) => setTimeout(r, 1_000));
      maxRss = Math.max(maxRss, usage(pid).rssMb);
    }
    const b = usage(pid);
    const secs = (performance.now() - t0) / 1000;
    console.log(
      `${total} Services × 5 endpoints, gate open, ${Math.round(secs)} s window: agent CPU ${(((b.self - a.self) / secs) * 100).toFixed(2)}% of a core ` +
        `(+ ${(((b.children - a.children) / secs) * 100).toFixed(2)}% in its children: iptables-save/nft), RSS ${Math.round(b.rssMb)} MB (max ${Math.round(maxRss)} MB)`,
    );
  }
  if (values.save) {
    mkdirSync(values.save, { recursive: true });
    await recordRuleset(lab, 'node-1', values.save);
  }
} finally {
  await lab.down();
}
