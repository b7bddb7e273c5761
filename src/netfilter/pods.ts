/**
 * Per-pod data path of the AWS VPC CNI (and Calico on top of it): what each local pod needs in the
 * node's kernel, and the diff against `ip rule` / `ip route` / `ip link` / iptables.
 *
 * Expected for a pod with IP P and host veth V = eni + sha1("ns.pod")[:11]:
 * - main-table route `P dev V scope link`;
 * - rule `512: from all to P lookup main`;
 * - rule `1536: from P lookup N+1` only when P sits on a secondary ENI (device number N > 0);
 * - with Calico policy: filter chains `cali-fw-V` and `cali-tw-V`.
 */
import { capEvidence, type Finding, type Subject } from '../core/findings.ts';
import type { Pod } from '../core/objects.ts';
import { vpcCniVethName } from './chain-names.ts';
import type { IpLink, IpRoute, IpRule } from './ip.ts';

/** A pod IP the CNI daemon says it assigned on this node (from introspection or its checkpoint). */
export interface PodAssignment {
  readonly namespace: string;
  readonly name: string;
  readonly ip: string;
  /** ENI device number; undefined when the source does not say. */
  readonly deviceNumber?: number;
}

/** What one pod needs. */
export interface ExpectedPodNetwork {
  readonly namespace: string;
  readonly name: string;
  readonly ip: string;
  /** The host veth's name, when the CNI's naming scheme is known (the VPC CNI's); else undefined. */
  readonly veth: string | undefined;
  /** Table of the 1536 `from <ip>` rule; undefined when not required or not known. */
  readonly fromRuleTable?: string;
  /** Whether the device number is known (so the absence of a 1536 rule is meaningful). */
  readonly deviceKnown: boolean;
}

/** Inputs of the expectation. */
export interface ExpectedPodOptions {
  readonly pods?: readonly Pod[];
  readonly nodeName?: string;
  readonly assignments?: readonly PodAssignment[];
  /**
   * AWS_VPC_K8S_CNI_VETHPREFIX when the VPC CNI names the host veths (`eni` by default); `null` when
   * the CNI's naming is unknown, so veth names are not checked.
   */
  readonly vethPrefix?: string | null;
}

/** Local, non-host-network, live pods with an IPv4 address, merged with the CNI's assignments. */
export function expectedPodNetworks(opts: ExpectedPodOptions): ExpectedPodNetwork[] {
  const prefix = opts.vethPrefix === undefined ? 'eni' : opts.vethPrefix;
  const byIp = new Map<string, { namespace: string; name: string; deviceNumber?: number }>();
  for (const a of opts.assignments ?? []) {
    if (!a.ip || a.ip.includes(':')) continue;
    byIp.set(a.ip, {
      namespace: a.namespace,
      name: a.name,
      ...(a.deviceNumber !== undefined ? { deviceNumber: a.deviceNumber } : {}),
    });
  }
  if (opts.nodeName !== undefined) {
    for (const p of opts.pods ?? []) {
      if (p.spec?.nodeName !== opts.nodeName || p.spec?.hostNetwork) continue;
      const phase = p.status?.phase;
      if (phase === 'Succeeded' || phase === 'Failed') continue;
      const ip = p.status?.podIP;
      if (!ip || ip.includes(':')) continue;
      const prev = byIp.get(ip);
      byIp.set(ip, {
        namespace: p.metadata?.namespace ?? 'default',
        name: p.metadata?.name ?? '',
        ...(prev?.deviceNumber !== undefined ? { deviceNumber: prev.deviceNumber } : {}),
      });
    }
  }
  const out: ExpectedPodNetwork[] = [];
  for (const [ip, p] of byIp) {
    const dn = p.deviceNumber;
    out.push({
      namespace: p.namespace,
      name: p.name,
      ip,
      veth: prefix === null ? undefined : vpcCniVethName(p.namespace, p.name, prefix),
      ...(dn !== undefined && dn > 0 ? { fromRuleTable: String(dn + 1) } : {}),
      deviceKnown: dn !== undefined,
    });
  }
  return out.sort((a, b) => a.ip.localeCompare(b.ip, 'en', { numeric: true }));
}

/** The node's actual per-pod state; absent parts are not checked. */
export interface PodNetworkActual {
  readonly rules?: readonly IpRule[];
  readonly routes?: readonly IpRoute[];
  readonly links?: readonly IpLink[];
  /** Filter-table chain names, for Calico; checked only when `calico` is set. */
  readonly filterChains?: ReadonlySet<string>;
}

/** Diff options. */
export interface PodDiffOptions {
  /** Calico policy is in use (cali- chains exist or the caller knows). */
  readonly calico?: boolean;
  readonly maxEvidence?: number;
}

const podSubject = (p: ExpectedPodNetwork): Subject => ({ kind: 'pod', name: `${p.namespace}/${p.name}` });

/** The node's per-pod state indexed for lookups. */
interface PodIndex {
  readonly mainRoutes: ReadonlyMap<string, IpRoute>;
  readonly toRules: ReadonlySet<string>;
  readonly fromRules: ReadonlyMap<string, IpRule>;
  readonly links: ReadonlySet<string> | undefined;
}

function indexActual(actual: PodNetworkActual): PodIndex {
  const mainRoutes = new Map<string, IpRoute>();
  for (const r of actual.routes ?? [])
    if (r.table === 'main' && (r.type === undefined || r.type === 'unicast')) mainRoutes.set(r.dst, r);
  const toRules = new Set<string>();
  const fromRules = new Map<string, IpRule>();
  for (const r of actual.rules ?? []) {
    if (r.not) continue;
    if (r.priority === 512 && r.to !== undefined && r.table === 'main') toRules.add(r.to);
    if (r.priority === 1536 && r.from !== 'all') fromRules.set(r.from, r);
  }
  return {
    mainRoutes,
    toRules,
    fromRules,
    links: actual.links ? new Set(actual.links.map((l) => l.ifname)) : undefined,
  };
}

type PodProblemKind = 'veth' | 'route' | 'rule' | 'calico';

/** The problems of one pod, as evidence lines by kind. */
function checkPod(
  p: ExpectedPodNetwork,
  idx: PodIndex,
  actual: PodNetworkActual,
  calico: boolean,
): [PodProblemKind, string][] {
  const who = `${p.namespace}/${p.name} ${p.ip}`;
  const out: [PodProblemKind, string][] = [];
  if (p.veth && idx.links && !idx.links.has(p.veth)) out.push(['veth', `${who}: no link ${p.veth}`]);
  if (actual.routes) {
    const r = idx.mainRoutes.get(p.ip);
    if (!r) out.push(['route', `${who}: missing route "${p.ip} dev ${p.veth ?? '<veth>'} scope link"`]);
    else if (p.veth && r.dev !== p.veth)
      out.push([
        'route',
        `${who}: route "${r.text}" goes to ${r.dev ?? 'a gateway'}, expected dev ${p.veth}`,
      ]);
  }
  if (actual.rules) {
    const lacking: string[] = [];
    if (!idx.toRules.has(p.ip)) lacking.push(`512: from all to ${p.ip} lookup main`);
    if (p.fromRuleTable !== undefined) {
      const fr = idx.fromRules.get(p.ip);
      if (fr?.table !== p.fromRuleTable)
        lacking.push(`1536: from ${p.ip} lookup ${p.fromRuleTable}${fr ? ` (found: ${fr.text})` : ''}`);
    }
    if (lacking.length > 0) out.push(['rule', `${who}: missing ${lacking.join(' and ')}`]);
  }
  if (calico && actual.filterChains && p.veth) {
    const lacking = [`cali-fw-${p.veth}`, `cali-tw-${p.veth}`].filter((c) => !actual.filterChains?.has(c));
    if (lacking.length > 0) out.push(['calico', `${who}: missing ${lacking.join(', ')}`]);
  }
  return out;
}

const POD_FINDINGS: Record<PodProblemKind, (n: number) => Omit<Finding, 'evidence' | 'subjects'>> = {
  veth: (n) => ({
    code: 'pod-veth-missing',
    severity: 'warning',
    title: `${n} pod(s) the cluster places on this node have no host veth`,
    fix: 'The pod sandbox was not (re)created on this boot, or the CNI ADD failed. Check kubelet for FailedCreatePodSandBox; delete the pod so it gets a new sandbox.',
  }),
  route: (n) => ({
    code: 'pod-route-missing',
    severity: 'critical',
    title: `${n} pod(s) have no host route to their veth: traffic to them is black-holed`,
    fix: 'Delete each listed pod (a new sandbox runs CNI ADD, which writes the route). If many are missing after a reboot, check that ipamd was ready before the pods started.',
  }),
  rule: (n) => ({
    code: 'pod-rule-missing',
    severity: 'critical',
    title: `${n} pod(s) miss the VPC CNI ip rules (512 to-pod / 1536 from-pod)`,
    fix:
      'Something removed the CNI\'s policy rules — most often systemd-networkd deleting "foreign" rules on restart ' +
      '(set ManageForeignRoutingPolicyRules=no in networkd.conf). Fix the cause, then delete the listed pods so CNI ADD re-creates the rules.',
  }),
  calico: (n) => ({
    code: 'calico-endpoint-chains-missing',
    severity: 'critical',
    title: `${n} pod(s) have no Calico workload chains: Felix has not programmed their policy`,
    fix: 'Check calico-node on this node (felix readiness at :9099/readiness). Once Felix is ready, delete pods that started before it so they run with policy in place.',
  }),
};

/** Compares each expected pod with the node's rules, routes, links and Calico chains. */
export function diffPodNetworks(
  expected: readonly ExpectedPodNetwork[],
  actual: PodNetworkActual,
  opts: PodDiffOptions = {},
): Finding[] {
  const max = opts.maxEvidence ?? 20;
  const idx = indexActual(actual);
  const byKind = new Map<PodProblemKind, { lines: string[]; subjects: Subject[] }>();
  for (const p of expected) {
    for (const [kind, line] of checkPod(p, idx, actual, opts.calico ?? false)) {
      let b = byKind.get(kind);
      if (!b) {
        b = { lines: [], subjects: [] };
        byKind.set(kind, b);
      }
      b.lines.push(line);
      b.subjects.push(podSubject(p));
    }
  }
  const order: PodProblemKind[] = ['veth', 'route', 'rule', 'calico'];
  return order.flatMap((kind) => {
    const b = byKind.get(kind);
    if (!b) return [];
    return [
      {
        ...POD_FINDINGS[kind](b.lines.length),
        evidence: capEvidence(b.lines, max),
        subjects: b.subjects.slice(0, max),
      },
    ];
  });
}

/**
 * Without a pod list: every `/32 dev <vethPrefix>…` route should have its 512 rule and every 512
 * rule should have its route. Catches rules wiped by systemd-networkd from `ip rule`/`ip route` alone.
 */
export function checkRoutedPodConsistency(
  rules: readonly IpRule[],
  routes: readonly IpRoute[],
  opts: { vethPrefix?: string; maxEvidence?: number } = {},
): Finding[] {
  const prefix = opts.vethPrefix ?? 'eni';
  const max = opts.maxEvidence ?? 20;
  const podRoutes = routes.filter(
    (r) => r.table === 'main' && r.dev?.startsWith(prefix) && !r.dst.includes('/') && r.dst !== 'default',
  );
  const toRules = rules.filter((r) => r.priority === 512 && r.to !== undefined && r.table === 'main');
  const ruleIps = new Set(toRules.map((r) => r.to));
  const routeIps = new Set(podRoutes.map((r) => r.dst));
  const findings: Finding[] = [];
  const noRule = podRoutes.filter((r) => !ruleIps.has(r.dst));
  const noRoute = toRules.filter((r) => !routeIps.has(r.to ?? ''));
  if (noRule.length > 0) {
    findings.push({
      code: 'pod-rule-missing',
      severity: 'critical',
      title: `${noRule.length} of ${podRoutes.length} routed pod IP(s) have no "512: from all to <ip> lookup main" rule`,
      evidence: capEvidence(
        noRule.map((r) => `route "${r.text}" has no rule "512: from all to ${r.dst} lookup main"`),
        max,
      ),
      subjects: noRule.slice(0, max).map((r) => ({ kind: 'ip', name: r.dst })),
      fix:
        "The VPC CNI's per-pod rules were removed after the pods started — typically systemd-networkd deleting foreign " +
        'rules (set ManageForeignRoutingPolicyRules=no). Fix the cause, then delete the affected pods so CNI ADD re-creates the rules.',
    });
  }
  if (noRoute.length > 0) {
    findings.push({
      code: 'pod-route-missing',
      severity: 'critical',
      title: `${noRoute.length} pod IP(s) have a 512 rule but no host route to a ${prefix}* veth`,
      evidence: capEvidence(
        noRoute.map((r) => `rule "${r.text}" but no route "${r.to} dev ${prefix}… scope link"`),
        max,
      ),
      subjects: noRoute.slice(0, max).map((r) => ({ kind: 'ip', name: r.to ?? '' })),
      fix: 'Delete the pods with these IPs so CNI ADD re-creates the route; if their sandbox is gone, ipamd holds a stale assignment.',
    });
  }
  return findings;
}
