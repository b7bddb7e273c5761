/**
 * Does each local pod have its own network state in the node's kernel? The one judgement the
 * agent's `pod-network` check (which feeds repair), the doctor and the lab use.
 *
 * What a pod needs depends on the CNI: a host route to its address (every routed CNI: the VPC
 * CNI, Calico, ptp); with the VPC CNI also the `512 to` rule and, on a secondary ENI, the `1536
 * from` rule (device numbers from ipamd); with Calico's policy its workload chains. The veth name is
 * checked only where the CNI's naming is known (the VPC CNI's `eni` + hash).
 *
 * A per-pod problem is a problem of that pod, not of the node: the agent reports it and repair
 * recycles the pod; it does not gate the node.
 */
import { capEvidence, type Finding } from '../core/findings.ts';
import type { Pod } from '../core/objects.ts';
import { type Read, readValue } from '../core/read.ts';
import { podProblemsFromFindings } from '../core/recycle-policy.ts';
import type { IpLink, IpRoute, IpRule } from '../netfilter/ip.ts';
import {
  checkRoutedPodConsistency,
  diffPodNetworks,
  expectedPodNetworks,
  type PodAssignment,
} from '../netfilter/pods.ts';
import { type Assessment, fromFindings } from './assessment.ts';

/** What was read about the local pods' network state. */
export interface PodsEvidence {
  /** Pods the cluster places on this node (others are ignored); undefined without a cluster view. */
  readonly pods?: readonly Pod[];
  readonly nodeName?: string;
  /** Addresses the CNI daemon says it assigned, with ENI device numbers when known (ipamd). */
  readonly assignments?: readonly PodAssignment[];
  readonly rules?: Read<readonly IpRule[]>;
  readonly routes?: Read<readonly IpRoute[]>;
  readonly links?: Read<readonly IpLink[]>;
  /** Filter-table chain names (Calico workload chains), when a filter dump was read. */
  readonly filterChains?: ReadonlySet<string>;
  /** Calico enforces policy here. */
  readonly calico: boolean;
  /** The host veth prefix when the VPC CNI names the veths; `null` when the naming is unknown. */
  readonly vethPrefix: string | null;
  /** The VPC CNI is this node's CNI (decides whether routed-pod consistency applies without a pod list). */
  readonly vpcCni: boolean;
  readonly maxEvidence?: number;
}

/** The judgement, plus each broken pod's evidence by `namespace/name` (for repair). */
export interface PodsAssessment extends Assessment {
  readonly problems: ReadonlyMap<string, readonly string[]>;
  /** How many pods were judged. */
  readonly judged: number;
}

/** Judges the local pods' network state. Pure. */
export function assessPods(ev: PodsEvidence): PodsAssessment {
  const max = ev.maxEvidence ?? 20;
  const failed = [ev.rules, ev.routes].find((r) => r?.status === 'unknown');
  if (failed?.status === 'unknown')
    return {
      status: 'unknown',
      reason: 'PodNetworkUnread',
      message: `${failed.source}: ${failed.detail}`,
      findings: [],
      problems: new Map(),
      judged: 0,
    };
  const rules = readValue(ev.rules);
  const routes = readValue(ev.routes);
  const links = readValue(ev.links);
  const expected =
    (ev.pods && ev.nodeName !== undefined) || ev.assignments
      ? expectedPodNetworks({
          ...(ev.pods ? { pods: ev.pods } : {}),
          ...(ev.nodeName !== undefined ? { nodeName: ev.nodeName } : {}),
          ...(ev.assignments ? { assignments: ev.assignments } : {}),
          vethPrefix: ev.vethPrefix,
        }).filter((p) => p.name !== '')
      : undefined;
  let findings: Finding[] = [];
  if (expected && expected.length > 0) {
    findings = diffPodNetworks(
      expected,
      {
        ...(rules ? { rules } : {}),
        ...(routes ? { routes } : {}),
        ...(links ? { links } : {}),
        ...(ev.filterChains ? { filterChains: ev.filterChains } : {}),
      },
      // Every broken pod must be named for repair: evidence is capped for display only.
      { calico: ev.calico, maxEvidence: Math.max(max, expected.length) },
    );
  } else if (rules && routes && ev.vpcCni && ev.vethPrefix !== null) {
    findings = checkRoutedPodConsistency(rules, routes, { vethPrefix: ev.vethPrefix, maxEvidence: max });
    if (ev.calico && ev.filterChains)
      findings.push(...calicoFromRoutes(routes, ev.filterChains, ev.vethPrefix, max));
  }
  const problems = podProblemsFromFindings(findings, ev.pods ?? []);
  const display = findings.map((f) => ({ ...f, evidence: capEvidence(f.evidence, max) }));
  const judged = fromFindings(display, {
    reason: 'PodNetworksComplete',
    message: `${expected?.length ?? 0} local pod(s) have their routes and rules`,
  });
  return {
    ...judged,
    ...(judged.status === 'broken'
      ? { reason: 'PodNetworkStateMissing', message: `${problems.size} pod(s): ${judged.message}` }
      : {}),
    problems,
    judged: expected?.length ?? 0,
  };
}

/** Without a pod list: pod veths (by route) lacking Calico's workload chains. */
function calicoFromRoutes(
  routes: readonly IpRoute[],
  chains: ReadonlySet<string>,
  prefix: string,
  max: number,
): Finding[] {
  const veths = [
    ...new Set(
      routes.filter((r) => r.table === 'main' && r.dev?.startsWith(prefix)).map((r) => r.dev as string),
    ),
  ];
  const lacking = veths.filter((v) => !chains.has(`cali-fw-${v}`) || !chains.has(`cali-tw-${v}`));
  if (lacking.length === 0) return [];
  return [
    {
      code: 'calico-endpoint-chains-missing',
      severity: 'critical',
      title: `${lacking.length} of ${veths.length} pod veth(s) have no Calico workload chains: Felix has not programmed their policy`,
      evidence: capEvidence(
        lacking.map(
          (v) => `missing ${[`cali-fw-${v}`, `cali-tw-${v}`].filter((c) => !chains.has(c)).join(', ')}`,
        ),
        max,
      ),
      subjects: lacking.slice(0, max).map((v) => ({ kind: 'chain', name: v })),
      fix: 'Check calico-node on this node (felix readiness :9099/readiness). Once Felix is ready, delete pods that started before it.',
    },
  ];
}
