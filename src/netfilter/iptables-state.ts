/**
 * The parts of an `iptables-save` dump netwarden reasons about, collected while streaming: the
 * kube-proxy hooks, ClusterIP capture rules, per-service and per-endpoint chains, no-endpoint
 * REJECT/DROP rules, AWS VPC CNI SNAT/CONNMARK rules and Calico chains. Everything else is counted
 * and dropped, so a 230k-rule dump costs a few megabytes, not the whole rule list. What is kept
 * is copied flat (core/flat-string.ts): a name sliced out of the dump would keep its chunk alive.
 */

import { flatString } from '../core/flat-string.ts';
import {
  formatRule,
  type IptablesChain,
  type IptablesRule,
  type IptablesSaveOptions,
  IptablesSaveParser,
  type IptablesSaveSink,
  type IptablesSaveSummary,
  LineSplitter,
  matchOption,
  type SkimmedRule,
  targetOption,
} from './iptables-save.ts';

/** A nat KUBE-SERVICES rule that captures one ClusterIP port and sends it to a service chain. */
export interface ClusterIpRule {
  readonly ip: string;
  readonly protocol: string;
  readonly port: number;
  /** KUBE-SVC-…, KUBE-SVL-… (or KUBE-XLB-/KUBE-FW- in old releases). */
  readonly target: string;
  readonly line: number;
}

/** The comment kube-proxy gives the ClusterIP rule of the API server's own Service. */
export const KUBERNETES_SERVICE_COMMENT = 'default/kubernetes:https';

/** A filter rule that rejects or drops a ClusterIP port on purpose (no endpoints / no local endpoints). */
export interface NoEndpointRule {
  readonly chain: string;
  readonly ip: string;
  readonly protocol: string;
  readonly port: number;
  readonly action: 'REJECT' | 'DROP';
  readonly comment?: string;
  readonly line: number;
}

/** The kube-proxy entry points, as the evidence text of the hooking rule (absent when missing). */
export interface KubeProxyHooks {
  readonly natPrerouting?: string;
  readonly natOutput?: string;
  readonly natPostrouting?: string;
  readonly filterOutput?: string;
  readonly filterForward?: string;
}

/** AWS VPC CNI node-level rules. */
export interface AwsCniRules {
  /** nat POSTROUTING → AWS-SNAT-CHAIN-0. */
  readonly snatJump?: string;
  /** The `-j SNAT` rules inside AWS-SNAT-CHAIN-*. */
  readonly snatRules: readonly string[];
  /** CONNMARK rules with an "AWS" comment, in nat and mangle. */
  readonly connmarkRules: number;
  /** nat PREROUTING → AWS-CONNMARK-CHAIN-0 (`-i eni+ … "AWS, outbound connections"`), as printed. */
  readonly connmarkJump?: string;
  /** The `-d` of the RETURN rules of AWS-CONNMARK-CHAIN-*: destinations the connmark leaves alone (at most 32). */
  readonly connmarkReturns: readonly string[];
  /** Any rule or chain that belongs to the VPC CNI (AWS-… chains or "AWS" comments). */
  readonly present: boolean;
}

/** A built-in chain's policy and its counters (`:FORWARD DROP [3:180]`). */
export interface ChainPolicy {
  readonly policy: string;
  readonly packets?: number;
  readonly bytes?: number;
}

/** An ACCEPT rule not limited to established or marked traffic: it may accept new connections. */
export interface OpenAccept {
  readonly rule: string;
  /** Its `-i`, when it has one (a pod veth prefix such as `eni+`, or another interface). */
  readonly inInterface?: { readonly value: string; readonly negated: boolean };
}

/**
 * What a filter chain can do with a new packet, for the question "does anything accept forwarded
 * pod traffic?": its open ACCEPTs, the chains it jumps to, and targets that are neither a verdict
 * nor a chain (NFQUEUE…, where the packet may be accepted elsewhere). Calico's `cali-` chains are
 * not recorded: Felix accepts what policy allows, so a jump there counts as accepting.
 */
export interface FilterChainFlow {
  /** At most 8. */
  readonly accepts: readonly OpenAccept[];
  /** At most 64, in rule order. */
  readonly jumps: readonly string[];
  readonly otherTargets: readonly string[];
}

/** What was collected from one dump. */
export interface IptablesNodeState {
  readonly summary: IptablesSaveSummary;
  /**
   * Chain names declared per table, except kube-proxy's per-endpoint `KUBE-SEP-…` chains (50,000 on a
   * large node; `endpointDnat` holds the ones that DNAT).
   */
  readonly chains: ReadonlyMap<string, ReadonlySet<string>>;
  readonly hooks: KubeProxyHooks;
  /**
   * Key `ip proto port` (see serviceKey). Their comments are not kept (10,000 strings on a large
   * node, held between rounds in the capture listing): the one question asked of them is below.
   */
  readonly clusterIpRules: ReadonlyMap<string, readonly ClusterIpRule[]>;
  /** Whether one of them is commented as the `default/kubernetes` Service's https port. */
  readonly kubernetesServiceRule: boolean;
  readonly noEndpointRules: ReadonlyMap<string, readonly NoEndpointRule[]>;
  /** KUBE-SVC/KUBE-SVL chain → the KUBE-SEP chains it jumps to, in order. */
  readonly serviceChains: ReadonlyMap<string, readonly string[]>;
  /** KUBE-SEP chain → its DNAT `--to-destination`. */
  readonly endpointDnat: ReadonlyMap<string, string>;
  /** IPVS mode matches ClusterIPs through the KUBE-CLUSTER-IP ipset instead of per-IP rules. */
  readonly ipvsClusterIpSet: boolean;
  /** Rules in chains named KUBE-* or jumping to one, per table. */
  readonly kubeRules: Readonly<Record<string, number>>;
  readonly aws: AwsCniRules;
  /** Calico per-workload chains (cali-fw-*, cali-tw-*) and whether any cali- chain exists. */
  readonly calicoWorkloadChains: ReadonlySet<string>;
  readonly calicoPresent: boolean;
  /** Built-in chain policies by `table chain` (`filter FORWARD`). */
  readonly policies: ReadonlyMap<string, ChainPolicy>;
  /** Filter chains' flow (see FilterChainFlow), by chain name; `FORWARD` is where forwarding starts. */
  readonly filterFlow: ReadonlyMap<string, FilterChainFlow>;
  /** The filter FORWARD rules as printed (at most 20), for evidence. */
  readonly forwardRules: readonly string[];
  /** Calico's eBPF-mode drop of packets "From workload without BPF seen mark", with its packet counter when dumped. */
  readonly calicoBpfDrops: readonly { readonly rule: string; readonly packets?: number }[];
}

/** The comment of Calico's eBPF-mode drop (calico#8867, amazon-vpc-cni-k8s#3872). */
const BPF_SEEN_MARK_DROP = 'From workload without BPF seen mark';

/** Targets that never accept a packet: verdicts that drop or return, and ones that only mark or log. */
const NON_ACCEPTING_TARGETS: ReadonlySet<string> = new Set([
  'DROP',
  'REJECT',
  'RETURN',
  'LOG',
  'NFLOG',
  'ULOG',
  'MARK',
  'CONNMARK',
  'CT',
  'NOTRACK',
  'TRACE',
  'AUDIT',
  'CLASSIFY',
  'DSCP',
  'TOS',
  'TCPMSS',
  'CHECKSUM',
  'SET',
]);

/**
 * True when an ACCEPT only takes traffic something else already vouched for: established or
 * related connections (a conntrack/state match without NEW), or packets carrying a mark (kube-proxy's
 * masquerade mark). Negated matches are taken as open: the rule may then take new connections.
 */
function onlyKnownTraffic(r: IptablesRule): boolean {
  for (const m of r.matches) {
    if (m.module === 'mark' || m.module === 'connmark') return true;
    if (m.module !== 'conntrack' && m.module !== 'state') continue;
    const o = m.options.find((x) => x.name === '--ctstate' || x.name === '--state');
    const states = (o?.values[0] ?? '').split(',');
    if (o && !o.negated && !states.includes('NEW') && !states.includes('UNTRACKED')) return true;
  }
  return false;
}

/** Adds one rule that may let a packet on (an ACCEPT, a jump, another target) to its chain's flow. */
function addFlow(
  flow: { accepts: OpenAccept[]; jumps: string[]; otherTargets: string[] },
  r: IptablesRule,
  target: string,
  isChain: boolean,
): void {
  if (target === 'ACCEPT') {
    if (onlyKnownTraffic(r) || flow.accepts.length >= 8) return;
    flow.accepts.push({
      rule: formatRule(r),
      ...(r.inInterface ? { inInterface: { ...r.inInterface } } : {}),
    });
  } else if (isChain) {
    if (flow.jumps.length < 64 && !flow.jumps.includes(target)) flow.jumps.push(target);
  } else if (!flow.otherTargets.includes(target)) flow.otherTargets.push(target);
}

/** The map key of a service port: `10.96.0.1 tcp 443`. */
export function serviceKey(ip: string, protocol: string, port: number): string {
  return `${ip} ${protocol.toLowerCase()} ${port}`;
}

/**
 * A parsed `-p` value as the one shared literal when it is a common one: each rule kept per
 * Service port would otherwise hold its own 3-character copy (10,000 at 10,000 Services).
 */
function sharedProtocol(p: string): string {
  return p === 'tcp' ? 'tcp' : p === 'udp' ? 'udp' : p === 'sctp' ? 'sctp' : p;
}

function hostIp(addr: string | undefined): string | undefined {
  if (addr === undefined) return undefined;
  if (addr.endsWith('/32')) return addr.slice(0, -3);
  if (addr.endsWith('/128')) return addr.slice(0, -4);
  return addr.includes('/') ? undefined : addr;
}

function dport(rule: IptablesRule): number | undefined {
  const proto = rule.protocol?.value;
  const opt =
    (proto ? matchOption(rule, proto, '--dport') : undefined) ??
    matchOption(rule, 'tcp', '--dport') ??
    matchOption(rule, 'udp', '--dport') ??
    matchOption(rule, 'sctp', '--dport') ??
    matchOption(rule, 'multiport', '--dports');
  const v = opt?.values[0];
  if (v === undefined || opt?.negated) return undefined;
  const n = Number(v);
  return Number.isInteger(n) ? n : undefined;
}

function stripQuotes(s: string): string {
  return s.length >= 2 && s.startsWith('"') && s.endsWith('"') ? s.slice(1, -1) : s;
}

/** Collects IptablesNodeState from a parser's sink calls. */
export class IptablesStateCollector implements IptablesSaveSink {
  readonly #chains = new Map<string, Set<string>>();
  readonly #hooks: { -readonly [K in keyof KubeProxyHooks]: KubeProxyHooks[K] } = {};
  readonly #clusterIp = new Map<string, ClusterIpRule[]>();
  readonly #noEp = new Map<string, NoEndpointRule[]>();
  readonly #svcChains = new Map<string, string[]>();
  readonly #sepDnat = new Map<string, string>();
  readonly #kubeRules = new Map<string, number>();
  readonly #calicoWl = new Set<string>();
  readonly #snatRules: string[] = [];
  #ipvs = false;
  #kubernetesService = false;
  #calico = false;
  #awsPresent = false;
  #snatJump: string | undefined;
  #connmark = 0;
  #connmarkJump: string | undefined;
  readonly #connmarkReturns: string[] = [];
  readonly #policies = new Map<string, ChainPolicy>();
  readonly #flow = new Map<string, { accepts: OpenAccept[]; jumps: string[]; otherTargets: string[] }>();
  readonly #forwardRules: string[] = [];
  readonly #bpfDrops: { rule: string; packets?: number }[] = [];
  /** Skimmed nat rules (all in KUBE- chains), counted apart from the map for speed. */
  #skimmedNat = 0;
  #lastSvc: { chain: string; list: string[] } | undefined;

  chain(c: IptablesChain): void {
    const n = c.name;
    if (n.startsWith('KUBE-SEP-')) return;
    if (c.policy !== '-')
      this.#policies.set(`${c.table} ${n}`, {
        policy: c.policy,
        ...(c.counters ? { packets: c.counters.packets, bytes: c.counters.bytes } : {}),
      });
    let set = this.#chains.get(c.table);
    if (!set) {
      set = new Set();
      this.#chains.set(c.table, set);
    }
    set.add(flatString(n));
    if (n.startsWith('cali-')) {
      this.#calico = true;
      if (n.startsWith('cali-fw-') || n.startsWith('cali-tw-')) this.#calicoWl.add(n);
    } else if (n.startsWith('AWS-')) this.#awsPresent = true;
    if (n.startsWith('KUBE-SVC-') || n.startsWith('KUBE-SVL-')) {
      if (!this.#svcChains.has(n)) this.#svcChains.set(flatString(n), []);
    }
  }

  /** kube-proxy's per-service and per-endpoint nat chains: only their targets matter here. */
  skim(table: string, chain: string): boolean {
    return (
      table === 'nat' &&
      (chain.startsWith('KUBE-SEP-') || chain.startsWith('KUBE-SVC-') || chain.startsWith('KUBE-SVL-'))
    );
  }

  skimmed(r: SkimmedRule): void {
    this.#skimmedNat++;
    const target = r.target ?? '';
    if (r.chain.startsWith('KUBE-SEP-')) {
      if (target === 'DNAT') {
        const to = targetOption(r, '--to-destination')?.values[0];
        if (to !== undefined) this.#sepDnat.set(flatString(r.chain), flatString(to));
      }
    } else if (target.startsWith('KUBE-SEP-')) {
      // The parser hands one string object per run of a chain's rules: most lookups end here.
      if (r.chain !== this.#lastSvc?.chain) {
        let list = this.#svcChains.get(r.chain);
        if (!list) {
          list = [];
          this.#svcChains.set(flatString(r.chain), list);
        }
        this.#lastSvc = { chain: r.chain, list };
      }
      this.#lastSvc.list.push(flatString(target));
    }
  }

  rule(r: IptablesRule): void {
    const chain = r.chain;
    const target = r.target ?? '';
    const isKube = chain.startsWith('KUBE-') || target.startsWith('KUBE-');
    if (isKube) this.#kubeRules.set(r.table, (this.#kubeRules.get(r.table) ?? 0) + 1);
    if (r.table === 'nat') this.#natRule(r, chain, target);
    else if (r.table === 'filter') {
      this.#flowRule(r, chain, target);
      this.#filterRule(r, chain, target);
    } else if (r.table === 'mangle') {
      if (target === 'CONNMARK' && r.comments.some((c) => c.startsWith('AWS'))) {
        this.#connmark++;
        this.#awsPresent = true;
      }
    }
    if (chain.startsWith('cali-')) this.#calico = true;
  }

  #natRule(r: IptablesRule, chain: string, target: string): void {
    if (chain === 'KUBE-SERVICES') {
      if (
        target.startsWith('KUBE-SVC-') ||
        target.startsWith('KUBE-SVL-') ||
        target.startsWith('KUBE-XLB-') ||
        target.startsWith('KUBE-FW-')
      ) {
        const ip = hostIp(r.destination?.negated ? undefined : r.destination?.value);
        const port = dport(r);
        const proto = r.protocol?.value;
        if (ip !== undefined && port !== undefined && proto !== undefined) {
          const key = serviceKey(ip, proto, port);
          if (r.comments[0]?.startsWith(KUBERNETES_SERVICE_COMMENT)) this.#kubernetesService = true;
          const entry: ClusterIpRule = {
            ip: flatString(ip),
            protocol: sharedProtocol(proto),
            port,
            target: flatString(target),
            line: r.line,
          };
          const list = this.#clusterIp.get(key);
          if (list) list.push(entry);
          else this.#clusterIp.set(key, [entry]);
        }
      } else if (matchOption(r, 'set', '--match-set')?.values[0] === 'KUBE-CLUSTER-IP') {
        this.#ipvs = true;
      }
      return;
    }
    if (chain.startsWith('KUBE-SEP-')) {
      if (target === 'DNAT') {
        const to = targetOption(r, '--to-destination')?.values[0];
        if (to !== undefined) this.#sepDnat.set(flatString(chain), flatString(to));
      }
      return;
    }
    if (chain.startsWith('KUBE-SVC-') || chain.startsWith('KUBE-SVL-')) {
      if (target.startsWith('KUBE-SEP-')) {
        const list = this.#svcChains.get(chain);
        if (list) list.push(flatString(target));
        else this.#svcChains.set(flatString(chain), [flatString(target)]);
      }
      return;
    }
    if (chain === 'PREROUTING' && target === 'KUBE-SERVICES') this.#hooks.natPrerouting ??= formatRule(r);
    else if (chain === 'OUTPUT' && target === 'KUBE-SERVICES') this.#hooks.natOutput ??= formatRule(r);
    else if (chain === 'POSTROUTING') {
      if (target === 'KUBE-POSTROUTING') this.#hooks.natPostrouting ??= formatRule(r);
      else if (target.startsWith('AWS-SNAT-CHAIN')) {
        this.#snatJump ??= formatRule(r);
        this.#awsPresent = true;
      }
    } else if (chain === 'PREROUTING' && target.startsWith('AWS-CONNMARK-CHAIN')) {
      this.#connmarkJump ??= formatRule(r);
      this.#awsPresent = true;
    } else if (chain.startsWith('AWS-CONNMARK-CHAIN') && target === 'RETURN') {
      this.#awsPresent = true;
      const d = r.destination;
      if (d && !d.negated && this.#connmarkReturns.length < 32) this.#connmarkReturns.push(d.value);
    } else if (chain.startsWith('AWS-SNAT-CHAIN')) {
      this.#awsPresent = true;
      if (target === 'SNAT' && this.#snatRules.length < 16) this.#snatRules.push(formatRule(r));
    } else if (target === 'CONNMARK' && r.comments.some((c) => c.startsWith('AWS'))) {
      this.#connmark++;
      this.#awsPresent = true;
    } else if (chain.startsWith('AWS-')) this.#awsPresent = true;
  }

  #filterRule(r: IptablesRule, chain: string, target: string): void {
    if (
      (chain === 'KUBE-SERVICES' || chain === 'KUBE-EXTERNAL-SERVICES') &&
      (target === 'REJECT' || target === 'DROP')
    ) {
      const ip = hostIp(r.destination?.negated ? undefined : r.destination?.value);
      const port = dport(r);
      const proto = r.protocol?.value;
      if (ip !== undefined && port !== undefined && proto !== undefined) {
        const key = serviceKey(ip, proto, port);
        const c = r.comments[0];
        const entry: NoEndpointRule = {
          chain,
          ip: flatString(ip),
          protocol: sharedProtocol(proto),
          port,
          action: target,
          line: r.line,
          ...(c !== undefined ? { comment: stripQuotes(c) } : {}),
        };
        const list = this.#noEp.get(key);
        if (list) list.push(entry);
        else this.#noEp.set(key, [entry]);
      }
      return;
    }
    if (target === 'KUBE-SERVICES') {
      if (chain === 'OUTPUT') this.#hooks.filterOutput ??= formatRule(r);
      else if (chain === 'FORWARD') this.#hooks.filterForward ??= formatRule(r);
    }
  }

  /** Records what a filter rule does with a new packet (FilterChainFlow) and the FORWARD rules. */
  #flowRule(r: IptablesRule, chain: string, target: string): void {
    if (chain === 'FORWARD' && this.#forwardRules.length < 20) this.#forwardRules.push(formatRule(r));
    if (r.comments.includes(BPF_SEEN_MARK_DROP) && this.#bpfDrops.length < 4)
      this.#bpfDrops.push({ rule: formatRule(r), ...(r.counters ? { packets: r.counters.packets } : {}) });
    if (chain.startsWith('cali-') || target === '' || NON_ACCEPTING_TARGETS.has(target)) return;
    let flow = this.#flow.get(chain);
    if (!flow) {
      flow = { accepts: [], jumps: [], otherTargets: [] };
      this.#flow.set(chain, flow);
    }
    const isChain = this.#chains.get('filter')?.has(target) === true || target.startsWith('cali-');
    addFlow(flow, r, target, isChain);
  }

  /** The collected state, with the parser's summary. */
  result(summary: IptablesSaveSummary): IptablesNodeState {
    return {
      summary,
      chains: this.#chains,
      hooks: { ...this.#hooks },
      clusterIpRules: this.#clusterIp,
      kubernetesServiceRule: this.#kubernetesService,
      noEndpointRules: this.#noEp,
      serviceChains: this.#svcChains,
      endpointDnat: this.#sepDnat,
      ipvsClusterIpSet: this.#ipvs,
      kubeRules: Object.fromEntries(
        this.#skimmedNat > 0
          ? [...this.#kubeRules, ['nat', (this.#kubeRules.get('nat') ?? 0) + this.#skimmedNat]]
          : this.#kubeRules,
      ),
      aws: {
        ...(this.#snatJump !== undefined ? { snatJump: this.#snatJump } : {}),
        snatRules: this.#snatRules,
        connmarkRules: this.#connmark,
        ...(this.#connmarkJump !== undefined ? { connmarkJump: this.#connmarkJump } : {}),
        connmarkReturns: this.#connmarkReturns,
        present: this.#awsPresent,
      },
      calicoWorkloadChains: this.#calicoWl,
      calicoPresent: this.#calico,
      policies: this.#policies,
      filterFlow: this.#flow,
      forwardRules: this.#forwardRules,
      calicoBpfDrops: this.#bpfDrops,
    };
  }
}

/** Reads the node state from a complete dump. */
export function readIptablesState(text: string, opts: IptablesSaveOptions = {}): IptablesNodeState {
  const collector = new IptablesStateCollector();
  const parser = new IptablesSaveParser(collector, opts);
  parser.feed(text);
  return collector.result(parser.end());
}

/**
 * A parser fed piece by piece (a child's stdout as it arrives): `push` text or bytes (UTF-8, split
 * anywhere), then `end` for the state. `extraText` is parsed last (e.g. a warning from stderr).
 */
export function iptablesStateReader(opts: IptablesSaveOptions = {}): {
  push(chunk: string | Buffer): void;
  end(extraText?: string): IptablesNodeState;
} {
  const collector = new IptablesStateCollector();
  const parser = new IptablesSaveParser(collector, opts);
  const splitter = new LineSplitter((t, s, e) => parser.lineRange(t, s, e));
  const decoder = new TextDecoder();
  return {
    push: (chunk) =>
      splitter.push(typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true })),
    end: (extraText) => {
      splitter.push(decoder.decode());
      if (extraText) splitter.push(`\n${extraText}`);
      splitter.end();
      return collector.result(parser.end());
    },
  };
}

/** Reads the node state from a stream of text chunks (a file or a child's stdout). */
export async function readIptablesStateStream(
  chunks: AsyncIterable<string | Buffer>,
  opts: IptablesSaveOptions = {},
): Promise<IptablesNodeState> {
  const reader = iptablesStateReader(opts);
  for await (const chunk of chunks) reader.push(chunk);
  return reader.end();
}

/** True when the dump has any kube-proxy rules at all. */
export function hasKubeProxyRules(state: IptablesNodeState): boolean {
  return (state.kubeRules.nat ?? 0) > 0 || (state.kubeRules.filter ?? 0) > 0;
}
