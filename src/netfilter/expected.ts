/**
 * What kube-proxy should have programmed for every ClusterIP service port, derived from Services and
 * EndpointSlices the way kube-proxy's CategorizeEndpoints does (ready endpoints, falling back to
 * serving+terminating ones; local endpoints for internalTrafficPolicy: Local). Pure: same input,
 * same output; no clock, no I/O.
 *
 * Memory: the agent keeps this state while Services stand (one per cluster generation), so a port
 * keeps no endpoint list. It keeps the Service's EndpointSlices by reference (the same objects the
 * cache holds) and lists its endpoints anew on each `endpoints()` call; a diff calls it once per port.
 * At 10,000 Services × 5 endpoints that is ~10 MB less heap kept than lists plus the diff's sets.
 *
 * Not modelled: topology-aware routing hints (the chain may then hold a subset of endpoints — the
 * diff does not compare endpoint lists for such services), NodePorts, externalIPs and load-balancer
 * addresses (only ClusterIPs are checked).
 */
import { type EndpointSlice, sliceServiceKey } from '../core/objects.ts';
import {
  iptablesEndpointChain,
  iptablesLocalServiceChain,
  iptablesServiceChain,
  nftEndpointChain,
  nftLocalServiceChain,
  nftServiceChain,
  servicePortName,
} from './chain-names.ts';
import type { ClusterState } from './cluster-state.ts';

/** One endpoint a service chain should send to. */
export interface ExpectedEndpoint {
  readonly ip: string;
  readonly port: number;
  readonly local: boolean;
  /** KUBE-SEP-… (iptables mode). */
  readonly iptablesChain: string;
  /** endpoint-HASH-… (nftables mode). */
  readonly nftChain: string;
}

/**
 * How a ClusterIP port should be programmed: through a service chain to endpoints, as a REJECT
 * (no endpoints anywhere), as a DROP (internalTrafficPolicy Local, none on this node), or unknown
 * (Local policy but the node name is not known).
 */
export type ExpectedVerdict = 'endpoints' | 'no-endpoints' | 'no-local-endpoints' | 'unknown';

/** One ClusterIP + port + protocol (see {@link Port}; only this module makes them). */
export type ExpectedServicePort = Port;

/** Options of the expected-state computation. */
export interface ExpectedOptions {
  /** The node kube-proxy runs on (for Local policies); unknown → verdict `unknown` for those. */
  readonly nodeName?: string;
  /** Address family the proxier handles (kube-proxy runs one proxier per family). */
  readonly ipFamily?: 4 | 6;
}

/** All expected service ports plus notes about skipped objects. */
export interface ExpectedServices {
  readonly ports: readonly ExpectedServicePort[];
  readonly totalEndpoints: number;
  readonly warnings: readonly string[];
}

/** What every endpoint of one service port shares for its chain names (one object per port). */
interface PortNames {
  readonly spn: string;
  readonly protocol: 'tcp' | 'udp' | 'sctp';
  readonly ns: string;
  readonly name: string;
  readonly portName: string;
}

/** What a port needs to list its endpoints again (one object per Service port, shared by its IPs). */
interface EndpointSource {
  readonly slices: readonly EndpointSlice[];
  readonly names: PortNames;
  readonly family: 4 | 6;
  readonly itpLocal: boolean;
  readonly nodeName: string | undefined;
}

/**
 * An endpoint whose chain names are computed on first use: a diff in one mode never pays for the
 * other mode's hashes (60,000 sha256 for 10,000 services × 5 endpoints). The port's names are one
 * shared object, not five fields per endpoint (50,000 endpoints are kept while Services stand).
 */
class LazyEndpoint implements ExpectedEndpoint {
  readonly ip: string;
  readonly port: number;
  readonly local: boolean;
  readonly #names: PortNames;
  #ipt: string | undefined;
  #nft: string | undefined;

  constructor(ip: string, port: number, local: boolean, names: PortNames) {
    this.ip = ip;
    this.port = port;
    this.local = local;
    this.#names = names;
  }

  get iptablesChain(): string {
    this.#ipt ??= iptablesEndpointChain(
      this.#names.spn,
      this.#names.protocol,
      `${isIPv6(this.ip) ? `[${this.ip}]` : this.ip}:${this.port}`,
    );
    return this.#ipt;
  }

  get nftChain(): string {
    const n = this.#names;
    this.#nft ??= nftEndpointChain(n.ns, n.name, n.protocol, n.portName, this.ip, this.port);
    return this.#nft;
  }
}

const PROXY_NAME_LABEL = 'service.kubernetes.io/service-proxy-name';

function isIPv6(ip: string): boolean {
  return ip.includes(':');
}

interface SliceEndpoint {
  ip: string;
  port: number;
  ready: boolean;
  serving: boolean;
  terminating: boolean;
  nodeName: string | undefined;
  hints: boolean;
}

/** The literal, not `toLowerCase()`'s fresh copy: one string shared by every port of a kind. */
function lowerProtocol(p: string | undefined): 'tcp' | 'udp' | 'sctp' | undefined {
  const v = (p ?? 'TCP').toLowerCase();
  return v === 'tcp' ? 'tcp' : v === 'udp' ? 'udp' : v === 'sctp' ? 'sctp' : undefined;
}

/** Endpoints of one service port from its slices, deduplicated by ip:port. */
function sliceEndpoints(
  slices: readonly EndpointSlice[],
  portName: string,
  protocol: string,
  family: 4 | 6,
): SliceEndpoint[] {
  const out = new Map<string, SliceEndpoint>();
  const wantType = family === 4 ? 'IPv4' : 'IPv6';
  for (const s of slices) {
    if (s.addressType !== wantType) continue;
    const sp = (s.ports ?? []).find(
      (p) => (p.name ?? '') === portName && lowerProtocol(p.protocol) === protocol,
    );
    if (sp?.port === undefined || sp.port === null) continue;
    for (const ep of s.endpoints ?? []) {
      const ip = ep.addresses?.[0];
      if (ip === undefined) continue;
      const c = ep.conditions ?? {};
      // API contract: nil ready means ready; nil serving means "same as ready"; nil terminating false.
      const ready = c.ready ?? true;
      const serving = c.serving ?? ready;
      const terminating = c.terminating ?? false;
      const key = `${ip}:${sp.port}`;
      const prev = out.get(key);
      const cur: SliceEndpoint = {
        ip,
        port: sp.port,
        ready: ready || (prev?.ready ?? false),
        serving: serving || (prev?.serving ?? false),
        terminating: terminating && (prev?.terminating ?? true),
        nodeName: ep.nodeName ?? prev?.nodeName,
        hints:
          (ep.hints?.forZones?.length ?? 0) > 0 ||
          (ep.hints?.forNodes?.length ?? 0) > 0 ||
          (prev?.hints ?? false),
      };
      out.set(key, cur);
    }
  }
  return [...out.values()];
}

/**
 * kube-proxy's CategorizeEndpoints for the ClusterIP path: ready endpoints, else serving+terminating
 * ones; for internalTrafficPolicy Local only this node's (ready first, then serving+terminating).
 */
function categorize(
  eps: readonly SliceEndpoint[],
  itpLocal: boolean,
  nodeName: string | undefined,
): { verdict: ExpectedVerdict; chosen: SliceEndpoint[] } {
  const fallback = (e: SliceEndpoint): boolean => e.serving && e.terminating;
  const ready = eps.filter((e) => e.ready);
  const cluster = ready.length > 0 ? ready : eps.filter(fallback);
  const hasAny = cluster.length > 0;
  if (!hasAny) return { verdict: 'no-endpoints', chosen: [] };
  if (!itpLocal) return { verdict: 'endpoints', chosen: cluster };
  if (nodeName === undefined) return { verdict: 'unknown', chosen: [] };
  const local = eps.filter((e) => e.nodeName === nodeName);
  const localReady = local.filter((e) => e.ready);
  const chosen = localReady.length > 0 ? localReady : local.filter(fallback);
  return { verdict: chosen.length > 0 ? 'endpoints' : 'no-local-endpoints', chosen };
}

/** The endpoints `categorize` chooses for one port, as chain targets. */
function listEndpoints(src: EndpointSource): ExpectedEndpoint[] {
  const n = src.names;
  const { chosen } = categorize(
    sliceEndpoints(src.slices, n.portName, n.protocol, src.family),
    src.itpLocal,
    src.nodeName,
  );
  const local = (e: SliceEndpoint): boolean => src.nodeName !== undefined && e.nodeName === src.nodeName;
  return chosen.map((e) => new LazyEndpoint(e.ip, e.port, local(e), n));
}

/**
 * One expected ClusterIP port. Its chain names are computed on first use (a node runs one mode);
 * its endpoints on every call (see the file comment).
 */
class Port {
  readonly namespace: string;
  readonly name: string;
  /** '' for an unnamed port. */
  readonly portName: string;
  /** `ns/name:port` as kube-proxy prints it. */
  readonly servicePortName: string;
  readonly protocol: 'tcp' | 'udp' | 'sctp';
  readonly clusterIP: string;
  readonly port: number;
  readonly internalPolicyLocal: boolean;
  readonly verdict: ExpectedVerdict;
  /** How many endpoints the ClusterIP chain should list. */
  readonly endpointCount: number;
  /** Endpoints carry topology hints: kube-proxy may program a subset. */
  readonly topologyHints: boolean;
  readonly #src: EndpointSource;
  #ipt: string | undefined;
  #nft: string | undefined;

  constructor(
    src: EndpointSource,
    clusterIP: string,
    port: number,
    verdict: ExpectedVerdict,
    endpointCount: number,
    topologyHints: boolean,
  ) {
    const n = src.names;
    this.namespace = n.ns;
    this.name = n.name;
    this.portName = n.portName;
    this.servicePortName = n.spn;
    this.protocol = n.protocol;
    this.clusterIP = clusterIP;
    this.port = port;
    this.internalPolicyLocal = src.itpLocal;
    this.verdict = verdict;
    this.endpointCount = endpointCount;
    this.topologyHints = topologyHints;
    this.#src = src;
  }

  /**
   * The endpoints the ClusterIP chain should list (cluster or local ones), in slice order. Computed
   * anew from the EndpointSlices on every call (nothing is kept): call it once per diff of a port.
   */
  endpoints(): readonly ExpectedEndpoint[] {
    return this.endpointCount === 0 ? [] : listEndpoints(this.#src);
  }

  /** KUBE-SVC-… or KUBE-SVL-… */
  get iptablesChain(): string {
    const n = this.#src.names;
    this.#ipt ??= this.internalPolicyLocal
      ? iptablesLocalServiceChain(n.spn, n.protocol)
      : iptablesServiceChain(n.spn, n.protocol);
    return this.#ipt;
  }

  /** service-… or local-… */
  get nftChain(): string {
    const n = this.#src.names;
    this.#nft ??= this.internalPolicyLocal
      ? nftLocalServiceChain(n.ns, n.name, n.protocol, n.portName)
      : nftServiceChain(n.ns, n.name, n.protocol, n.portName);
    return this.#nft;
  }
}

/** Computes the expected ClusterIP programming of every service port. */
export function expectedServicePorts(cluster: ClusterState, opts: ExpectedOptions = {}): ExpectedServices {
  const family = opts.ipFamily ?? 4;
  const warnings: string[] = [];
  const slicesBySvc = new Map<string, EndpointSlice[]>();
  for (const s of cluster.endpointSlices) {
    const key = sliceServiceKey(s);
    if (!key) continue;
    const list = slicesBySvc.get(key);
    if (list) list.push(s);
    else slicesBySvc.set(key, [s]);
  }
  const ports: ExpectedServicePort[] = [];
  let totalEndpoints = 0;
  for (const svc of cluster.services) {
    const ns = svc.metadata?.namespace ?? 'default';
    const name = svc.metadata?.name ?? '';
    const spec = svc.spec;
    if (!spec || spec.type === 'ExternalName') continue;
    if (svc.metadata?.labels?.[PROXY_NAME_LABEL]) continue; // served by another proxy, not kube-proxy
    const ips = (spec.clusterIPs?.length ? spec.clusterIPs : spec.clusterIP ? [spec.clusterIP] : []).filter(
      (ip) => ip !== 'None' && ip !== '' && isIPv6(ip) === (family === 6),
    );
    if (ips.length === 0) continue;
    const itpLocal = spec.internalTrafficPolicy === 'Local';
    const slices = slicesBySvc.get(`${ns}/${name}`) ?? [];
    for (const p of spec.ports ?? []) {
      const protocol = lowerProtocol(p.protocol);
      if (!protocol) {
        warnings.push(`${ns}/${name}: port ${p.port} has unknown protocol ${String(p.protocol)}`);
        continue;
      }
      const portName = p.name ?? '';
      const spn = servicePortName(ns, name, p.name);
      const src: EndpointSource = {
        slices,
        names: { spn, protocol, ns, name, portName },
        family,
        itpLocal,
        nodeName: opts.nodeName,
      };
      const eps = sliceEndpoints(slices, portName, protocol, family);
      totalEndpoints += eps.length;
      const { verdict, chosen } = categorize(eps, itpLocal, opts.nodeName);
      const hints = chosen.some((e) => e.hints);
      for (const ip of ips) ports.push(new Port(src, ip, p.port, verdict, chosen.length, hints));
    }
  }
  return { ports, totalEndpoints, warnings };
}
