/**
 * `nft -j list table ip kube-proxy` (or any `nft -j list …`) parser, and the kube-proxy view of it:
 * the `service-ips` and `no-endpoint-services` verdict maps, the `cluster-ips` set, chains and the
 * endpoints each service chain dispatches to.
 */

import { isObj, type JsonObject as Obj, parseJsonInput, str } from '../core/json.ts';
import { NetwardenError } from '../errors.ts';
import type { ParseWarning } from './iptables-save.ts';
import { serviceKey } from './iptables-state.ts';

/** A verdict in a map or rule: `goto`/`jump` with a chain, or a bare verdict (`drop`, `accept`…). */
export interface NftVerdict {
  readonly kind: string;
  readonly target?: string;
}

/** One set or map element: the key parts as strings, the mapped value and comment if any. */
export interface NftElement {
  readonly key: readonly string[];
  readonly value?: NftVerdict | string;
  readonly comment?: string;
}

/** A set or map. */
export interface NftSet {
  readonly family: string;
  readonly table: string;
  readonly name: string;
  readonly isMap: boolean;
  readonly elements: readonly NftElement[];
}

/** A chain, with its hook for base chains. */
export interface NftChain {
  readonly family: string;
  readonly table: string;
  readonly name: string;
  readonly hook?: string;
}

/** A rule: its chain and every jump/goto target found in its expressions (vmaps included). */
export interface NftRule {
  readonly family: string;
  readonly table: string;
  readonly chain: string;
  readonly targets: readonly string[];
  /** `dnat to` addresses found in the rule, as `ip:port`. */
  readonly dnat: readonly string[];
  readonly comment?: string;
}

/** A parsed `nft -j` document. */
export interface NftRuleset {
  readonly tables: readonly { family: string; name: string }[];
  readonly chains: readonly NftChain[];
  readonly sets: readonly NftSet[];
  readonly rules: readonly NftRule[];
  readonly warnings: readonly ParseWarning[];
}

function keyParts(v: unknown): string[] {
  if (isObj(v) && Array.isArray(v.concat)) return v.concat.map((p) => keyParts(p).join(','));
  if (isObj(v) && isObj(v.prefix)) return [`${str(v.prefix.addr) ?? '?'}/${str(v.prefix.len) ?? '?'}`];
  if (isObj(v) && Array.isArray(v.range)) return [v.range.map((x) => str(x) ?? '?').join('-')];
  const s = str(v);
  return s === undefined ? ['?'] : [s];
}

function verdictOf(v: unknown): NftVerdict | string | undefined {
  if (!isObj(v)) return str(v);
  for (const kind of ['goto', 'jump']) {
    const t = v[kind];
    if (isObj(t) && typeof t.target === 'string') return { kind, target: t.target };
  }
  for (const kind of ['accept', 'drop', 'continue', 'return', 'reject']) if (kind in v) return { kind };
  return undefined;
}

function elementOf(e: unknown, isMap: boolean): NftElement {
  let keyPart: unknown = e;
  let value: unknown;
  if (isMap && Array.isArray(e)) {
    keyPart = e[0];
    value = e[1];
  }
  let comment: string | undefined;
  if (isObj(keyPart) && isObj(keyPart.elem)) {
    comment = str(keyPart.elem.comment);
    keyPart = keyPart.elem.val;
  }
  const v = value === undefined ? undefined : verdictOf(value);
  return {
    key: keyParts(keyPart),
    ...(v !== undefined ? { value: v } : {}),
    ...(comment !== undefined ? { comment } : {}),
  };
}

/**
 * The destinations of kube-proxy's load-balancing DNAT (1.31+ nftables mode, no endpoint chains):
 * `dnat ip to numgen random mod N map { 0 : ip . port, … }`, i.e. in JSON
 * `{map: {key: {numgen: …}, data: {set: [[0, {concat: [ip, port]}], …]}}}`. Recorded from the lab.
 */
function numgenMapDestinations(addr: unknown): string[] {
  if (!isObj(addr) || !isObj(addr.map) || !isObj(addr.map.data)) return [];
  const set = addr.map.data.set;
  if (!Array.isArray(set)) return [];
  const out: string[] = [];
  for (const entry of set) {
    const value = Array.isArray(entry) ? entry[1] : undefined;
    const concat = isObj(value) && Array.isArray(value.concat) ? value.concat : undefined;
    const ip = str(concat?.[0]);
    const port = str(concat?.[1]);
    if (ip !== undefined) out.push(port !== undefined ? `${ip}:${port}` : ip);
  }
  return out;
}

/** Walks rule expressions collecting jump/goto targets and dnat destinations. */
function scanExpr(v: unknown, targets: string[], dnat: string[], depth: number): void {
  if (depth > 32) return;
  if (Array.isArray(v)) {
    for (const x of v) scanExpr(x, targets, dnat, depth + 1);
    return;
  }
  if (!isObj(v)) return;
  for (const kind of ['goto', 'jump']) {
    const t = v[kind];
    if (isObj(t) && typeof t.target === 'string') targets.push(t.target);
  }
  if (isObj(v.dnat)) {
    const addr = str(v.dnat.addr);
    const port = str(v.dnat.port);
    if (addr !== undefined) dnat.push(port !== undefined ? `${addr}:${port}` : addr);
    else dnat.push(...numgenMapDestinations(v.dnat.addr));
  }
  for (const [k, x] of Object.entries(v))
    if (k !== 'dnat' && typeof x === 'object') scanExpr(x, targets, dnat, depth + 1);
}

/** Parses `nft -j list …` output. Throws `input-unreadable` when it is not an nftables JSON document. */
export function parseNftJson(text: string, source = 'nft -j output'): NftRuleset {
  const doc = parseJsonInput(text, source);
  if (!isObj(doc) || !Array.isArray(doc.nftables)) {
    throw new NetwardenError(
      'input-unreadable',
      `${source}: not an nftables JSON document (no "nftables" array)`,
    );
  }
  const tables: { family: string; name: string }[] = [];
  const chains: NftChain[] = [];
  const sets: NftSet[] = [];
  const rules: NftRule[] = [];
  const warnings: ParseWarning[] = [];
  doc.nftables.forEach((item, i) => {
    if (!isObj(item)) {
      if (warnings.length < 50) warnings.push({ line: i + 1, message: 'item is not an object' });
      return;
    }
    if (isObj(item.table)) {
      tables.push({ family: str(item.table.family) ?? '', name: str(item.table.name) ?? '' });
    } else if (isObj(item.chain)) {
      const c = item.chain;
      const hook = str(c.hook);
      chains.push({
        family: str(c.family) ?? '',
        table: str(c.table) ?? '',
        name: str(c.name) ?? '',
        ...(hook ? { hook } : {}),
      });
    } else if (isObj(item.set) || isObj(item.map)) {
      const s = (isObj(item.set) ? item.set : item.map) as Obj;
      const isMap = isObj(item.map);
      const elems = Array.isArray(s.elem) ? s.elem : [];
      sets.push({
        family: str(s.family) ?? '',
        table: str(s.table) ?? '',
        name: str(s.name) ?? '',
        isMap,
        elements: elems.map((e) => elementOf(e, isMap)),
      });
    } else if (isObj(item.rule)) {
      const r = item.rule;
      const targets: string[] = [];
      const dnat: string[] = [];
      scanExpr(r.expr, targets, dnat, 0);
      const comment = str(r.comment);
      rules.push({
        family: str(r.family) ?? '',
        table: str(r.table) ?? '',
        chain: str(r.chain) ?? '',
        targets,
        dnat,
        ...(comment !== undefined ? { comment } : {}),
      });
    }
  });
  return { tables, chains, sets, rules, warnings };
}

/** A map entry for one ClusterIP port. */
export interface NftServiceEntry {
  readonly verdict: NftVerdict | string | undefined;
  readonly comment?: string;
}

/** kube-proxy's nftables programming, keyed like the iptables view (`ip proto port`). */
export interface NftKubeProxyState {
  readonly tablePresent: boolean;
  readonly chains: ReadonlySet<string>;
  readonly serviceIps: ReadonlyMap<string, NftServiceEntry>;
  readonly noEndpointServices: ReadonlyMap<string, NftServiceEntry>;
  readonly clusterIps: ReadonlySet<string>;
  /** service-/local- chain → endpoint- chains it dispatches to (kube-proxy before 1.31). */
  readonly serviceEndpoints: ReadonlyMap<string, readonly string[]>;
  /** service-/local- chain → endpoints it DNATs to directly, `ip:port` (kube-proxy 1.31+). */
  readonly serviceDnat: ReadonlyMap<string, readonly string[]>;
  /** endpoint- chain → its dnat destinations. */
  readonly endpointDnat: ReadonlyMap<string, string>;
  /** Base chains that jump to `services` (nat-prerouting, nat-output). */
  readonly servicesHookedFrom: readonly string[];
  readonly warnings: readonly ParseWarning[];
}

function toMap(set: NftSet | undefined): Map<string, NftServiceEntry> {
  const m = new Map<string, NftServiceEntry>();
  for (const e of set?.elements ?? []) {
    const [ip, proto, port] = e.key;
    if (ip === undefined || proto === undefined || port === undefined) continue;
    m.set(serviceKey(ip, proto, Number(port)), {
      verdict: e.value,
      ...(e.comment !== undefined ? { comment: e.comment } : {}),
    });
  }
  return m;
}

/** A per-service chain (`service-<HASH8>-…` / `local-<HASH8>-…`), not a helper like `service-endpoints-check`. */
function isServiceChain(name: string): boolean {
  return /^(service|local)-[A-Z2-7]{8}-/.test(name);
}

/** Extracts kube-proxy's state from a ruleset (family `ip`, or `ip6` when asked). */
export function kubeProxyNftState(rs: NftRuleset, family: 'ip' | 'ip6' = 'ip'): NftKubeProxyState {
  const inTable = (x: { family: string; table: string }): boolean =>
    x.family === family && x.table === 'kube-proxy';
  const tablePresent = rs.tables.some((t) => t.family === family && t.name === 'kube-proxy');
  const chains = new Set(rs.chains.filter(inTable).map((c) => c.name));
  const setNamed = (n: string): NftSet | undefined => rs.sets.find((s) => inTable(s) && s.name === n);
  const serviceEndpoints = new Map<string, string[]>();
  const serviceDnat = new Map<string, string[]>();
  const endpointDnat = new Map<string, string>();
  const hooked: string[] = [];
  for (const r of rs.rules) {
    if (!inTable(r)) continue;
    if (isServiceChain(r.chain)) {
      const eps = r.targets.filter((t) => t.startsWith('endpoint-'));
      if (eps.length > 0) serviceEndpoints.set(r.chain, [...(serviceEndpoints.get(r.chain) ?? []), ...eps]);
      if (r.dnat.length > 0) serviceDnat.set(r.chain, [...(serviceDnat.get(r.chain) ?? []), ...r.dnat]);
    } else if (r.chain.startsWith('endpoint-')) {
      const d = r.dnat[0];
      if (d !== undefined) endpointDnat.set(r.chain, d);
    } else if (r.targets.includes('services')) hooked.push(r.chain);
  }
  for (const c of chains) if (isServiceChain(c) && !serviceEndpoints.has(c)) serviceEndpoints.set(c, []);
  const clusterIps = new Set((setNamed('cluster-ips')?.elements ?? []).map((e) => e.key[0] ?? ''));
  return {
    tablePresent,
    chains,
    serviceIps: toMap(setNamed('service-ips')),
    noEndpointServices: toMap(setNamed('no-endpoint-services')),
    clusterIps,
    serviceEndpoints,
    serviceDnat,
    endpointDnat,
    servicesHookedFrom: hooked,
    warnings: rs.warnings,
  };
}

/** The tables of a ruleset as `family name` (`ip kube-proxy`, `ip aws-cni`), from `nft -j list tables`. */
export function nftTableNames(rs: NftRuleset): ReadonlySet<string> {
  return new Set(rs.tables.map((t) => `${t.family} ${t.name}`));
}

const TABLE_OPEN = /^table (ip|ip6|inet|arp|bridge|netdev) (\S+) \{$/;

/**
 * The tables named by `nft list flowtables` (text), as `family name`: nft prints every table there,
 * each as a `table <family> <name> {` … `}` block holding only its flowtables, and fetches no rule
 * for it. Throws `input-unreadable` on any other top-level line, so a changed format reads as
 * unknown rather than as "no tables".
 */
export function nftTablesFromFlowtableListing(text: string): ReadonlySet<string> {
  const out = new Set<string>();
  for (const [i, line] of text.split('\n').entries()) {
    if (line === '' || line === '}' || /^\s/.test(line)) continue;
    const m = TABLE_OPEN.exec(line);
    if (!m)
      throw new NetwardenError(
        'input-unreadable',
        `nft list flowtables, line ${i + 1}: expected "table <family> <name> {", got "${line.slice(0, 80)}"`,
      );
    out.add(`${m[1]} ${m[2]}`);
  }
  return out;
}
