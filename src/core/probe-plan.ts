/**
 * What the own-netns probe checks (pure): DNS through the cluster DNS Service, TCP to the
 * `kubernetes` Service, and a pod's own targets from its `netwarden.dev/probe-targets` annotation,
 * turned into a JSON plan the child (host/probe-child.ts) runs inside a network namespace. The node
 * gets the union of its pods' plans, so each pod failure can be compared with the node reaching the
 * same target.
 */
import type { Pod, Service } from './objects.ts';
import { clusterDnsIp, kubernetesService } from './well-known-services.ts';

/** Pod annotation with extra TCP targets, e.g. `10.0.0.5:5672,vault.vault.svc:8200`. */
export const PROBE_TARGETS_ANNOTATION = 'netwarden.dev/probe-targets';

/** At most this many extra targets per pod; more are reported as errors (each costs a connect per round). */
export const MAX_PROBE_TARGETS = 8;

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
 * Addresses a pod's annotation may not make the agent connect to, unless the operator allows it:
 * loopback (the agent's own node-local services, in the pod's namespace the pod's own), "this
 * network" 0.0.0.0/8, and link-local 169.254.0.0/16 — which holds the instance metadata service
 * 169.254.169.254. The agent runs privileged; a pod must not steer it there.
 */
export const SPECIAL_PREFIXES: readonly string[] = ['127.', '0.', '169.254.'];

/** True when an IPv4 address or name is one {@link SPECIAL_PREFIXES} (or `localhost`) covers. */
export function isSpecialTarget(host: string): boolean {
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  return IPV4.test(host) && SPECIAL_PREFIXES.some((p) => host.startsWith(p));
}

/**
 * Parses the probe-targets annotation strictly: comma-separated `host:port`, IPv4 or DNS name,
 * port 1–65535 without leading zeros. Bad, duplicate, surplus and (unless `allowSpecial`)
 * loopback/link-local/metadata entries are listed in `errors` (for an Event or /status) and left
 * out; the good ones are still probed.
 */
export function parseProbeTargets(
  text: string | undefined,
  opts: { readonly allowSpecial?: boolean } = {},
): { targets: ProbeTarget[]; errors: string[] } {
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
    else if (!opts.allowSpecial && isSpecialTarget(t.host))
      errors.push(
        bad(
          i,
          entry,
          'loopback, link-local and metadata addresses are refused (--probe-targets-allow-special)',
        ),
      );
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
  /** Let annotation targets name loopback, link-local or metadata addresses. */
  readonly allowSpecialTargets?: boolean;
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
  /** Address prefixes a resolved name may not connect to (a name can point at the metadata address too). */
  readonly refusePrefixes: readonly string[];
}

/** The checks every probe runs: cluster DNS and the `kubernetes` Service. */
/**
 * The probe targets of a cluster: its kube-dns Service IP and its `kubernetes` Service (2 s per
 * check); undefined until both are known.
 */
export function clusterProbeConfig(
  services: readonly Service[],
  allowSpecialTargets = false,
): ClusterProbeConfig | undefined {
  const dns = clusterDnsIp(services);
  const api = kubernetesService(services);
  if (!dns || !api) return undefined;
  return {
    dnsServer: dns,
    clusterDomain: 'cluster.local',
    kubernetesService: { host: api.ip, port: api.port },
    timeoutMs: 2_000,
    allowSpecialTargets,
  };
}

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
  return {
    dns: { server: cfg.dnsServer, port: cfg.dnsPort ?? 53 },
    timeoutMs: cfg.timeoutMs,
    checks,
    refusePrefixes: cfg.allowSpecialTargets ? [] : SPECIAL_PREFIXES,
  };
}

/** The plan for one pod: core checks plus its annotation's targets; annotation errors are returned, not thrown. */
export function podProbePlan(pod: Pod, cfg: ClusterProbeConfig): { plan: ProbePlan; errors: string[] } {
  const ns = pod.metadata?.namespace ?? 'default';
  const { targets, errors } = parseProbeTargets(pod.metadata?.annotations?.[PROBE_TARGETS_ANNOTATION], {
    allowSpecial: cfg.allowSpecialTargets ?? false,
  });
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
