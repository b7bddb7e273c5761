/**
 * Expected vs actual for kube-proxy: `(actual rules, expected services, options) → findings`. Pure,
 * so the node agent can call it every few seconds with live state and the doctor with a bundle.
 *
 * Contract per ClusterIP port (one proxier family):
 * - verdict `endpoints`: a nat KUBE-SERVICES jump (`-d ip/32 -p proto --dport port`) to the
 *   expected KUBE-SVC/KUBE-SVL chain, which exists and jumps to one KUBE-SEP chain per endpoint, each
 *   DNATing to `ip:port`; nftables: a `service-ips` element going to the service chain.
 * - verdict `no-endpoints`: a filter KUBE-SERVICES REJECT; nftables: a `no-endpoint-services` element.
 * - verdict `no-local-endpoints`: a filter KUBE-SERVICES DROP; nftables: `no-endpoint-services` → drop.
 * Comments are never required (large-cluster mode drops most of them).
 */
import { capEvidence, type Finding, type Subject } from '../core/findings.ts';
import type { ExpectedEndpoint, ExpectedServicePort, ExpectedServices } from './expected.ts';
import { type IptablesNodeState, serviceKey } from './iptables-state.ts';
import type { NftKubeProxyState } from './nft.ts';

/** The actual kube-proxy state in the mode it runs in. */
export type KubeProxyActual =
  | { readonly mode: 'iptables'; readonly state: IptablesNodeState }
  | { readonly mode: 'nftables'; readonly state: NftKubeProxyState };

/** Diff options. */
export interface KubeProxyDiffOptions {
  /** Evidence lines per finding (default 20). */
  readonly maxEvidence?: number;
  /**
   * `full` (default) checks every ClusterIP port down to its endpoints. `services` checks only
   * that each ClusterIP port is captured (KUBE-SERVICES jump or REJECT/DROP; nftables map element):
   * the cheap steady-state check over a partial read (`iptables -S KUBE-SERVICES`, one nft map).
   */
  readonly depth?: 'full' | 'services';
}

function subjectsOf(problems: readonly { readonly port: ExpectedServicePort }[], max: number): Subject[] {
  const out: Subject[] = [];
  const seen = new Set<string>();
  for (const p of problems) {
    const name = `${p.port.servicePortName}`;
    if (seen.has(name)) continue;
    seen.add(name);
    out.push({ kind: 'service', name });
    if (out.length >= max) break;
  }
  return out;
}

function describePort(p: ExpectedServicePort): string {
  return `${p.servicePortName} ${p.clusterIP}:${p.port}/${p.protocol}`;
}

function expectedIptablesRule(p: ExpectedServicePort): string {
  return `-A KUBE-SERVICES -d ${p.clusterIP}/32 -p ${p.protocol} -m ${p.protocol} --dport ${p.port} -j ${p.iptablesChain}`;
}

/** What can be wrong with one expected port; each kind becomes one finding. */
type ProblemKind = 'missing' | 'missing-no-endpoints' | 'unexpected-reject' | 'endpoints-mismatch';

interface PortProblem {
  readonly kind: ProblemKind;
  readonly port: ExpectedServicePort;
  readonly line: string;
}

/** Describes the difference between wanted and present endpoint chains ('' when equal). */
function endpointDifference(
  p: ExpectedServicePort,
  present: readonly string[],
  chainOf: (e: ExpectedEndpoint) => string,
): string {
  const eps = p.endpoints();
  const have = new Set(present);
  const want = new Set(eps.map(chainOf));
  const lacking = eps.filter((e) => !have.has(chainOf(e)));
  const stale = present.filter((c) => !want.has(c));
  const parts: string[] = [];
  if (lacking.length > 0) parts.push(`no chain for ${lacking.map((e) => `${e.ip}:${e.port}`).join(', ')}`);
  if (stale.length > 0) parts.push(`${stale.length} endpoint chain(s) not backed by a ready endpoint`);
  return parts.join('; ');
}

/** `ip:port` as iptables prints a DNAT destination (`[ip]:port` for IPv6). */
function destination(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/**
 * The DNAT destinations a port's chain should hold. Built per diff and dropped after it: the agent
 * keeps its expected state while Services stand, and 10,000 kept sets would be ~5 MB of heap.
 */
function wanted(p: ExpectedServicePort): ReadonlySet<string> {
  return new Set(p.endpoints().map((e) => destination(e.ip, e.port)));
}

/**
 * True when the service chain's endpoint chains DNAT to exactly the wanted destinations, once each:
 * the common case, answered without building any list.
 */
function sameDestinations(
  want: ReadonlySet<string>,
  chains: readonly string[],
  dnat: ReadonlyMap<string, string>,
): boolean {
  if (chains.length !== want.size) return false;
  for (let i = 0; i < chains.length; i++) {
    const d = dnat.get(chains[i] as string);
    if (d === undefined || !want.has(d)) return false;
    for (let j = 0; j < i; j++) if (dnat.get(chains[j] as string) === d) return false;
  }
  return true;
}

/** Describes how the DNAT destinations of a service chain differ from the wanted ones ('' when equal). */
function destinationDifference(want: ReadonlySet<string>, dests: readonly string[]): string {
  const have = new Set(dests);
  const lacking = [...want].filter((d) => !have.has(d));
  const stale = dests.filter((d) => !want.has(d));
  const parts: string[] = [];
  if (lacking.length > 0) parts.push(`no endpoint chain for ${lacking.join(', ')}`);
  if (stale.length > 0) parts.push(`sends to ${stale.join(', ')}, not a ready endpoint`);
  return parts.join('; ');
}

function checkIptablesPort(
  s: IptablesNodeState,
  natChains: ReadonlySet<string>,
  p: ExpectedServicePort,
  servicesOnly = false,
): PortProblem[] {
  const key = serviceKey(p.clusterIP, p.protocol, p.port);
  const jumps = s.clusterIpRules.get(key) ?? [];
  const filter = s.noEndpointRules.get(key) ?? [];
  if (p.verdict === 'no-endpoints' || p.verdict === 'no-local-endpoints') {
    const action = p.verdict === 'no-endpoints' ? 'REJECT' : 'DROP';
    if (filter.some((f) => f.action === action) || jumps.length > 0) return [];
    return [
      {
        kind: 'missing-no-endpoints',
        port: p,
        line: `${describePort(p)}: no filter KUBE-SERVICES ${action} rule (${p.verdict})`,
      },
    ];
  }
  if (p.verdict !== 'endpoints') return [];
  const out: PortProblem[] = [];
  const reject = filter.find((f) => f.chain === 'KUBE-SERVICES');
  if (reject) {
    out.push({
      kind: 'unexpected-reject',
      port: p,
      line: `line ${reject.line}: ${reject.action} "${reject.comment ?? ''}" for ${describePort(p)}, which has ${p.endpointCount} endpoint(s)`,
    });
  }
  const jump = jumps.find((j) => j.target === p.iptablesChain);
  const other = jumps[0];
  if (!jump) {
    const line = other
      ? `${describePort(p)}: jumps to ${other.target} (line ${other.line}), expected ${p.iptablesChain}`
      : `${describePort(p)}: missing ${expectedIptablesRule(p)}`;
    return [...out, { kind: 'missing', port: p, line }];
  }
  if (servicesOnly) return out;
  if (!natChains.has(p.iptablesChain)) {
    return [
      ...out,
      {
        kind: 'missing',
        port: p,
        line: `${describePort(p)}: chain ${p.iptablesChain} is jumped to but not declared`,
      },
    ];
  }
  if (p.topologyHints) return out;
  // Endpoints are compared by DNAT destination, not by KUBE-SEP name: the same answer without
  // hashing 50,000 names, and it also catches a SEP chain whose DNAT is gone.
  const chains = s.serviceChains.get(p.iptablesChain) ?? [];
  const want = wanted(p);
  if (sameDestinations(want, chains, s.endpointDnat)) return out;
  const dests = chains.map((c) => s.endpointDnat.get(c) ?? `${c} without DNAT`);
  const diff = destinationDifference(want, dests);
  if (diff)
    out.push({
      kind: 'endpoints-mismatch',
      port: p,
      line: `${describePort(p)} (${p.iptablesChain}): ${diff}`,
    });
  return out;
}

function checkNftPort(s: NftKubeProxyState, p: ExpectedServicePort, servicesOnly = false): PortProblem[] {
  const key = serviceKey(p.clusterIP, p.protocol, p.port);
  const el = s.serviceIps.get(key);
  const noEp = s.noEndpointServices.get(key);
  if (p.verdict === 'no-endpoints' || p.verdict === 'no-local-endpoints') {
    if (noEp || el) return [];
    return [
      {
        kind: 'missing-no-endpoints',
        port: p,
        line: `${describePort(p)}: no no-endpoint-services element (${p.verdict})`,
      },
    ];
  }
  if (p.verdict !== 'endpoints') return [];
  const out: PortProblem[] = [];
  if (noEp) {
    out.push({
      kind: 'unexpected-reject',
      port: p,
      line: `no-endpoint-services has ${key} (${verdictText(noEp.verdict)}) but ${describePort(p)} has ${p.endpointCount} endpoint(s)`,
    });
  }
  const target = el && typeof el.verdict === 'object' ? el.verdict.target : undefined;
  if (target !== p.nftChain) {
    const line = el
      ? `${describePort(p)}: service-ips element goes to ${verdictText(el.verdict)}, expected goto ${p.nftChain}`
      : `${describePort(p)}: missing service-ips element ${p.clusterIP} . ${p.protocol} . ${p.port} : goto ${p.nftChain}`;
    return [...out, { kind: 'missing', port: p, line }];
  }
  if (servicesOnly) return out;
  if (!s.chains.has(p.nftChain))
    return [
      ...out,
      { kind: 'missing', port: p, line: `${describePort(p)}: chain ${p.nftChain} is referenced but missing` },
    ];
  if (p.topologyHints) return out;
  // kube-proxy 1.31+ DNATs from the service chain itself; older versions jump to endpoint- chains.
  const direct = s.serviceDnat.get(p.nftChain);
  const eps = (s.serviceEndpoints.get(p.nftChain) ?? []).filter((c) => s.chains.has(c));
  const diff =
    direct && eps.length === 0
      ? destinationDifference(wanted(p), direct)
      : endpointDifference(p, eps, (e) => e.nftChain);
  if (diff)
    out.push({ kind: 'endpoints-mismatch', port: p, line: `${describePort(p)} (${p.nftChain}): ${diff}` });
  return out;
}

const KUBE_PROXY_FIX =
  'kube-proxy has not (fully) synced this node. Check the kube-proxy pod on this node (logs: "Sync failed", ' +
  '"iptables-restore" errors), its /metrics kubeproxy_sync_proxy_rules_last_timestamp_seconds, and that it uses ' +
  'the same iptables backend as the host; restart kube-proxy on this node, then recycle pods that started before it synced.';

/** Compares the kube-proxy rules of one node with the expected service ports. */
export function diffKubeProxy(
  actual: KubeProxyActual,
  expected: ExpectedServices,
  opts: KubeProxyDiffOptions = {},
): Finding[] {
  const max = opts.maxEvidence ?? 20;
  const ports = expected.ports;
  const problems: PortProblem[] = [];
  if (actual.mode === 'iptables') {
    const natChains = actual.state.chains.get('nat') ?? new Set<string>();
    for (const p of ports)
      problems.push(...checkIptablesPort(actual.state, natChains, p, opts.depth === 'services'));
  } else {
    for (const p of ports) problems.push(...checkNftPort(actual.state, p, opts.depth === 'services'));
  }
  const of = (kind: ProblemKind): PortProblem[] => problems.filter((x) => x.kind === kind);
  const finding = (list: readonly PortProblem[], rest: Omit<Finding, 'evidence' | 'subjects'>): Finding[] =>
    list.length === 0
      ? []
      : [
          {
            ...rest,
            evidence: capEvidence(
              list.map((m) => m.line),
              max,
            ),
            subjects: subjectsOf(list, max),
          },
        ];
  const where = actual.mode === 'iptables' ? 'nat KUBE-SERVICES' : 'the kube-proxy nftables service-ips map';
  const withEndpoints = ports.filter((p) => p.verdict === 'endpoints').length;
  const missing = of('missing');
  const rejects = of('unexpected-reject');
  const mismatch = of('endpoints-mismatch');
  const noEp = of('missing-no-endpoints');
  return [
    ...finding(missing, {
      code: 'kube-proxy-rules-missing',
      severity: 'critical',
      title: `${missing.length} of ${withEndpoints} ClusterIP port(s) with endpoints are not programmed in ${where}`,
      fix: KUBE_PROXY_FIX,
    }),
    ...finding(rejects, {
      code: 'kube-proxy-unexpected-reject',
      severity: 'critical',
      title: `${rejects.length} ClusterIP port(s) are rejected as "no endpoints" although the cluster has endpoints for them`,
      fix:
        'kube-proxy on this node has a stale view of the EndpointSlices (connections get "connection refused"). Check ' +
        'that kube-proxy can watch EndpointSlices (API reachability, RBAC) and restart it if its last sync is old.',
    }),
    ...finding(mismatch, {
      code: 'kube-proxy-endpoints-mismatch',
      severity: 'warning',
      title: `${mismatch.length} service chain(s) send to a different endpoint set than the EndpointSlices list`,
      fix:
        'kube-proxy is behind the cluster (a sync is pending or failing). Compare kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds ' +
        'with ..._last_timestamp_seconds; if the gap keeps growing, restart kube-proxy on this node. A cluster state taken at a ' +
        'different moment than the rules also shows up here: re-take both together before acting.',
    }),
    ...finding(noEp, {
      code: 'kube-proxy-rules-missing',
      severity: 'warning',
      title: `${noEp.length} ClusterIP port(s) without endpoints have no REJECT/DROP rule (clients time out instead of failing fast)`,
      fix: 'kube-proxy has not written its filter rules for services without endpoints; check that kube-proxy synced (see kube-proxy-rules-missing).',
    }),
  ];
}

function verdictText(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && 'kind' in v) {
    const o = v as { kind: string; target?: string };
    return o.target ? `${o.kind} ${o.target}` : o.kind;
  }
  return 'nothing';
}

/**
 * Checks that need no cluster state: kube-proxy hooks (PREROUTING/OUTPUT → KUBE-SERVICES) and the
 * presence of any ClusterIP rule, in particular the `default/kubernetes` Service every cluster has.
 */
export function checkKubeProxyStructure(actual: KubeProxyActual): Finding[] {
  const findings: Finding[] = [];
  if (actual.mode === 'iptables') {
    const s = actual.state;
    const nat = s.chains.get('nat');
    const anyKube =
      (s.kubeRules.nat ?? 0) + (s.kubeRules.filter ?? 0) > 0 || (nat?.has('KUBE-SERVICES') ?? false);
    if (s.ipvsClusterIpSet) return findings; // IPVS mode: ClusterIPs live in an ipset, not checked here
    if (!anyKube) {
      findings.push({
        code: 'kube-proxy-rules-missing',
        severity: 'critical',
        title: 'No kube-proxy rules at all in this iptables dump',
        evidence: [
          `backend ${s.summary.backend}; tables: ${s.summary.tables.map((t) => `${t.name} (${t.rules} rules)`).join(', ') || 'none'}`,
          ...(s.summary.legacyTablesPresent ? ['iptables-nft-save: "iptables-legacy tables present"'] : []),
        ],
        subjects: [{ kind: 'node', name: 'kube-proxy' }],
        fix:
          'kube-proxy has never synced on this boot, runs in another mode (nftables/IPVS), or writes to the other iptables ' +
          'backend. Check the kube-proxy pod on this node and its logs; compare iptables-legacy-save and iptables-nft-save.',
      });
      return findings;
    }
    const lacking: string[] = [];
    if (!s.hooks.natPrerouting)
      lacking.push('-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES');
    if (!s.hooks.natOutput)
      lacking.push('-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES');
    if (lacking.length > 0) {
      findings.push({
        code: 'kube-proxy-jump-missing',
        severity: 'critical',
        title:
          'KUBE-SERVICES is not hooked from nat PREROUTING/OUTPUT: no ClusterIP works from pods or the node',
        evidence: lacking.map((l) => `missing: ${l}`),
        subjects: [{ kind: 'chain', name: 'nat KUBE-SERVICES' }],
        fix:
          'Something flushed the built-in nat chains after kube-proxy started (a firewall service, an iptables-restore ' +
          'without --noflush, or another backend). kube-proxy re-creates the jumps on its next full sync: restart the ' +
          'kube-proxy pod on this node and find what flushed the chains.',
      });
    }
    if (s.clusterIpRules.size === 0) {
      findings.push({
        code: 'kube-proxy-rules-missing',
        severity: 'critical',
        title:
          'kube-proxy chains exist but KUBE-SERVICES captures no ClusterIP (not even the kubernetes Service)',
        evidence: [
          `nat KUBE-* rules: ${s.kubeRules.nat ?? 0}, filter KUBE-* rules: ${s.kubeRules.filter ?? 0}`,
        ],
        subjects: [{ kind: 'service', name: 'default/kubernetes:https' }],
        fix: 'kube-proxy started but has not completed a sync with Services and EndpointSlices; check its logs and API access.',
      });
    } else if (!s.kubernetesServiceRule) {
      findings.push({
        code: 'kube-proxy-rules-missing',
        severity: 'warning',
        title: 'No ClusterIP rule for the default/kubernetes Service',
        evidence: [`${s.clusterIpRules.size} other ClusterIP port(s) are programmed`],
        subjects: [{ kind: 'service', name: 'default/kubernetes:https' }],
        fix: 'Pods on this node cannot reach the API server by its ClusterIP. Check kube-proxy logs; restart kube-proxy on this node.',
      });
    }
  } else {
    const s = actual.state;
    if (!s.tablePresent) {
      findings.push({
        code: 'kube-proxy-rules-missing',
        severity: 'critical',
        title: 'The nftables table ip kube-proxy does not exist',
        evidence: ['nft list table ip kube-proxy: no such table'],
        subjects: [{ kind: 'node', name: 'kube-proxy' }],
        fix: 'kube-proxy (nftables mode) has not synced on this boot. Check the kube-proxy pod on this node and its logs ("nftables sync failed").',
      });
      return findings;
    }
    if (s.servicesHookedFrom.length === 0) {
      findings.push({
        code: 'kube-proxy-jump-missing',
        severity: 'critical',
        title: 'No base chain of table ip kube-proxy jumps to chain "services"',
        evidence: [`chains: ${[...s.chains].filter((c) => !c.includes('/')).join(', ')}`],
        subjects: [{ kind: 'chain', name: 'ip kube-proxy services' }],
        fix: 'The kube-proxy table is incomplete; restart kube-proxy on this node.',
      });
    }
    if (s.serviceIps.size === 0) {
      findings.push({
        code: 'kube-proxy-rules-missing',
        severity: 'critical',
        title: 'The service-ips map of table ip kube-proxy is empty',
        evidence: [
          `no-endpoint-services: ${s.noEndpointServices.size} element(s); cluster-ips: ${s.clusterIps.size}`,
        ],
        subjects: [{ kind: 'node', name: 'kube-proxy' }],
        fix: 'kube-proxy has not completed a sync with Services and EndpointSlices; check its logs and API access.',
      });
    }
  }
  return findings;
}
