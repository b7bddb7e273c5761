/**
 * Renders the iptables-restore input kube-proxy (iptables mode) would write for a set of expected
 * service ports — the same chains, matches and comments. Used to build fixtures, sample bundles and
 * the benchmark ruleset through a real `iptables-restore`/`iptables-save` round trip, and by tests
 * as an oracle: parse(save(restore(render(expected)))) must diff clean against `expected`.
 */
import type { ExpectedServices } from './expected.ts';

/** Rendering options. */
export interface RenderOptions {
  /** Leave the SVC→SEP and SEP comments out, as kube-proxy does above 1000 endpoints. */
  readonly largeClusterMode?: boolean;
  /** Pod CIDR for the masquerade rule of each service chain (omitted when undefined). */
  readonly clusterCidr?: string;
  /** Also render the built-in hooks (PREROUTING/OUTPUT/POSTROUTING jumps). Default true. */
  readonly hooks?: boolean;
}

/** iptables-restore text for the nat and filter tables. */
export function renderKubeProxyIptables(expected: ExpectedServices, opts: RenderOptions = {}): string {
  const nat: string[] = [];
  const natChains = new Set<string>([
    'KUBE-SERVICES',
    'KUBE-NODEPORTS',
    'KUBE-POSTROUTING',
    'KUBE-MARK-MASQ',
    'KUBE-PROXY-CANARY',
  ]);
  const filter: string[] = [];
  const hooks = opts.hooks ?? true;
  const seen = new Set<string>();
  for (const p of expected.ports) {
    const spn = p.servicePortName;
    if (p.verdict === 'endpoints') {
      nat.push(
        `-A KUBE-SERVICES -m comment --comment "${spn} cluster IP" -m ${p.protocol} -p ${p.protocol} -d ${p.clusterIP} --dport ${p.port} -j ${p.iptablesChain}`,
      );
      if (seen.has(p.iptablesChain)) continue;
      seen.add(p.iptablesChain);
      natChains.add(p.iptablesChain);
      if (opts.clusterCidr) {
        nat.push(
          `-A ${p.iptablesChain} -m comment --comment "${spn} cluster IP" -m ${p.protocol} -p ${p.protocol} -d ${p.clusterIP} --dport ${p.port} ! -s ${opts.clusterCidr} -j KUBE-MARK-MASQ`,
        );
      }
      const n = p.endpoints.length;
      p.endpoints.forEach((e, i) => {
        const c = opts.largeClusterMode ? '' : `-m comment --comment "${spn} -> ${e.ip}:${e.port}" `;
        const prob =
          i < n - 1 ? `-m statistic --mode random --probability ${(1 / (n - i)).toFixed(10)} ` : '';
        nat.push(`-A ${p.iptablesChain} ${c}${prob}-j ${e.iptablesChain}`);
        if (natChains.has(e.iptablesChain)) return;
        natChains.add(e.iptablesChain);
        const sc = opts.largeClusterMode ? '' : `-m comment --comment "${spn}" `;
        nat.push(`-A ${e.iptablesChain} ${sc}-s ${e.ip} -j KUBE-MARK-MASQ`);
        nat.push(
          `-A ${e.iptablesChain} ${sc}-m ${p.protocol} -p ${p.protocol} -j DNAT --to-destination ${e.ip}:${e.port}`,
        );
      });
    } else if (p.verdict === 'no-endpoints') {
      filter.push(
        `-A KUBE-SERVICES -m comment --comment "\\"${spn} has no endpoints\\"" -m ${p.protocol} -p ${p.protocol} -d ${p.clusterIP} --dport ${p.port} -j REJECT`,
      );
    } else if (p.verdict === 'no-local-endpoints') {
      filter.push(
        `-A KUBE-SERVICES -m comment --comment "\\"${spn} has no local endpoints\\"" -m ${p.protocol} -p ${p.protocol} -d ${p.clusterIP} --dport ${p.port} -j DROP`,
      );
    }
  }
  nat.push(
    '-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS',
    '-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000',
    '-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN',
    '-A KUBE-POSTROUTING -j MARK --xor-mark 0x4000',
    '-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully',
  );
  const out: string[] = ['*nat'];
  if (hooks)
    out.push(
      ':PREROUTING ACCEPT [0:0]',
      ':INPUT ACCEPT [0:0]',
      ':OUTPUT ACCEPT [0:0]',
      ':POSTROUTING ACCEPT [0:0]',
    );
  for (const c of natChains) out.push(`:${c} - [0:0]`);
  const append = (lines: readonly string[]): void => {
    for (const l of lines) out.push(l);
  };
  if (hooks) {
    out.push(
      '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
      '-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
      '-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING',
    );
  }
  append(nat);
  out.push('COMMIT', '*filter');
  if (hooks) out.push(':INPUT ACCEPT [0:0]', ':FORWARD ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]');
  out.push(
    ':KUBE-SERVICES - [0:0]',
    ':KUBE-EXTERNAL-SERVICES - [0:0]',
    ':KUBE-FORWARD - [0:0]',
    ':KUBE-PROXY-CANARY - [0:0]',
  );
  if (hooks) {
    out.push(
      '-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
      '-A OUTPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
      '-A FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD',
    );
  }
  append(filter);
  out.push('-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP', 'COMMIT', '');
  return out.join('\n');
}
