/**
 * Field cases judged with kube-proxy (docs/field-cases.md):
 * - 5, `kube-proxy-first-sync-race` (kubernetes#126468, fixed by #126532 and backports): a release
 *   carrying the race is an info (it bites after a restart with many Services; a version cannot say
 *   it did). A UDP flow to a ClusterIP port that kube-proxy now programs, never NATed and never
 *   answered, is the race's lasting damage, whatever the release: critical (it stays blackholed
 *   until the entry goes). Read from `conntrack -L -p udp`, which only the doctor collects.
 * - 12, `kube-proxy-nftables-kernel-too-old`: nftables mode on a kernel before 5.13 (warning).
 * - 9, `iptables-table-incompatible` (calico#8403, #8025): a dump says a table holds nft rules this
 *   iptables cannot print; what netwarden reads of that table is then not the kernel's (warning).
 */
import { capEvidence, type Finding } from '../core/findings.ts';
import { formatVersion, type Version } from '../core/versions.ts';
import type { ConntrackEntry } from '../netfilter/conntrack.ts';
import { serviceKey } from '../netfilter/iptables-state.ts';
import type { CalicoNodeComponent, KubeProxyComponent } from '../sources/components.ts';
import { componentLine, dumpsByBackend, rangeLine, versionState } from './field-facts.ts';
import type { IptablesDumps } from './iptables-backends.ts';

const CASE5 = 'kube-proxy-first-sync-race';

/** Case 5 from kube-proxy's release. */
export function firstSyncRaceVersionFindings(kubeProxy: KubeProxyComponent | undefined): Finding[] {
  if (!kubeProxy || versionState(CASE5, 'kube-proxy', kubeProxy.image.version) !== 'affected') return [];
  return [
    {
      code: CASE5,
      severity: 'info',
      title:
        "kube-proxy's release has the first-sync race: after a restart with many Services, UDP to a ClusterIP can stay blackholed",
      evidence: [componentLine('kube-proxy', kubeProxy), rangeLine(CASE5, 'kube-proxy')],
      subjects: [{ kind: 'node', name: 'kube-proxy' }],
      fix: 'Upgrade kube-proxy to a fixed patch release (1.28.14, 1.29.9, 1.30.5, 1.31.1 or later).',
    },
  ];
}

/**
 * Case 5 from the kernel: UDP flows to a ClusterIP port in `programmed` (`ip udp port` keys of the
 * rules read now) whose reply would come from the ClusterIP itself, unanswered.
 */
export function staleClusterIpFlowFindings(
  flows: readonly ConntrackEntry[],
  programmed: ReadonlySet<string>,
  source: string,
): Finding[] {
  const stale = flows.filter(
    (f) =>
      f.protocol === 'udp' &&
      f.unreplied &&
      f.orig.dport !== undefined &&
      f.reply.src === f.orig.dst &&
      programmed.has(serviceKey(f.orig.dst, 'udp', f.orig.dport)),
  );
  if (stale.length === 0) return [];
  const targets = [...new Set(stale.map((f) => `${f.orig.dst}:${f.orig.dport}`))];
  return [
    {
      code: CASE5,
      severity: 'critical',
      title: `${stale.length} UDP flow(s) to ClusterIP ${targets.slice(0, 3).join(', ')} were never NATed although kube-proxy programs them now: those clients stay blackholed`,
      evidence: capEvidence(
        [
          `${source}: ${stale.length} unanswered flow(s) whose reply would come from the ClusterIP itself`,
          ...stale.map((f) => f.text),
          `kube-proxy programs ${targets.slice(0, 5).join(', ')} now`,
        ],
        22,
      ),
      subjects: targets.slice(0, 20).map((name) => ({ kind: 'ip' as const, name })),
      fix:
        'Delete the stale entries (`conntrack -D -p udp --orig-dst <ClusterIP> --orig-port-dst <port>`), or recycle the ' +
        'client pods; then upgrade kube-proxy to a fixed patch if its release has the first-sync race.',
    },
  ];
}

/** Case 12. */
export function nftablesKernelFindings(
  mode: string | undefined,
  kernel: { readonly version: Version; readonly source: string } | undefined,
): Finding[] {
  if (
    mode !== 'nftables' ||
    !kernel ||
    versionState('kube-proxy-nftables-kernel-too-old', 'kernel', kernel.version) !== 'affected'
  )
    return [];
  return [
    {
      code: 'kube-proxy-nftables-kernel-too-old',
      severity: 'warning',
      title: `kube-proxy runs in nftables mode on kernel ${formatVersion(kernel.version)}: its nftables backend needs 5.13 or later`,
      evidence: [
        `kernel ${kernel.version.raw} (${kernel.source})`,
        rangeLine('kube-proxy-nftables-kernel-too-old', 'kernel'),
      ],
      subjects: [{ kind: 'node', name: 'kube-proxy' }],
      fix: 'Move the node to a kernel 5.13 or later, or run kube-proxy in iptables mode.',
    },
  ];
}

/** Case 9 from the dumps: one warning per backend naming the tables it could not print. */
export function incompatibleTableFindings(d: IptablesDumps): Finding[] {
  return dumpsByBackend(d)
    .filter(({ state }) => state.summary.incompatibleTables.length > 0)
    .map(({ name, state }) => {
      const tables = state.summary.incompatibleTables;
      return {
        code: 'iptables-table-incompatible' as const,
        severity: 'warning' as const,
        title: `${name} could not print table(s) ${tables.join(', ')}: they hold nft rules it cannot translate, so those rules are not judged`,
        evidence: tables.map((t) => `${name}-save: # Table \`${t}' is incompatible, use 'nft' tool.`),
        subjects: tables.map((t) => ({ kind: 'chain' as const, name: `${name} ${t}` })),
        fix:
          'Keep native nft rules out of the iptables-nft tables (put them in a table of their own); give every component an ' +
          'iptables at least as new as the one that wrote the rules (calico-node v3.27.1+ bundles iptables 1.8.8); `nft list table ip <table>` shows them.',
      };
    });
}

/** Case 9 from versions: calico-node before v3.27.1 (iptables 1.8.4) beside kube-proxy's native nftables rules. */
export function calicoOldIptablesFindings(
  calico: CalicoNodeComponent | undefined,
  mode: string | undefined,
): Finding[] {
  if (calico?.edition !== 'open-source' || mode !== 'nftables') return [];
  if (versionState('iptables-table-incompatible', 'calico-node-oss', calico.image.version) !== 'affected')
    return [];
  return [
    {
      code: 'iptables-table-incompatible',
      severity: 'info',
      title:
        "calico-node before v3.27.1 bundles iptables 1.8.4, which cannot read tables that hold kube-proxy's native nftables rules",
      evidence: [
        componentLine('calico-node', calico),
        'kube-proxy mode nftables',
        rangeLine('iptables-table-incompatible', 'calico-node-oss'),
      ],
      subjects: [{ kind: 'node', name: 'calico-node' }],
      fix: "Upgrade calico-node to v3.27.1 or later (iptables 1.8.8), or use Calico's nftables data plane (v3.29+).",
    },
  ];
}
