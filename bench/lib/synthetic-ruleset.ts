/**
 * A kube-proxy-shaped iptables-restore input of any size, for benchmarks only: bench/doctor-parse.ts
 * loads it into a private namespace to time iptables-save and the parser at 10,000 Services. Tests
 * never use it — they read what the real kube-proxy wrote (src/netfilter/fixtures/kube-proxy-1.36-*,
 * recorded by examples/record-kube-proxy.ts), because a generator and a parser written by the same
 * people agree by construction. For a real ruleset of this size use bench/kube-proxy-scale.ts.
 *
 * The shape follows those recordings (kube-proxy 1.36, iptables mode): the same fixed chains and
 * jumps, per ClusterIP port a KUBE-SERVICES jump, the masquerade rule and one SVC→SEP rule per
 * endpoint (sorted, with the random-probability matches), per endpoint a SEP chain with its
 * masquerade and DNAT rules, comments left off in large-cluster mode (over 1,000 endpoints), and a
 * filter REJECT/DROP for ports without (local) endpoints. One difference on purpose: KUBE-FORWARD's
 * INVALID rule has no `-m nfacct` match, whose counter only kube-proxy's own namespace has.
 */
import type { ExpectedServices } from '../../src/netfilter/expected.ts';

/** Generation options. */
export interface SyntheticOptions {
  /** Pod CIDR of the masquerade rule of each service chain (omitted when undefined). */
  readonly clusterCidr?: string;
}

/** kube-proxy leaves most comments out above this many endpoints in all. */
const LARGE_CLUSTER_ENDPOINTS = 1000;

/** The rules kube-proxy 1.36 writes whatever the Services (filter table), as recorded. */
const FILTER_FIXED = [
  '-A INPUT -j KUBE-FIREWALL',
  '-A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL',
  '-A INPUT -m comment --comment "kubernetes health check service ports" -j KUBE-NODEPORTS',
  '-A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES',
  '-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL',
  '-A FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD',
  '-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
  '-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES',
  '-A OUTPUT -j KUBE-FIREWALL',
  '-A OUTPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL',
  '-A OUTPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
  '-A KUBE-FIREWALL ! -s 127.0.0.0/8 -d 127.0.0.0/8 -m comment --comment "block incoming localnet connections" -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP',
  '-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP',
  '-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x4000/0x4000 -j ACCEPT',
  '-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
];

/** iptables-restore text for the mangle, filter and nat tables of a kube-proxy node. */
export function syntheticKubeProxyRuleset(expected: ExpectedServices, opts: SyntheticOptions = {}): string {
  const large = expected.totalEndpoints > LARGE_CLUSTER_ENDPOINTS;
  const natChains = new Set(['KUBE-MARK-MASQ', 'KUBE-NODEPORTS', 'KUBE-POSTROUTING', 'KUBE-PROXY-CANARY']);
  const services: string[] = [];
  const chains: string[] = [];
  const filter: string[] = [];
  for (const p of expected.ports) {
    const spn = p.servicePortName;
    const match = `-m ${p.protocol} -p ${p.protocol} -d ${p.clusterIP} --dport ${p.port}`;
    if (p.verdict === 'no-endpoints' || p.verdict === 'no-local-endpoints') {
      const [what, action] =
        p.verdict === 'no-endpoints' ? ['has no endpoints', 'REJECT'] : ['has no local endpoints', 'DROP'];
      filter.push(`-A KUBE-SERVICES -m comment --comment "${spn} ${what}" ${match} -j ${action}`);
      continue;
    }
    if (p.verdict !== 'endpoints') continue;
    services.push(`-A KUBE-SERVICES -m comment --comment "${spn} cluster IP" ${match} -j ${p.iptablesChain}`);
    if (natChains.has(p.iptablesChain)) continue;
    natChains.add(p.iptablesChain);
    if (opts.clusterCidr)
      chains.push(
        `-A ${p.iptablesChain} -m comment --comment "${spn} cluster IP" ${match} ! -s ${opts.clusterCidr} -j KUBE-MARK-MASQ`,
      );
    const eps = [...p.endpoints()].sort((a, b) => (`${a.ip}:${a.port}` < `${b.ip}:${b.port}` ? -1 : 1));
    eps.forEach((e, i) => {
      const comment = large ? '' : `-m comment --comment "${spn} -> ${e.ip}:${e.port}" `;
      const left = eps.length - i;
      const prob = left > 1 ? `-m statistic --mode random --probability ${(1 / left).toFixed(10)} ` : '';
      chains.push(`-A ${p.iptablesChain} ${comment}${prob}-j ${e.iptablesChain}`);
      if (natChains.has(e.iptablesChain)) return;
      natChains.add(e.iptablesChain);
      const sc = large ? '' : `-m comment --comment "${spn}" `;
      chains.push(
        `-A ${e.iptablesChain} ${sc}-s ${e.ip} -j KUBE-MARK-MASQ`,
        `-A ${e.iptablesChain} ${sc}-m ${p.protocol} -p ${p.protocol} -j DNAT --to-destination ${e.ip}:${e.port}`,
      );
    });
  }
  return [
    '*mangle',
    ':KUBE-PROXY-CANARY - [0:0]',
    'COMMIT',
    '*filter',
    ':INPUT ACCEPT [0:0]',
    ':FORWARD ACCEPT [0:0]',
    ':OUTPUT ACCEPT [0:0]',
    ...[
      'KUBE-EXTERNAL-SERVICES',
      'KUBE-FIREWALL',
      'KUBE-FORWARD',
      'KUBE-NODEPORTS',
      'KUBE-PROXY-CANARY',
      'KUBE-PROXY-FIREWALL',
      'KUBE-SERVICES',
    ].map((c) => `:${c} - [0:0]`),
    ...FILTER_FIXED,
    ...filter,
    'COMMIT',
    '*nat',
    ':PREROUTING ACCEPT [0:0]',
    ':INPUT ACCEPT [0:0]',
    ':OUTPUT ACCEPT [0:0]',
    ':POSTROUTING ACCEPT [0:0]',
    ':KUBE-SERVICES - [0:0]',
    ...[...natChains].map((c) => `:${c} - [0:0]`),
    '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
    '-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
    '-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING',
    '-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000',
    '-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN',
    '-A KUBE-POSTROUTING -j MARK --xor-mark 0x4000',
    '-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully',
    ...services,
    '-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS',
    ...chains,
    'COMMIT',
    '',
  ].join('\n');
}
