/**
 * Which iptables backend holds what. The kernel evaluates the rules of both iptables-nft and
 * iptables-legacy; kube-proxy's rules in one and the host's (or the CNI's) in the other is a
 * classic post-upgrade failure, and stale kube-proxy rules in the other backend can shadow fresh
 * ones. Which backend's rule wins depends on the kernel (measured here: nft won in every order;
 * field reports saw legacy win), so a mix is a risk, not proof of a broken path: these findings are
 * warnings and never hold a node by themselves. When the mix does break traffic, the probes (TCP
 * to the kubernetes Service from the node and from pods) are the positive evidence.
 */
import type { Finding } from '../core/findings.ts';
import { hasKubeProxyRules, type IptablesNodeState } from '../netfilter/iptables-state.ts';

/** The dumps read from a node: per backend when read one by one, else the default `iptables-save`. */
export interface IptablesDumps {
  readonly dflt: IptablesNodeState | undefined;
  readonly nft: IptablesNodeState | undefined;
  readonly legacy: IptablesNodeState | undefined;
}

/** The dump kube-proxy's rules are checked in: the configured backend, else the one holding kube-proxy rules. */
export function chooseKubeProxyDump(
  d: IptablesDumps,
  want: 'nft' | 'legacy' | undefined,
): IptablesNodeState | undefined {
  if (want === 'nft' && d.nft) return d.nft;
  if (want === 'legacy' && d.legacy) return d.legacy;
  for (const s of [d.dflt, d.nft, d.legacy]) if (s && hasKubeProxyRules(s)) return s;
  return d.dflt ?? d.nft ?? d.legacy;
}

/**
 * `iptables-backend-mismatch` findings. `want` is kube-proxy's configured backend, when known;
 * `context` lines (the VPC CNI's and Calico's versions and settings) go to each finding's evidence.
 */
export function backendFindings(
  d: IptablesDumps,
  want: 'nft' | 'legacy' | undefined,
  context: readonly string[] = [],
): Finding[] {
  return mismatchFindings(d, want).map((f) =>
    context.length > 0 ? { ...f, evidence: [...f.evidence, ...context] } : f,
  );
}

function mismatchFindings(d: IptablesDumps, want: 'nft' | 'legacy' | undefined): Finding[] {
  const { dflt, nft: nftB, legacy: legacyB } = d;
  const out: Finding[] = [];
  const nftKube = nftB ? hasKubeProxyRules(nftB) : undefined;
  const legacyKube = legacyB ? hasKubeProxyRules(legacyB) : undefined;
  const count = (s: IptablesNodeState): string =>
    `nat ${s.kubeRules.nat ?? 0}, filter ${s.kubeRules.filter ?? 0} KUBE-* rules`;
  const fix =
    'kube-proxy, kubelet and the CNI must use the same iptables backend as the host (iptables-nft on AL2023/Bottlerocket). ' +
    'Use a kube-proxy image whose iptables wrapper detects the host backend (or set it explicitly), remove the stale ' +
    'rules of the other backend (`iptables-legacy-save`/`iptables-nft-save` to compare), and reboot or recycle affected pods.';
  if (nftB && legacyB && nftB !== legacyB && nftKube && legacyKube) {
    out.push({
      code: 'iptables-backend-mismatch',
      severity: 'warning',
      title:
        'kube-proxy rules exist in both iptables-nft and iptables-legacy: the kernel evaluates both, and stale rules can shadow fresh ones',
      evidence: [`iptables-nft: ${count(nftB)}`, `iptables-legacy: ${count(legacyB)}`],
      subjects: [{ kind: 'node', name: 'iptables' }],
      fix,
    });
  } else if (
    want &&
    ((want === 'nft' && nftB && !nftKube && legacyKube) ||
      (want === 'legacy' && legacyB && !legacyKube && nftKube))
  ) {
    out.push({
      code: 'iptables-backend-mismatch',
      severity: 'warning',
      title: `kube-proxy should use iptables-${want} but its rules are only in the other backend`,
      evidence: [
        nftB ? `iptables-nft: ${count(nftB)}` : 'iptables-nft: not collected',
        legacyB ? `iptables-legacy: ${count(legacyB)}` : 'iptables-legacy: not collected',
      ],
      subjects: [{ kind: 'node', name: 'iptables' }],
      fix,
    });
  } else if (nftB && legacyB && nftB !== legacyB && nftKube !== legacyKube) {
    // kube-proxy in one backend while the host's default iptables or the CNI's rules are in the other.
    const kubeSide = nftKube ? 'nft' : 'legacy';
    const other = nftKube ? legacyB : nftB;
    const otherName = nftKube ? 'legacy' : 'nft';
    const why = [
      other === dflt ? `iptables-save on this host is iptables-${otherName}` : '',
      other.aws.present ? `the VPC CNI's rules are in iptables-${otherName}` : '',
      other.calicoPresent ? `Calico's chains are in iptables-${otherName}` : '',
    ].filter((x) => x !== '');
    if (why.length > 0) {
      out.push({
        code: 'iptables-backend-mismatch',
        severity: 'warning',
        title: `kube-proxy's rules are in iptables-${kubeSide}, but ${why.join(' and ')}`,
        evidence: [
          `iptables-nft: ${count(nftB)}${nftB.aws.present ? ', AWS CNI rules' : ''}${nftB.calicoPresent ? ', Calico chains' : ''}`,
          `iptables-legacy: ${count(legacyB)}${legacyB.aws.present ? ', AWS CNI rules' : ''}${legacyB.calicoPresent ? ', Calico chains' : ''}`,
        ],
        subjects: [{ kind: 'node', name: 'iptables' }],
        fix,
      });
    }
  } else if (
    dflt &&
    dflt.summary.backend === 'nft' &&
    dflt.summary.legacyTablesPresent &&
    !legacyB?.summary
  ) {
    const kube = hasKubeProxyRules(dflt);
    out.push({
      code: 'iptables-backend-mismatch',
      severity: 'warning',
      title: kube
        ? 'iptables-legacy tables exist beside the iptables-nft ruleset kube-proxy uses'
        : 'No kube-proxy rules in iptables-nft, and iptables-legacy tables exist: kube-proxy probably writes the legacy backend',
      evidence: [
        `${dflt.summary.generatedBy ?? 'iptables-nft-save'}: ${count(dflt)}`,
        '# Warning: iptables-legacy tables present, use iptables-legacy-save to see them',
      ],
      subjects: [{ kind: 'node', name: 'iptables' }],
      fix: `${fix} This bundle has no iptables-legacy-save output; collect it to see what the legacy tables hold.`,
    });
  }
  return out;
}
