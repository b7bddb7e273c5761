/**
 * The own-netns probe: DNS through the cluster DNS Service and TCP connects to the `kubernetes`
 * Service and to a pod's own targets, run from inside a network namespace (a pod's, or the
 * node's for the node-level comparison).
 *
 * How: `nsenter --net=<path> -- <this node binary> -e <PROBE_SCRIPT> <plan JSON>`. Only the
 * network namespace changes, so the probe runs the agent's own Node binary and needs no tool in
 * the pod's image or on the host beyond nsenter. DNS is a hand-written UDP A query sent to the DNS
 * Service IP named in the plan, not `getent`: nsenter (unlike `ip netns exec`) does not bind-mount
 * a per-namespace resolv.conf, so `getent` would use the agent's resolv.conf — the node's resolver,
 * not the cluster DNS path under test. Asking the Service IP directly tests exactly "pod netns →
 * kube-proxy DNAT → CoreDNS", the same way on a real node and in the lab. Names of extra targets
 * are expanded with the search list a ClusterFirst pod gets (ndots:5), so `vault.vault.svc`
 * means what it means inside the pod.
 *
 * Namespaces are located by a `NetnsLocator`: in the lab by the pod UID prefix of the netns name,
 * on real nodes by scanning /proc/<pid>/cgroup for the pod UID and taking /proc/<pid>/ns/net.
 * The located namespace's inode travels with the plan and the child checks it after entering:
 * a PID that exited and was reused between locating and probing gives `unknown`, never a probe of
 * the wrong namespace.
 *
 * Failure behaviour: every check has its own deadline inside the child, the child has an overall
 * deadline, output is capped, and anything that keeps the probe from running (namespace gone,
 * nsenter missing, garbage output) is `unknown`, which the repair policy never counts as evidence.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { ProbeCheckOutcome, ProbeOutcome } from '../core/probe.ts';
import { describeError } from '../errors.ts';
import type { Pod } from '../kube/types.ts';
import { type ExecOptions, type ExecResult, run } from './exec.ts';

/** Pod annotation with extra TCP targets, e.g. `10.0.0.5:5672,vault.vault.svc:8200`. */
export const PROBE_TARGETS_ANNOTATION = 'netwarden.dev/probe-targets';

/** At most this many extra targets per pod; more are reported as errors (each costs a connect per round). */
export const MAX_PROBE_TARGETS = 8;

// ─── targets ───────────────────────────────────────────────────────────────────────────────

/** One `host:port` target of the annotation. */
export interface ProbeTarget {
  /** Lower-cased IPv4 address or DNS name, as written (no trailing dot). */
  readonly host: string;
  readonly port: number;
  readonly isIp: boolean;
  /** The name was written with a trailing dot: no search list. */
  readonly absolute: boolean;
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

function parseHost(raw: string): { host: string; isIp: boolean; absolute: boolean } | string {
  if (raw.startsWith('[') || raw.includes(':')) return 'IPv6 targets are not supported';
  const absolute = raw.endsWith('.');
  const host = (absolute ? raw.slice(0, -1) : raw).toLowerCase();
  if (/^[\d.]+$/.test(host))
    return IPV4.test(host) ? { host, isIp: true, absolute: false } : `"${raw}" is not a valid IPv4 address`;
  if (host.length === 0 || host.length > 253) return `"${raw}" is not a valid DNS name`;
  const bad = host.split('.').find((l) => !LABEL.test(l));
  if (bad !== undefined) return `"${raw}" is not a valid DNS name (label "${bad}")`;
  return { host, isIp: false, absolute };
}

/**
 * Parses the probe-targets annotation strictly: comma-separated `host:port`, IPv4 or DNS name,
 * port 1–65535 without leading zeros. Bad, duplicate and surplus entries are listed in `errors`
 * (for an Event or /status) and left out; the good ones are still probed.
 */
export function parseProbeTargets(text: string | undefined): { targets: ProbeTarget[]; errors: string[] } {
  const targets: ProbeTarget[] = [];
  const errors: string[] = [];
  if (text === undefined || text.trim() === '') return { targets, errors };
  const seen = new Set<string>();
  const bad = (i: number, entry: string, why: string): string =>
    entry === '' ? `entry ${i + 1} is empty` : `entry ${i + 1} "${entry}": ${why}`;
  for (const [i, part] of text.split(',').entries()) {
    const entry = part.trim();
    const t = parseEntry(entry);
    if (typeof t === 'string') errors.push(bad(i, entry, t));
    else if (seen.has(targetText(t))) errors.push(bad(i, entry, 'duplicate'));
    else if (targets.length >= MAX_PROBE_TARGETS)
      errors.push(bad(i, entry, `more than ${MAX_PROBE_TARGETS} targets`));
    else {
      seen.add(targetText(t));
      targets.push(t);
    }
  }
  return { targets, errors };
}

/** `host:port` as the target was meant (absolute names keep their trailing dot). */
function targetText(t: ProbeTarget): string {
  return `${t.host}${t.absolute ? '.' : ''}:${t.port}`;
}

function parseEntry(entry: string): ProbeTarget | string {
  if (entry === '') return 'empty';
  const m = /^(.+):([^:]*)$/.exec(entry);
  if (!m || m[1] === undefined || m[2] === undefined) return 'expected host:port';
  const host = parseHost(m[1]);
  if (typeof host === 'string') return host;
  if (!/^[1-9]\d{0,4}$/.test(m[2]) || Number(m[2]) > 65535) return 'port must be 1-65535';
  return { ...host, port: Number(m[2]) };
}

/**
 * The names a resolver in a ClusterFirst pod tries for `name` (resolv.conf `search <ns>.svc.<cd>
 * svc.<cd> <cd>`, `options ndots:5`): relative names with fewer than 5 dots go through the search
 * list first, then as is; absolute names are tried as is only.
 */
export function dnsCandidates(
  name: string,
  podNamespace: string,
  clusterDomain: string,
  absolute = false,
): string[] {
  if (absolute) return [name];
  const search = [`${podNamespace}.svc.${clusterDomain}`, `svc.${clusterDomain}`, clusterDomain];
  const expanded = search.map((s) => `${name}.${s}`);
  return name.split('.').length - 1 >= 5 ? [name, ...expanded] : [...expanded, name];
}

// ─── plans ─────────────────────────────────────────────────────────────────────────────────

/** Where the cluster's probe targets are. */
export interface ClusterProbeConfig {
  /** ClusterIP of the cluster DNS Service (kube-dns), e.g. 10.96.0.10. */
  readonly dnsServer: string;
  readonly dnsPort?: number;
  /** e.g. `cluster.local`. */
  readonly clusterDomain: string;
  /** ClusterIP and port of the `default/kubernetes` Service. */
  readonly kubernetesService: { readonly host: string; readonly port: number };
  /** Deadline of each check (a name target gets it twice: resolve, then connect). */
  readonly timeoutMs: number;
}

/** One check of a plan. `key` is what node and pod results are matched by. */
export type ProbeCheckSpec =
  | { readonly kind: 'dns'; readonly key: string; readonly core: boolean; readonly names: readonly string[] }
  | {
      readonly kind: 'tcp';
      readonly key: string;
      readonly core: boolean;
      /** `host:port` as written, for messages. */
      readonly label: string;
      /** An IP, or names to resolve (first A answer wins) before connecting. */
      readonly host?: string;
      readonly names?: readonly string[];
      readonly port: number;
    };

/** Everything the child needs: JSON-serialisable. */
export interface ProbePlan {
  readonly dns: { readonly server: string; readonly port: number };
  readonly timeoutMs: number;
  readonly checks: readonly ProbeCheckSpec[];
}

/** The checks every probe runs: cluster DNS and the `kubernetes` Service. */
function coreChecks(cfg: ClusterProbeConfig): ProbeCheckSpec[] {
  const name = `kubernetes.default.svc.${cfg.clusterDomain}`;
  const k = cfg.kubernetesService;
  return [
    { kind: 'dns', key: `dns:${name}`, core: true, names: [name] },
    {
      kind: 'tcp',
      key: `tcp:${k.host}:${k.port}`,
      core: true,
      label: `${k.host}:${k.port}`,
      host: k.host,
      port: k.port,
    },
  ];
}

function targetCheck(t: ProbeTarget, podNamespace: string, clusterDomain: string): ProbeCheckSpec {
  const label = `${t.host}:${t.port}`;
  if (t.isIp) return { kind: 'tcp', key: `tcp:${label}`, core: false, label, host: t.host, port: t.port };
  const names = dnsCandidates(t.host, podNamespace, clusterDomain, t.absolute);
  // A relative name means different things in different namespaces: the key says which.
  const key =
    t.absolute || names[0] === t.host ? `tcp:${t.host}:${t.port}` : `tcp:${t.host}:${t.port}@${podNamespace}`;
  return { kind: 'tcp', key, core: false, label, names, port: t.port };
}

function plan(cfg: ClusterProbeConfig, checks: ProbeCheckSpec[]): ProbePlan {
  return { dns: { server: cfg.dnsServer, port: cfg.dnsPort ?? 53 }, timeoutMs: cfg.timeoutMs, checks };
}

/** The plan for one pod: core checks plus its annotation's targets; annotation errors are returned, not thrown. */
export function podProbePlan(pod: Pod, cfg: ClusterProbeConfig): { plan: ProbePlan; errors: string[] } {
  const ns = pod.metadata?.namespace ?? 'default';
  const { targets, errors } = parseProbeTargets(pod.metadata?.annotations?.[PROBE_TARGETS_ANNOTATION]);
  const extra = targets.map((t) => targetCheck(t, ns, cfg.clusterDomain));
  return { plan: plan(cfg, [...coreChecks(cfg), ...extra]), errors };
}

/**
 * The node's plan: core checks plus every extra target of the given pod plans (deduplicated by
 * key), so each pod failure can be compared with the node reaching the same target.
 */
export function nodeProbePlan(cfg: ClusterProbeConfig, podPlans: readonly ProbePlan[] = []): ProbePlan {
  const checks = new Map(coreChecks(cfg).map((c) => [c.key, c]));
  for (const p of podPlans) for (const c of p.checks) if (!checks.has(c.key)) checks.set(c.key, c);
  return plan(cfg, [...checks.values()]);
}

// ─── the child ─────────────────────────────────────────────────────────────────────────────

/**
 * The program run inside the namespace (`node -e PROBE_SCRIPT <json>`), plain CommonJS so no
 * loader or transform is involved. Input: a ProbePlan plus `expectNetns` (`net:[inode]`).
 * Output: one JSON line `{"results":[{key,ok,detail}]}`; exit 3 with `{"error"}` when it is not in
 * the expected namespace. DNS: an A query over UDP to the plan's server, re-sent every second
 * (a first datagram through a fresh DNAT can be lost), NXDOMAIN/NODATA move to the next search
 * candidate, other rcodes fail.
 */
export const PROBE_SCRIPT = String.raw`'use strict';
const dgram = require('node:dgram');
const net = require('node:net');
const fs = require('node:fs');
const plan = JSON.parse(process.argv[1]);
const out = (o, code) => { process.stdout.write(JSON.stringify(o) + '\n'); process.exitCode = code; };
function inExpectedNetns() {
  if (!plan.expectNetns) return true;
  let actual;
  try { actual = fs.readlinkSync('/proc/self/ns/net'); } catch (e) { actual = String(e && e.code); }
  if (actual === plan.expectNetns) return true;
  out({ error: 'in ' + actual + ', expected ' + plan.expectNetns }, 3);
  return false;
}
const t0 = Date.now();
const ms = (since) => (Date.now() - since) + ' ms';
const RCODES = { 1: 'FORMERR', 2: 'SERVFAIL', 3: 'NXDOMAIN', 4: 'NOTIMP', 5: 'REFUSED' };
function buildQuery(id, name) {
  const parts = [Buffer.from([id >> 8, id & 255, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0])];
  for (const label of name.split('.')) { const b = Buffer.from(label, 'ascii'); parts.push(Buffer.from([b.length]), b); }
  parts.push(Buffer.from([0, 0, 1, 0, 1]));
  return Buffer.concat(parts);
}
function skipName(buf, off) {
  for (let i = 0; i < 128; i++) {
    const len = buf[off];
    if (len === undefined) throw new Error('truncated');
    if (len === 0) return off + 1;
    if ((len & 0xc0) === 0xc0) return off + 2;
    off += len + 1;
  }
  throw new Error('name loop');
}
function parseResponse(buf, id) {
  if (buf.length < 12 || buf.readUInt16BE(0) !== id || (buf[2] & 0x80) === 0) return null;
  const rcode = buf[3] & 15;
  const addrs = [];
  try {
    let off = 12;
    for (let i = buf.readUInt16BE(4); i > 0; i--) off = skipName(buf, off) + 4;
    for (let i = buf.readUInt16BE(6); i > 0; i--) {
      off = skipName(buf, off);
      const type = buf.readUInt16BE(off), cls = buf.readUInt16BE(off + 2), len = buf.readUInt16BE(off + 8);
      off += 10;
      if (type === 1 && cls === 1 && len === 4) addrs.push(buf[off] + '.' + buf[off + 1] + '.' + buf[off + 2] + '.' + buf[off + 3]);
      off += len;
    }
  } catch (e) { return { rcode, addrs, malformed: true }; }
  return { rcode, addrs };
}
function query(name, timeoutMs) {
  return new Promise((resolve) => {
    const id = Math.floor(Math.random() * 65536);
    const msg = buildQuery(id, name);
    const sock = dgram.createSocket('udp4');
    let done = false;
    const finish = (r) => { if (done) return; done = true; clearInterval(resend); clearTimeout(timer); try { sock.close(); } catch (e) {} resolve(r); };
    const timer = setTimeout(() => finish({ error: 'no answer' }), Math.max(timeoutMs, 1));
    const send = () => sock.send(msg, plan.dns.port, plan.dns.server, (e) => { if (e) finish({ error: e.code || e.message }); });
    const resend = setInterval(send, 1000);
    sock.on('error', (e) => finish({ error: e.code || e.message }));
    sock.on('message', (buf) => { const r = parseResponse(buf, id); if (r) finish(r); });
    send();
  });
}
async function resolve(names, deadline) {
  const via = ' via ' + plan.dns.server + ':' + plan.dns.port;
  let last = 'no candidates';
  for (const name of names) {
    const r = await query(name, deadline - Date.now());
    if (r.error) return { ok: false, why: 'DNS ' + name + via + ': ' + r.error };
    if (r.rcode === 0 && r.addrs.length > 0) return { ok: true, name, addr: r.addrs[0] };
    if (r.rcode !== 0 && r.rcode !== 3) return { ok: false, why: 'DNS ' + name + via + ': ' + (RCODES[r.rcode] || 'rcode ' + r.rcode) };
    last = 'DNS ' + names.join(', ') + via + ': ' + (r.rcode === 3 ? 'NXDOMAIN' : 'no A record');
  }
  return { ok: false, why: last };
}
function connect(host, port, timeoutMs) {
  return new Promise((resolve) => {
    const sock = net.connect({ host, port });
    const finish = (err) => { sock.destroy(); resolve(err); };
    sock.setTimeout(Math.max(timeoutMs, 1), () => finish('TIMEOUT'));
    sock.once('connect', () => finish(null));
    sock.once('error', (e) => finish(e.code || e.message));
  });
}
async function check(c) {
  const started = Date.now();
  if (c.kind === 'dns') {
    const r = await resolve(c.names, started + plan.timeoutMs);
    return r.ok ? { key: c.key, ok: true, detail: r.name + ' -> ' + r.addr + ' via ' + plan.dns.server + ' in ' + ms(started) }
                : { key: c.key, ok: false, detail: r.why + ' after ' + ms(started) };
  }
  let host = c.host;
  let label = c.label;
  if (!host) {
    const r = await resolve(c.names, started + plan.timeoutMs);
    if (!r.ok) return { key: c.key, ok: false, detail: 'connect ' + label + ': ' + r.why + ' after ' + ms(started) };
    host = r.addr;
    label = c.label + ' (' + r.name + ' ' + r.addr + ')';
  }
  const connStarted = Date.now();
  const err = await connect(host, c.port, plan.timeoutMs);
  return err ? { key: c.key, ok: false, detail: 'connect ' + label + ': ' + err + ' after ' + ms(connStarted) }
             : { key: c.key, ok: true, detail: 'connected to ' + label + ' in ' + ms(connStarted) };
}
if (inExpectedNetns()) Promise.all(plan.checks.map(check)).then((results) => out({ results, ms: Date.now() - t0 }, 0), (e) => out({ error: String(e && e.stack || e) }, 4));
`;

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

/** Turns the child's exit and output into a result (pure; the contract of PROBE_SCRIPT's output). */
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
      [deps.nodeBinary ?? process.execPath, '--max-old-space-size=32', '-e', PROBE_SCRIPT, input],
      // No NODE_OPTIONS or loaders of the parent: the child is plain CommonJS.
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

// ─── locating namespaces ───────────────────────────────────────────────────────────────────

/** A network namespace: a path nsenter accepts and its identity (`net:[inode]`). */
export interface NetnsLocation {
  readonly path: string;
  readonly netnsId: string;
  /** How it was found, for logs: `lab name …`, `pid 1234`. */
  readonly via: string;
}

/** Finds pods' network namespaces by pod uid. Pods not found are absent from the map. */
export interface NetnsLocator {
  locate(podUids: readonly string[]): Promise<Map<string, NetnsLocation>>;
}

/** The location of the namespace at `path` (a /var/run/netns bind mount or a /proc/<pid>/ns/net link), or undefined when it is not there. */
export async function netnsLocationAt(path: string, via: string): Promise<NetnsLocation | undefined> {
  try {
    const st = await stat(path);
    return { path, netnsId: `net:[${st.ino}]`, via };
  } catch {
    return undefined;
  }
}

/** The lab's pod namespaces: `<dir>/<runId>-<node>-<first 8 chars of the pod uid>` (see podNetns in lab/kubelet/pod-worker.ts). */
export class LabNetnsLocator implements NetnsLocator {
  readonly #prefix: string;
  readonly #dir: string;

  constructor(opts: { runId: string; nodeName: string; dir?: string }) {
    this.#prefix = `${opts.runId}-${opts.nodeName}`;
    this.#dir = opts.dir ?? '/var/run/netns';
  }

  async locate(podUids: readonly string[]): Promise<Map<string, NetnsLocation>> {
    const out = new Map<string, NetnsLocation>();
    for (const uid of podUids) {
      const name = `${this.#prefix}-${uid.slice(0, 8)}`;
      const loc = await netnsLocationAt(join(this.#dir, name), `lab netns ${name}`);
      if (loc) out.set(uid, loc);
    }
    return out;
  }
}

const UID_IN_CGROUP =
  /(?:^|[/-])pod([0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12})(?:\.slice)?(?=\/|$)/i;

/**
 * The pod uid in a /proc/<pid>/cgroup file, or undefined for processes outside a pod. Handles
 * cgroup v1 and v2, the cgroupfs driver (`/kubepods/burstable/pod<uid>/<container>`) and the
 * systemd driver (`kubepods-burstable-pod<uid with _ for ->.slice`), and paths made relative by a
 * private cgroup namespace (`/../kubepods-…`).
 */
export function podUidFromCgroup(text: string): string | undefined {
  for (const line of text.split('\n')) {
    const path = line.split(':').slice(2).join(':');
    for (const seg of path.split('/')) {
      const m = UID_IN_CGROUP.exec(seg);
      if (m?.[1]) return m[1].replaceAll('_', '-').toLowerCase();
    }
  }
  return undefined;
}

/**
 * Real nodes: scans `<procRoot>/<pid>/cgroup` for the wanted pod uids and takes the first
 * matching process's `ns/net`. Namespaces equal to PID 1's are skipped (host-network pods share
 * the node's namespace; probing it would say nothing about the pod). Needs hostPID. Processes
 * that exit during the scan are ignored.
 */
export class ProcNetnsLocator implements NetnsLocator {
  readonly #proc: string;

  constructor(opts: { procRoot?: string } = {}) {
    this.#proc = opts.procRoot ?? '/proc';
  }

  async locate(podUids: readonly string[]): Promise<Map<string, NetnsLocation>> {
    const wanted = new Set(podUids.map((u) => u.toLowerCase()));
    const out = new Map<string, NetnsLocation>();
    if (wanted.size === 0) return out;
    const host = await netnsLocationAt(join(this.#proc, '1', 'ns', 'net'), 'pid 1');
    const pids = (await readdir(this.#proc))
      .filter((p) => /^\d+$/.test(p))
      .sort((a, b) => Number(a) - Number(b));
    for (const pid of pids) {
      if (out.size === wanted.size) break;
      const uid = await readCgroupUid(join(this.#proc, pid, 'cgroup'));
      if (uid === undefined || !wanted.has(uid) || out.has(uid)) continue;
      const loc = await netnsLocationAt(join(this.#proc, pid, 'ns', 'net'), `pid ${pid}`);
      if (loc && loc.netnsId !== host?.netnsId) out.set(uid, loc);
    }
    return out;
  }
}

async function readCgroupUid(path: string): Promise<string | undefined> {
  try {
    return podUidFromCgroup(await readFile(path, 'utf8'));
  } catch {
    return undefined; // exited, or not readable: not a candidate
  }
}
