/**
 * What the node's logs say: the VPC CNI's plugin.log and ipamd.log, the kubelet's sandbox failures
 * and kube-proxy's failed syncs. Only bundles and live doctor runs carry logs; the agent does not
 * read them.
 */
import { capEvidence, type Finding, type Subject } from '../core/findings.ts';
import type { SandboxFailure } from '../sources/kubelet-log.ts';
import { type CniLog, groupErrors, isIpamdUnreachable } from '../sources/vpc-cni-logs.ts';

/** Findings from the two logs: `ipamd-unreachable` (plugin.log) and `ipamd-errors` (grouped). */
export function vpcCniLogFindings(
  logs: {
    readonly ipamd?: CniLog;
    readonly plugin?: CniLog;
    readonly ipamdPath?: string;
    readonly pluginPath?: string;
  },
  opts: { readonly maxGroups?: number } = {},
): Finding[] {
  const findings: Finding[] = [];
  const unreachable = (logs.plugin?.entries ?? []).filter((e) => isIpamdUnreachable(e.msg));
  if (unreachable.length > 0) {
    const first = unreachable[0];
    const last = unreachable[unreachable.length - 1];
    findings.push({
      code: 'ipamd-unreachable',
      severity: 'critical',
      title: `The CNI plugin could not reach ipamd (127.0.0.1:50051) ${unreachable.length} time(s)`,
      evidence: capEvidence(
        [
          `${logs.pluginPath ?? 'plugin.log'}: first ${first?.ts ?? '?'}, last ${last?.ts ?? '?'}`,
          ...unreachable.slice(0, 5).map((e) => `line ${e.line}: ${e.msg.slice(0, 400)}`),
        ],
        8,
      ),
      subjects: [{ kind: 'node', name: 'aws-node (ipamd)' }],
      fix:
        'aws-node/ipamd was not running or not ready when pods were created. Check the aws-node pod on this node ' +
        '(kubectl -n kube-system logs <aws-node pod> -c aws-node; /var/log/aws-routed-eni/ipamd.log for why it did not start: ' +
        'API server or EC2 API reachability, IAM). Pods created meanwhile stay in ContainerCreating or, if they got an ' +
        'address from a stale checkpoint, may lack routes: delete them once aws-node is Ready.',
    });
  }
  const groups = groupErrors(logs.ipamd?.entries ?? []);
  if (groups.length > 0) {
    const total = groups.reduce((n, g) => n + g.count, 0);
    const max = opts.maxGroups ?? 10;
    findings.push({
      code: 'ipamd-errors',
      severity: 'warning',
      title: `ipamd logged ${total} error(s) in ${groups.length} distinct message(s)`,
      evidence: capEvidence(
        groups.map((g) => `${g.count}× [${g.first ?? '?'} … ${g.last ?? '?'}] ${g.template}`),
        max,
      ),
      subjects: [{ kind: 'file', name: logs.ipamdPath ?? 'ipamd.log' }],
      fix: 'Read the most frequent messages first: EC2 API throttling or IAM errors stop ENI/IP allocation; "no available IP addresses" means the subnet or the instance ENI limit is exhausted.',
    });
  }
  return findings;
}

function pods(list: readonly SandboxFailure[], max: number): Subject[] {
  const names = [...new Set(list.map((f) => f.pod).filter((p): p is string => p !== undefined))];
  return names.slice(0, max).map((name) => ({ kind: 'pod', name }));
}

/** Findings from sandbox failures: `ip-assign-failed` and `ipamd-unreachable` (as the kubelet saw it). */
export function sandboxFailureFindings(
  failures: readonly SandboxFailure[],
  source: string,
  max = 10,
): Finding[] {
  const findings: Finding[] = [];
  const unreachable = failures.filter((f) => f.kind === 'ipamd-unreachable');
  const assign = failures.filter((f) => f.kind === 'ip-assign-failed');
  const show = (f: SandboxFailure): string =>
    `${source}:${f.line}: ${f.text.length > 400 ? `${f.text.slice(0, 400)}…` : f.text}`;
  if (unreachable.length > 0) {
    findings.push({
      code: 'ipamd-unreachable',
      severity: 'critical',
      title: `${unreachable.length} pod sandbox(es) failed: the CNI could not reach ipamd on 127.0.0.1:50051`,
      evidence: capEvidence(unreachable.map(show), max),
      subjects: pods(unreachable, max),
      fix:
        'aws-node (ipamd) was not listening when these pods were created. Check the aws-node pod on this node and ' +
        'ipamd.log for why it did not start (API server, EC2 API, IAM). The kubelet retries; once aws-node is Ready, ' +
        'delete pods that still have no network.',
    });
  }
  if (assign.length > 0) {
    findings.push({
      code: 'ip-assign-failed',
      severity: 'critical',
      title: `${assign.length} pod sandbox(es) failed: "failed to assign an IP address to container"`,
      evidence: capEvidence(assign.map(show), max),
      subjects: pods(assign, max),
      fix:
        'ipamd had no free IP for the pod: the node hit its ENI/IP limit (max pods), the subnet is exhausted, or ' +
        "ipamd could not attach ENIs (EC2 API/IAM errors in ipamd.log). Check ipamd.log and the subnet's free " +
        'addresses; consider prefix delegation or WARM_IP_TARGET tuning.',
    });
  }
  return findings;
}

/** `kube-proxy-not-synced` (warning) from kube-proxy's own log: its failed syncs, with the lines. */
export function kubeProxyLogFindings(log: string): Finding[] {
  const lines = log
    .split('\n')
    .filter((l) =>
      /Sync failed|Failed to execute iptables-restore|nftables sync failed|iptables-restore: line \d+ failed/i.test(
        l,
      ),
    );
  if (lines.length === 0) return [];
  return [
    {
      code: 'kube-proxy-not-synced',
      severity: 'warning',
      title: `kube-proxy logged ${lines.length} failed sync(s)`,
      evidence: capEvidence(
        lines.map((l) => l.trim().slice(0, 400)),
        8,
      ),
      subjects: [{ kind: 'node', name: 'kube-proxy' }],
      fix: 'The last lines tell why iptables-restore/nft failed (often a backend mismatch or a missing kernel module); fix that and restart kube-proxy.',
    },
  ];
}
