/**
 * The own-netns probe: runs a plan (core/probe-plan.ts) from inside a network namespace — a pod's,
 * or the node's for the node-level comparison — and reads its results.
 *
 * How: `nsenter --net=<path> -- <this node binary> <probe-child> <plan JSON>`. Only the network
 * namespace changes, so the probe runs the agent's own Node binary and needs no tool in the pod's
 * image or on the host beyond nsenter. The child (probe-child.ts) asks the DNS Service IP directly
 * rather than using `getent`: nsenter (unlike `ip netns exec`) does not bind-mount a per-namespace
 * resolv.conf, so `getent` would use the node's resolver, not the cluster DNS path under test.
 *
 * The located namespace's inode travels with the plan and the child checks it after entering: a
 * PID that exited and was reused between locating and probing gives `unknown`, never a probe of
 * the wrong namespace.
 *
 * Failure behaviour: every check has its own deadline inside the child, the child has an overall
 * deadline, output is capped, and anything that keeps the probe from running (namespace gone,
 * nsenter missing, garbage output) is `unknown`, which the repair policy never counts as evidence.
 */
import { fileURLToPath } from 'node:url';
import type { ProbeCheckOutcome, ProbeOutcome } from '../core/probe.ts';
import type { ProbePlan } from '../core/probe-plan.ts';
import { describeError } from '../errors.ts';
import { type ExecOptions, type ExecResult, run } from './exec.ts';
import type { NetnsLocation } from './netns-locator.ts';

/**
 * The child program's file: beside this module (`probe-child.ts` when run from source,
 * `probe-child.js` beside a bundle).
 */
export const PROBE_CHILD = fileURLToPath(
  new URL(import.meta.url.endsWith('.ts') ? './probe-child.ts' : './probe-child.js', import.meta.url),
);

/** Runs a program inside the network namespace at `netnsPath`. Never throws for a non-zero exit. */
export type NetnsExec = (
  netnsPath: string,
  argv: readonly string[],
  opts: ExecOptions,
) => Promise<ExecResult>;

/** NetnsExec over `nsenter --net=<path>` (needs CAP_SYS_ADMIN and, for /proc paths, hostPID). */
export const nsenterExec: NetnsExec = (netnsPath, argv, opts) => {
  const [cmd, ...args] = argv;
  return run('nsenter', [`--net=${netnsPath}`, '--', cmd ?? 'true', ...args], opts);
};

/** Why a probe result is what it is (CamelCase, for logs and /status). */
export type ProbeReason =
  | 'ProbeOk'
  | 'ProbeFailing'
  | 'NetnsNotFound'
  | 'NetnsChanged'
  | 'ProbeDidNotRun'
  | 'ProbeOutputInvalid';

/** A probe outcome with its reason. */
export interface NetnsProbeResult extends ProbeOutcome {
  readonly reason: ProbeReason;
}

const unknown = (reason: ProbeReason, detail: string): NetnsProbeResult => ({
  status: 'unknown',
  reason,
  checks: [],
  detail,
});

/** The child's `results`, or the unknown result explaining why there are none. */
function childResults(res: ExecResult): unknown[] | NetnsProbeResult {
  if (res.timedOut) return unknown('ProbeDidNotRun', `probe killed after ${Math.round(res.durationMs)} ms`);
  const line = res.stdout.trim().split('\n').pop() ?? '';
  let parsed: { results?: unknown; error?: unknown };
  try {
    parsed = JSON.parse(line) as { results?: unknown; error?: unknown };
  } catch {
    const why = (res.stderr.trim().split('\n')[0] ?? '') || `exit ${res.code ?? res.signal}, no output`;
    return unknown('ProbeDidNotRun', why);
  }
  const error = typeof parsed?.error === 'string' ? (parsed.error.split('\n')[0] ?? '') : undefined;
  if (res.code === 3 && error !== undefined) return unknown('NetnsChanged', `namespace changed: ${error}`);
  if (res.code !== 0 || !Array.isArray(parsed?.results)) {
    return unknown('ProbeOutputInvalid', error ?? `exit ${res.code}`);
  }
  return parsed.results;
}

/** Turns the child's exit and output into a result (pure; the contract of probe-child.ts's output). */
export function probeResultFromExec(p: ProbePlan, res: ExecResult): NetnsProbeResult {
  const results = childResults(res);
  if (!Array.isArray(results)) return results;
  const byKey = new Map<string, { ok: boolean; detail: string }>();
  for (const r of results as { key?: unknown; ok?: unknown; detail?: unknown }[]) {
    if (typeof r?.key === 'string' && typeof r.ok === 'boolean' && typeof r.detail === 'string') {
      byKey.set(r.key, { ok: r.ok, detail: r.detail });
    }
  }
  const checks: ProbeCheckOutcome[] = [];
  for (const c of p.checks) {
    const r = byKey.get(c.key);
    if (!r) return unknown('ProbeOutputInvalid', `no result for ${c.key}`);
    checks.push({ key: c.key, ok: r.ok, core: c.core, detail: r.detail });
  }
  const failed = checks.filter((c) => !c.ok);
  return failed.length === 0
    ? { status: 'ok', reason: 'ProbeOk', checks, detail: `${checks.length} check(s) ok` }
    : { status: 'failing', reason: 'ProbeFailing', checks, detail: failed.map((c) => c.detail).join('; ') };
}

/** Dependencies of the probe; defaults are the real ones. */
export interface ProbeDeps {
  readonly exec?: NetnsExec;
  /** The Node binary the child runs (default: this process's). */
  readonly nodeBinary?: string;
  /** The child program (default: {@link PROBE_CHILD}). */
  readonly childScript?: string;
}

/** Runs `plan` inside the namespace at `location`. Never throws. */
export async function probeNetns(
  location: NetnsLocation,
  p: ProbePlan,
  deps: ProbeDeps = {},
): Promise<NetnsProbeResult> {
  const exec = deps.exec ?? nsenterExec;
  const input = JSON.stringify({ ...p, expectNetns: location.netnsId });
  // A name target resolves then connects: two deadlines, plus Node's start-up.
  const timeoutMs = 2 * p.timeoutMs + 3_000;
  try {
    const res = await exec(
      location.path,
      [
        deps.nodeBinary ?? process.execPath,
        '--max-old-space-size=32',
        deps.childScript ?? PROBE_CHILD,
        input,
      ],
      // No NODE_OPTIONS or loaders of the parent: the child needs only Node's built-ins.
      { timeoutMs, maxOutputBytes: 256 * 1024, env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } },
    );
    return probeResultFromExec(p, res);
  } catch (err) {
    return unknown('ProbeDidNotRun', describeError(err));
  }
}

/** One pod to probe. */
export interface PodProbeTarget {
  readonly uid: string;
  readonly plan: ProbePlan;
}

/**
 * Probes pods with at most `concurrency` children at once (each is a Node process of ~30 MB for
 * a few hundred ms), by uid. Pods the locator did not find are `unknown`/`NetnsNotFound`.
 */
export async function probePods(
  pods: readonly PodProbeTarget[],
  locations: ReadonlyMap<string, NetnsLocation>,
  opts: ProbeDeps & { readonly concurrency?: number } = {},
): Promise<Map<string, NetnsProbeResult>> {
  const out = new Map<string, NetnsProbeResult>();
  const queue = [...pods];
  const worker = async (): Promise<void> => {
    for (let t = queue.shift(); t !== undefined; t = queue.shift()) {
      const loc = locations.get(t.uid);
      out.set(
        t.uid,
        loc
          ? await probeNetns(loc, t.plan, opts)
          : unknown('NetnsNotFound', `no network namespace found for pod ${t.uid}`),
      );
    }
  };
  const n = Math.max(1, Math.min(opts.concurrency ?? 4, pods.length));
  await Promise.all(Array.from({ length: n }, worker));
  return out;
}
