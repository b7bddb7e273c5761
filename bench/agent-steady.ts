/**
 * Agent steady-state cost: CPU (its own and its children's: iptables-save, iptables, ip, sh) and
 * RSS while the gate is open, at N ClusterIP Services × 5 endpoints programmed by the lab's real
 * kube-proxy. Prints figures only.
 *
 * RSS is sampled every second over the window: `rssMb` is the median (steady), `peakRssMb` the
 * highest sample; `anonRssMb` / `fileRssMb` split the median into anonymous memory (V8's heap,
 * malloc) and mapped files (mostly the node binary's own pages, shared and clean). Five seconds
 * into the window one more Service is created, so the window holds at least one full rule read
 * (the agent reads everything once a change has settled, and every 5 min). The window of the agent
 * as the lab started it begins once two rounds have ended after the setup's Service churn settled,
 * so that the setup's own last full read stays outside it (a restarted agent's begins 60 s after
 * its first full read).
 *
 * `nftListings` counts the steady rounds' nftables listings over the window from the agent's own
 * netwarden_nft_listings_total: `reused` while the ruleset generation stood, `listed` otherwise.
 * `programsStarted` counts the programs the agent started over the window, by name, from its
 * netwarden_programs_started_total: `iptables-nft-save` once per full rule read, which at many
 * Services is most of `childCpuPercent`.
 * `fullReadsSeenAtS`: when those reads started (seconds into the window, to within the 10 s
 * between looks at the counter; the looks run in the node, not in the agent). `rounds`: the
 * window's rounds by verdict (netwarden_rounds_total): a round that is not ok makes the next
 * one a full read, which says where a window's extra full read came from.
 *
 * Usage: sudo node_modules/.bin/node bench/agent-steady.ts [--services 1000] [--window 10m]
 *   [--entry FILE | --bundle] [--flags=FLAGS ...] [--output text|json] [--save DIR]
 *   --entry runs the agent from FILE (e.g. the image's bundle); --bundle builds the stand-in of
 *   the image's bundle first (bench/lib/bundle.ts); default: the unbundled TypeScript sources.
 *   --flags=FLAGS (repeatable; FLAGS space-separated, `--flags=` for none): one window per
 *   --flags, in the same lab one after another, the agent restarted with FLAGS after the shipped
 *   Node.js flags (src/packaging/runtime.ts; V8 takes the last of a repeated flag). A word
 *   `NAME=value` (e.g. `MALLOC_MMAP_THRESHOLD_=32768`) is an environment variable instead, added
 *   to the shipped environment. Weighs a runtime setting against what ships on the same Services
 *   and kube-proxy; prints one result per window (a JSON array), each naming its `nodeFlags` and
 *   `nodeEnv`. A restarted agent is measured from its first full read plus 60 s.
 *   --compare-entry FILE (repeatable; not with --flags): weighs another build of the agent (e.g.
 *   an older commit's bundle) on the same Services and kube-proxy: windows of the lab's entry,
 *   then one per FILE, then the lab's entry again (drift between windows shows in its pair), each
 *   agent restarted with the shipped flags. Prints a JSON array, each window naming its `entry`.
 *   An older commit's bundle: in a `git worktree` of it (with node_modules linked in), run
 *   `node -e "import('./bench/lib/bundle.ts').then((m) => m.bundleCli()).then(console.log)"`.
 *   --save DIR also records the node's ruleset for bench/doctor-parse.ts (see lib/ruleset.ts).
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { parseDuration } from '../src/core/duration.ts';
import { CONDITION_TYPE } from '../src/core/gate.ts';
import { Lab } from '../src/lab/lab.ts';
import { inNetns } from '../src/lab/network.ts';
import type { AgentRuntimeVariant, LabNode } from '../src/lab/node.ts';
import { createSyntheticServices } from '../src/lab/scale.ts';
import { waitFor } from '../src/lab/wait.ts';
import { parsePrometheusText } from '../src/sources/kube-proxy-metrics.ts';
import { bundleCli } from './lib/bundle.ts';
import { recordRuleset, waitProgrammed } from './lib/ruleset.ts';

const { values } = parseArgs({
  options: {
    services: { type: 'string', default: '1000' },
    window: { type: 'string', default: '10m' },
    entry: { type: 'string' },
    bundle: { type: 'boolean', default: false },
    output: { type: 'string', default: 'text' },
    save: { type: 'string' },
    flags: { type: 'string', multiple: true },
    'compare-entry': { type: 'string', multiple: true },
  },
});
/**
 * One measured window: the agent restarted as the variant says (src/lab/node.ts); `undefined`: the
 * agent as the lab started it.
 */
type Variant = AgentRuntimeVariant | undefined;
/** An environment variable's word in --flags. */
const ENV_WORD = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/;
/** One --flags value as a variant: `--` words are Node.js flags, `NAME=value` words environment. */
function flagsVariant(value: string): AgentRuntimeVariant {
  const flags: string[] = [];
  const env: Record<string, string> = {};
  for (const word of value.split(/\s+/).filter(Boolean)) {
    const kv = ENV_WORD.exec(word);
    if (kv) env[kv[1] as string] = kv[2] as string;
    else if (word.startsWith('--')) flags.push(word);
    else
      throw new Error(
        `--flags: "${word}" is neither a Node.js flag (--name) nor an environment variable (NAME=value)`,
      );
  }
  return { flags, env };
}
const compareEntries = values['compare-entry'] ?? [];
if (compareEntries.length > 0 && values.flags?.length)
  throw new Error('--compare-entry and --flags exclude each other (weigh one thing per lab)');
for (const f of compareEntries) if (!existsSync(f)) throw new Error(`--compare-entry: "${f}" does not exist`);
const variants: readonly Variant[] = compareEntries.length
  ? [{}, ...compareEntries.map((entry) => ({ entry })), {}]
  : values.flags?.length
    ? values.flags.map(flagsVariant)
    : [undefined];
const services = Number(values.services);
if (!Number.isInteger(services) || services < 1)
  throw new Error(`--services must be a positive integer, got "${values.services}"`);
const parsedWindow = parseDuration(values.window ?? '');
if (typeof parsedWindow !== 'number' || parsedWindow <= 0)
  throw new Error(`--window: "${values.window}" is not a duration`);
const windowMs: number = parsedWindow;
if (values.output !== 'text' && values.output !== 'json') throw new Error('--output must be text or json');
if (values.entry && values.bundle) throw new Error('--entry and --bundle exclude each other');
const TICKS = 100; // USER_HZ

/** utime+stime and cutime+cstime (seconds) and RSS (MB) of a process. */
function usage(pid: number): {
  self: number;
  children: number;
  rssMb: number;
  anonMb: number;
  fileMb: number;
} {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat
    .slice(stat.lastIndexOf(')') + 2)
    .split(' ')
    .map(Number);
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(status.match(new RegExp(`${field}:\\s+(\\d+)`))?.[1] ?? 0);
  // fields after ")": state=0 … utime=11 stime=12 cutime=13 cstime=14
  return {
    self: ((f[11] ?? 0) + (f[12] ?? 0)) / TICKS,
    children: ((f[13] ?? 0) + (f[14] ?? 0)) / TICKS,
    rssMb: kb('VmRSS') / 1024,
    // Anonymous memory (V8's heap, malloc) apart from mapped files (mostly the node binary's pages).
    anonMb: kb('RssAnon') / 1024,
    fileMb: (kb('RssFile') + kb('RssShmem')) / 1024,
  };
}

/**
 * The agent's counters read from its /metrics inside the node: netwarden_nft_listings_total by
 * outcome, netwarden_programs_started_total by program and netwarden_rounds_total by verdict.
 */
async function agentCounters(netns: string): Promise<{
  nft: Record<string, number>;
  programs: Record<string, number>;
  rounds: Record<string, number>;
}> {
  const script =
    "fetch('http://127.0.0.1:9746/metrics').then((r) => r.text()).then((t) => process.stdout.write(t))";
  const text = await inNetns(netns, process.execPath, ['-e', script]);
  const out = {
    nft: {} as Record<string, number>,
    programs: {} as Record<string, number>,
    rounds: {} as Record<string, number>,
  };
  for (const s of parsePrometheusText(text).samples) {
    if (s.name === 'netwarden_nft_listings_total') out.nft[s.labels.outcome ?? '?'] = s.value;
    if (s.name === 'netwarden_programs_started_total') out.programs[s.labels.program ?? '?'] = s.value;
    if (s.name === 'netwarden_rounds_total') out.rounds[s.labels.verdict ?? '?'] = s.value;
  }
  return out;
}

/** `after - before` per key (keys of `after`; a counter first seen in the window counts from 0). */
const delta = (before: Record<string, number>, after: Record<string, number>): Record<string, number> =>
  Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - (before[k] ?? 0)]));

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};
const log = (l: string): void => void process.stderr.write(`${l}\n`);

/** How a window's agent was restarted, for its JSON: `nodeFlags` (with --flags), `nodeEnv` (when any). */
function variantFields(variant: Variant): { nodeFlags?: string; nodeEnv?: string } {
  if (!variant) return {};
  const env = envWords(variant.env);
  return {
    ...(values.flags?.length ? { nodeFlags: (variant.flags ?? []).join(' ') } : {}),
    ...(env ? { nodeEnv: env } : {}),
  };
}

/** The same for the window's line of text. */
function variantText(variant: Variant): string {
  if (!variant) return '';
  const env = envWords(variant.env);
  return (
    (variant.entry ? ` (from ${variant.entry})` : '') +
    (values.flags?.length
      ? ` (node flags after the shipped ones: ${variant.flags?.join(' ') || 'none'})`
      : '') +
    (env ? ` (environment added: ${env})` : '')
  );
}

/**
 * One window: the agent's CPU, RSS and counters while one more Service (index `pokeIndex`) is
 * created 5 s in. `variant`: how it was restarted (undefined: as the lab started it).
 */
async function measureWindow(
  lab: Lab,
  node: LabNode,
  variant: Variant,
  pokeIndex: number,
): Promise<Record<string, unknown>> {
  const pid = node.agent?.pid;
  if (!pid) throw new Error('no agent process');
  log(`gate open; measuring agent ${pid} for ${windowMs / 1000} s`);
  const countersBefore = await agentCounters(node.netns);
  const a = usage(pid);
  const samples: number[] = [a.rssMb];
  const anon: number[] = [a.anonMb];
  const file: number[] = [a.fileMb];
  const t0 = performance.now();
  let poked = false;
  let lastLook = t0;
  let lastSaves = countersBefore.programs['iptables-nft-save'] ?? 0;
  const fullReadsSeenAtS: number[] = [];
  while (performance.now() - t0 < windowMs) {
    await new Promise((r) => setTimeout(r, 1_000));
    const u = usage(pid);
    samples.push(u.rssMb);
    anon.push(u.anonMb);
    file.push(u.fileMb);
    if (!poked && performance.now() - t0 > 5_000) {
      poked = true;
      await createSyntheticServices(lab.admin.objects, 'bench', 1, 5, { startAt: pokeIndex });
    }
    // Every 10 s: did a full rule read start since the last look (its iptables-nft-save)?
    if (performance.now() - lastLook >= 10_000) {
      lastLook = performance.now();
      const saves = (await agentCounters(node.netns)).programs['iptables-nft-save'] ?? 0;
      if (saves > lastSaves) fullReadsSeenAtS.push(Math.round((lastLook - t0) / 1000));
      lastSaves = saves;
    }
  }
  const b = usage(pid);
  const secs = (performance.now() - t0) / 1000;
  const countersAfter = await agentCounters(node.netns);
  const nftDelta = Object.fromEntries(
    ['reused', 'listed'].map((k) => [k, (countersAfter.nft[k] ?? 0) - (countersBefore.nft[k] ?? 0)]),
  );
  const programs = delta(countersBefore.programs, countersAfter.programs);
  const rounds = delta(countersBefore.rounds, countersAfter.rounds);
  const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;
  const result = {
    services,
    ...variantFields(variant),
    windowS: Math.round(secs),
    rssMb: round(median(samples), 1),
    peakRssMb: round(Math.max(...samples), 1),
    anonRssMb: round(median(anon), 1),
    peakAnonRssMb: round(Math.max(...anon), 1),
    fileRssMb: round(median(file), 1),
    cpuPercent: round(((b.self - a.self) / secs) * 100),
    childCpuPercent: round(((b.children - a.children) / secs) * 100),
    nftListings: nftDelta,
    // iptables-nft-save: one per full rule read (the costliest program at many Services).
    programsStarted: programs,
    // When (s into the window, to within 10 s) a full read was seen to have started.
    fullReadsSeenAtS,
    // Rounds by verdict: a round that is not ok makes the next one read everything.
    rounds,
    entry: variant?.entry ?? entry ?? 'src/cli/main.ts',
    loadavg1: round(loadavg()[0] ?? 0),
  };
  // Text: the figures on stdout; JSON: the same line on stderr as each window ends (a run of
  // several windows prints its JSON only at the end).
  (values.output === 'json' ? log : console.log)(
    `${services} Services × 5 endpoints, gate open, ${result.windowS} s window` +
      `${variantText(variant)}: ` +
      `agent CPU ${result.cpuPercent}% of a core ` +
      `(+ ${result.childCpuPercent}% in its children), RSS ${result.rssMb} MB median (peak ${result.peakRssMb} MB); ` +
      `nftables listings reused ${nftDelta.reused}, listed ${nftDelta.listed}; programs started ${JSON.stringify(programs)}; ` +
      `rounds ${JSON.stringify(rounds)}; ` +
      `load average ${result.loadavg1}`,
  );
  return result;
}

/** Waits (at most 10 min) for the node's DataPathReady condition to be True. */
async function waitGateOpen(lab: Lab, nodeName: string): Promise<void> {
  await waitFor(
    'the gate open',
    async () =>
      (await lab.admin.nodes.get(nodeName))?.status?.conditions?.find((c) => c.type === CONDITION_TYPE)
        ?.status === 'True',
    10 * 60_000,
    1_000,
  );
}

/** An environment as `NAME=value` words. */
function envWords(env: Readonly<Record<string, string>> = {}): string {
  return Object.entries(env)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
}

/**
 * Restarts the agent as `variant` says (Node.js flags after the shipped ones, environment added to
 * the shipped one, another entry) and waits until it has made its first full rule read (an
 * iptables-nft-save started) and the gate is open, then 60 s more.
 */
async function restartAgent(lab: Lab, node: LabNode, variant: AgentRuntimeVariant): Promise<void> {
  await node.stopAgent();
  await node.startAgent([], variant);
  const how = [...(variant.flags ?? []), envWords(variant.env)].filter(Boolean).join(' ');
  log(
    `agent restarted${variant.entry ? ` from ${variant.entry}` : ''} with ${how || 'the shipped flags only'}`,
  );
  await waitFor(
    "the restarted agent's first full read",
    async () =>
      ((await agentCounters(node.netns).catch(() => undefined))?.programs['iptables-nft-save'] ?? 0) >= 1,
    5 * 60_000,
    2_000,
  );
  await waitGateOpen(lab, node.name);
  await new Promise((r) => setTimeout(r, 60_000));
}

/**
 * Waits (at most 3 min) until the agent has ended two rounds from now: the second started after
 * the first ended, so after the setup's Service churn had settled. The Services that settled last
 * move the cluster generation, and the round that first sees it makes a full rule read; without
 * this wait that read, the setup's and not the steady state's, fell into the window of the agent
 * as the lab started it (two full reads where a restarted agent's window held one).
 */
async function waitRoundsAfterChurn(node: LabNode): Promise<void> {
  const rounds = async () =>
    Object.values((await agentCounters(node.netns)).rounds).reduce((a, b) => a + b, 0);
  const start = await rounds();
  await waitFor(
    'two steady rounds after the Service churn settled',
    async () => (await rounds()) >= start + 2,
    3 * 60_000,
    2_000,
  );
}

const entry = values.bundle ? await bundleCli() : values.entry;
if (entry) log(`agent entry: ${entry}`);
let labRef: Lab | undefined;
for (const sig of ['SIGINT', 'SIGTERM'] as const)
  process.once(sig, () => {
    log(`${sig}: taking the lab down`);
    // Before the lab is up, its run has no owner left once we exit: the next lab command removes it.
    void (labRef?.down() ?? Promise.resolve()).finally(() => process.exit(130));
  });
const lab = await Lab.up({ nodes: 1, netwarden: entry ? { entry } : {}, log });
labRef = lab;
try {
  const node = lab.node('node-1');
  await createSyntheticServices(lab.admin.objects, 'bench', services, 5, {
    concurrency: 24,
    onProgress: (n) => log(`  +${n}`),
  });
  log(`${services} services created; waiting for kube-proxy and the gate`);
  await waitProgrammed(lab, 'node-1');
  await waitGateOpen(lab, 'node-1');
  await new Promise((r) => setTimeout(r, 15_000)); // let the Service churn settle (--sync-grace 10 s)
  await waitRoundsAfterChurn(node);
  const results: Record<string, unknown>[] = [];
  for (const [i, variant] of variants.entries()) {
    if (variant) await restartAgent(lab, node, variant);
    results.push(await measureWindow(lab, node, variant, services + i));
  }
  if (values.output === 'json') console.log(JSON.stringify(variants[0] ? results : results[0], null, 2));
  if (values.save) {
    mkdirSync(values.save, { recursive: true });
    await recordRuleset(lab, 'node-1', values.save);
  }
} finally {
  await lab.down();
}
