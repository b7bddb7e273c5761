/**
 * Field case 7, `forward-policy-drop` (awslabs/amazon-eks-ami#526): a saved ruleset restored at
 * boot sets the filter FORWARD policy to DROP (and, restored without --noflush, flushes the filter
 * table). kube-proxy's KUBE-FORWARD accepts only masqueraded or established traffic, so a new
 * connection a pod opens off the node meets the policy and is dropped — DNS may still work while TCP
 * to the API server times out. The kernel evaluates the filter tables of both iptables backends and a
 * DROP in either wins (measured: docs/field-cases.md, lab A.4), so each backend is judged alone.
 *
 * Critical only when the kernel shows it now: policy DROP in a backend, nothing reachable from its
 * FORWARD that could accept a new pod connection, and pods on this node that use the node to forward.
 * Anything that might accept (an ACCEPT not limited to established or marked traffic, a jump into
 * Calico, a target this judgement does not know, rules nested deeper than it follows) counts as
 * accepting: the rule errs towards "not broken".
 */
import { capEvidence, type Finding } from '../core/findings.ts';
import type { IptablesNodeState } from '../netfilter/iptables-state.ts';
import { dumpsByBackend } from './field-facts.ts';
import type { IptablesDumps } from './iptables-backends.ts';

/** What the FORWARD judgement reads besides the dumps. */
export interface ForwardContext {
  /** The pod veth prefix when the CNI's naming is known (the VPC CNI's `eni`); null otherwise. */
  readonly vethPrefix: string | null;
  /** Whether pods on this node use the node to forward (routed pods), with the line that says so. */
  readonly podsForwarded: { readonly yes: boolean; readonly evidence: string };
}

const MAX_DEPTH = 5;

/** What may accept a new pod connection in a backend's FORWARD: a rule or jump, or undefined. */
export function forwardOpening(s: IptablesNodeState, vethPrefix: string | null): string | undefined {
  const seen = new Set<string>();
  const visit = (chain: string, depth: number): string | undefined => {
    if (chain.startsWith('cali-')) return `jump to Calico's ${chain} (Felix accepts what policy allows)`;
    if (seen.has(chain)) return undefined;
    seen.add(chain);
    const flow = s.filterFlow.get(chain);
    if (!flow) return undefined;
    const accept = flow.accepts.find((a) => mayTakePodTraffic(a.inInterface, vethPrefix));
    if (accept) return accept.rule;
    const other = flow.otherTargets[0];
    if (other !== undefined) return `${chain} sends packets to ${other}, which may accept them`;
    for (const next of flow.jumps) {
      if (depth >= MAX_DEPTH) return `${chain} jumps to ${next}, deeper than this check follows`;
      const found = visit(next, depth + 1);
      if (found) return found;
    }
    return undefined;
  };
  return visit('FORWARD', 1);
}

/** An ACCEPT limited to an input interface takes pod traffic unless that is known not to be a pod veth. */
function mayTakePodTraffic(
  iface: { readonly value: string; readonly negated: boolean } | undefined,
  vethPrefix: string | null,
): boolean {
  if (!iface || iface.negated || vethPrefix === null || iface.value === '+') return true;
  return iface.value.startsWith(vethPrefix);
}

const FIX =
  'Do not persist a ruleset with FORWARD DROP on Kubernetes nodes (or add `-A FORWARD -i eni+ -j ACCEPT` and ' +
  '`-A FORWARD -o eni+ -j ACCEPT` to it); order kubelet.service After=iptables-restore.service (EKS AMI v20201112+ ' +
  'does). Now: `iptables -P FORWARD ACCEPT` in the backend named (iptables-legacy or iptables-nft) and let kube-proxy ' +
  'resync; new connections pass at once.';

/** `forward-policy-drop` findings, one per backend whose FORWARD policy is DROP. */
export function forwardPolicyFindings(d: IptablesDumps, ctx: ForwardContext): Finding[] {
  return dumpsByBackend(d).flatMap(({ name, state }) => {
    const f = backendForwardFinding(name, state, ctx);
    return f ? [f] : [];
  });
}

function backendForwardFinding(
  name: string,
  state: IptablesNodeState,
  ctx: ForwardContext,
): Finding | undefined {
  const policy = state.policies.get('filter FORWARD');
  if (policy?.policy !== 'DROP') return undefined;
  const counted = policy.packets !== undefined ? ` [${policy.packets}:${policy.bytes ?? 0}]` : '';
  const head = `filter FORWARD policy DROP${counted} (${name})`;
  const rules =
    state.forwardRules.length > 0 ? capEvidence(state.forwardRules, 8) : ['no rules in filter FORWARD'];
  const opening = forwardOpening(state, ctx.vethPrefix);
  const base = {
    code: 'forward-policy-drop',
    subjects: [{ kind: 'chain', name: `${name} filter FORWARD` }],
  } as const;
  if (opening === undefined) {
    const pods = ctx.podsForwarded.yes;
    return {
      ...base,
      severity: pods ? 'critical' : 'warning',
      title: pods
        ? `The FORWARD policy of ${name} is DROP and nothing accepts new pod connections: pods cannot open connections off the node`
        : `The FORWARD policy of ${name} is DROP and nothing accepts new forwarded connections`,
      evidence: [
        head,
        ...rules,
        `nothing reachable from FORWARD accepts new connections${ctx.vethPrefix ? ` from ${ctx.vethPrefix}+ veths` : ''}`,
        ctx.podsForwarded.evidence,
      ],
      fix: FIX,
    };
  }
  if (opening.startsWith("jump to Calico's"))
    return {
      ...base,
      severity: 'info',
      title: `The FORWARD policy of ${name} is DROP; Calico accepts the traffic its policy allows`,
      evidence: [head, opening],
      fix: 'Nothing to do while Calico programs this node. If pods lose connectivity while calico-node restarts, the DROP policy is why.',
    };
  if ((policy.packets ?? 0) === 0) return undefined;
  return {
    ...base,
    severity: 'warning',
    title: `The FORWARD policy of ${name} is DROP and has dropped packets, although some pod traffic is accepted`,
    evidence: [head, `accepted by: ${opening}`, ...rules],
    fix: `Find which forwarded traffic the accepting rules miss (the policy counter grows with each dropped packet). ${FIX}`,
  };
}
