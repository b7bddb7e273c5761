/**
 * `ip` (iproute2) output parsers: `ip -j rule`, `ip -j route show table all`, `ip -j link`,
 * `ip -j addr`, and the plain-text `ip rule show` / `ip route show table all` that support bundles
 * carry. Everything is normalised to the same shapes so the pod checks do not care which form
 * they got. Host addresses are written without `/32`.
 */

import { isObj, parseJsonInput, str } from '../core/json.ts';
import { NetwardenError } from '../errors.ts';
import type { ParseWarning } from './iptables-save.ts';

/** One policy-routing rule. */
export interface IpRule {
  readonly priority: number;
  /** `all` or an address/prefix. */
  readonly from: string;
  readonly to?: string;
  readonly table: string;
  readonly fwmark?: string;
  readonly iif?: string;
  readonly oif?: string;
  readonly not: boolean;
  /** The rule as `ip rule show` prints it, for evidence. */
  readonly text: string;
}

/** One route. `table` is `main` when the source did not name one. */
export interface IpRoute {
  readonly dst: string;
  readonly table: string;
  readonly type?: string;
  readonly dev?: string;
  readonly gateway?: string;
  readonly scope?: string;
  readonly protocol?: string;
  readonly text: string;
}

/** One link (interface). */
export interface IpLink {
  readonly ifname: string;
  readonly ifindex?: number;
  readonly flags: readonly string[];
  readonly operstate?: string;
  readonly linkType?: string;
}

/** An interface and its addresses. */
export interface IpAddr {
  readonly ifname: string;
  readonly addrs: readonly { readonly family: string; readonly local: string; readonly prefixlen: number }[];
}

/** Parsed items plus warnings about lines or entries that were skipped. */
export interface Parsed<T> {
  readonly items: readonly T[];
  readonly warnings: readonly ParseWarning[];
}

function stripHost(addr: string): string {
  return addr.endsWith('/32') ? addr.slice(0, -3) : addr.endsWith('/128') ? addr.slice(0, -4) : addr;
}

function jsonArray(text: string, what: string): unknown[] {
  const doc = parseJsonInput(text, what);
  if (!Array.isArray(doc)) throw new NetwardenError('input-unreadable', `${what}: expected a JSON array`);
  return doc;
}

function ruleText(r: Omit<IpRule, 'text'>): string {
  const parts = [`${r.priority}:`];
  if (r.not) parts.push('not');
  parts.push('from', r.from);
  if (r.to !== undefined) parts.push('to', r.to);
  if (r.fwmark !== undefined) parts.push('fwmark', r.fwmark);
  if (r.iif !== undefined) parts.push('iif', r.iif);
  if (r.oif !== undefined) parts.push('oif', r.oif);
  parts.push('lookup', r.table);
  return parts.join(' ');
}

/** Parses `ip -j rule` (`ip -j -4 rule show`). */
export function parseIpRuleJson(text: string): Parsed<IpRule> {
  const items: IpRule[] = [];
  const warnings: ParseWarning[] = [];
  jsonArray(text, 'ip -j rule').forEach((e, i) => {
    if (!isObj(e) || typeof e.priority !== 'number') {
      warnings.push({ line: i + 1, message: 'rule without priority' });
      return;
    }
    const srclen = typeof e.srclen === 'number' ? `/${e.srclen}` : '';
    const dstlen = typeof e.dstlen === 'number' ? `/${e.dstlen}` : '';
    const src = str(e.src) ?? 'all';
    const fwmark = str(e.fwmark);
    const fwmask = str(e.fwmask);
    const base = {
      priority: e.priority,
      from: src === 'all' ? 'all' : stripHost(src + srclen),
      ...(e.dst !== undefined ? { to: stripHost((str(e.dst) ?? '') + dstlen) } : {}),
      table: str(e.table) ?? 'main',
      ...(fwmark !== undefined ? { fwmark: fwmask ? `${fwmark}/${fwmask}` : fwmark } : {}),
      ...(str(e.iif) !== undefined ? { iif: str(e.iif) as string } : {}),
      ...(str(e.oif) !== undefined ? { oif: str(e.oif) as string } : {}),
      not: e.not === true || e.not === null,
    };
    items.push({ ...base, text: ruleText(base) });
  });
  return { items, warnings };
}

const RULE_LINE = /^(\d+):\s+(.*)$/;

/** Parses `ip rule show` text (tab or spaces after the priority, as iproute2 versions differ). */
export function parseIpRuleText(text: string): Parsed<IpRule> {
  const items: IpRule[] = [];
  const warnings: ParseWarning[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line.length === 0 || line.startsWith('#')) return;
    const m = RULE_LINE.exec(line);
    if (!m) {
      if (warnings.length < 50) warnings.push({ line: i + 1, message: 'not an ip rule line' });
      return;
    }
    const words = (m[2] ?? '').split(/\s+/);
    let from = 'all';
    let to: string | undefined;
    let table = 'main';
    let fwmark: string | undefined;
    let iif: string | undefined;
    let oif: string | undefined;
    let not = false;
    let ok = false;
    for (let j = 0; j < words.length; j++) {
      const w = words[j];
      const next = words[j + 1];
      if (w === 'not') not = true;
      else if (w === 'from' && next !== undefined) from = stripHost(next);
      else if (w === 'to' && next !== undefined) to = stripHost(next);
      else if ((w === 'lookup' || w === 'table') && next !== undefined) {
        table = next;
        ok = true;
      } else if (w === 'fwmark' && next !== undefined) fwmark = next;
      else if (w === 'iif' && next !== undefined) iif = next;
      else if (w === 'oif' && next !== undefined) oif = next;
      else continue;
      if (w !== 'not') j++;
    }
    if (!ok && !/\b(blackhole|unreachable|prohibit|goto|nop)\b/.test(line)) {
      if (warnings.length < 50) warnings.push({ line: i + 1, message: 'ip rule line without lookup' });
    }
    const base = {
      priority: Number(m[1]),
      from,
      ...(to !== undefined ? { to } : {}),
      table,
      ...(fwmark !== undefined ? { fwmark } : {}),
      ...(iif !== undefined ? { iif } : {}),
      ...(oif !== undefined ? { oif } : {}),
      not,
    };
    items.push({ ...base, text: line });
  });
  return { items, warnings };
}

/** Parses `ip -j route show table all`. */
export function parseIpRouteJson(text: string): Parsed<IpRoute> {
  const items: IpRoute[] = [];
  const warnings: ParseWarning[] = [];
  jsonArray(text, 'ip -j route').forEach((e, i) => {
    if (!isObj(e) || typeof e.dst !== 'string') {
      warnings.push({ line: i + 1, message: 'route without dst' });
      return;
    }
    const r = {
      dst: stripHost(e.dst),
      table: str(e.table) ?? 'main',
      ...(str(e.type) !== undefined ? { type: str(e.type) as string } : {}),
      ...(str(e.dev) !== undefined ? { dev: str(e.dev) as string } : {}),
      ...(str(e.gateway) !== undefined ? { gateway: str(e.gateway) as string } : {}),
      ...(str(e.scope) !== undefined ? { scope: str(e.scope) as string } : {}),
      ...(str(e.protocol) !== undefined ? { protocol: str(e.protocol) as string } : {}),
    };
    const text = [
      r.type && r.type !== 'unicast' ? r.type : '',
      r.dst,
      r.gateway ? `via ${r.gateway}` : '',
      r.dev ? `dev ${r.dev}` : '',
      r.table !== 'main' ? `table ${r.table}` : '',
      r.scope ? `scope ${r.scope}` : '',
    ]
      .filter((x) => x.length > 0)
      .join(' ');
    items.push({ ...r, text });
  });
  return { items, warnings };
}

const ROUTE_TYPES = new Set([
  'unicast',
  'local',
  'broadcast',
  'multicast',
  'throw',
  'unreachable',
  'prohibit',
  'blackhole',
  'nat',
  'anycast',
]);

/** Parses `ip route show [table all]` text. Lines cut short (truncated copies) still give dst/dev. */
export function parseIpRouteText(text: string): Parsed<IpRoute> {
  const items: IpRoute[] = [];
  const warnings: ParseWarning[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line.length === 0 || line.startsWith('#')) return;
    const words = line.split(/\s+/);
    let k = 0;
    let type: string | undefined;
    if (ROUTE_TYPES.has(words[0] ?? '')) {
      type = words[0];
      k = 1;
    }
    const dst = words[k];
    if (dst === undefined || !/^(default|[0-9a-fA-F.:]+(\/\d+)?)$/.test(dst)) {
      if (warnings.length < 50) warnings.push({ line: i + 1, message: 'not an ip route line' });
      return;
    }
    let table = 'main';
    let dev: string | undefined;
    let gateway: string | undefined;
    let scope: string | undefined;
    let protocol: string | undefined;
    for (let j = k + 1; j < words.length - 1; j++) {
      const w = words[j];
      const next = words[j + 1] as string;
      if (w === 'table') table = next;
      else if (w === 'dev') dev = next;
      else if (w === 'via') gateway = next;
      else if (w === 'scope') scope = next;
      else if (w === 'proto') protocol = next;
      else continue;
      j++;
    }
    items.push({
      dst: stripHost(dst),
      table,
      ...(type !== undefined ? { type } : {}),
      ...(dev !== undefined ? { dev } : {}),
      ...(gateway !== undefined ? { gateway } : {}),
      ...(scope !== undefined ? { scope } : {}),
      ...(protocol !== undefined ? { protocol } : {}),
      text: line,
    });
  });
  return { items, warnings };
}

/** Parses `ip -j link`. */
export function parseIpLinkJson(text: string): Parsed<IpLink> {
  const items: IpLink[] = [];
  const warnings: ParseWarning[] = [];
  jsonArray(text, 'ip -j link').forEach((e, i) => {
    if (!isObj(e) || typeof e.ifname !== 'string') {
      warnings.push({ line: i + 1, message: 'link without ifname' });
      return;
    }
    items.push({
      ifname: e.ifname,
      ...(typeof e.ifindex === 'number' ? { ifindex: e.ifindex } : {}),
      flags: Array.isArray(e.flags) ? e.flags.filter((f): f is string => typeof f === 'string') : [],
      ...(str(e.operstate) !== undefined ? { operstate: str(e.operstate) as string } : {}),
      ...(str(e.link_type) !== undefined ? { linkType: str(e.link_type) as string } : {}),
    });
  });
  return { items, warnings };
}

/** Parses `ip -j addr`. */
export function parseIpAddrJson(text: string): Parsed<IpAddr> {
  const items: IpAddr[] = [];
  const warnings: ParseWarning[] = [];
  jsonArray(text, 'ip -j addr').forEach((e, i) => {
    if (!isObj(e) || typeof e.ifname !== 'string') {
      warnings.push({ line: i + 1, message: 'interface without ifname' });
      return;
    }
    const addrs = (Array.isArray(e.addr_info) ? e.addr_info : [])
      .filter(isObj)
      .filter((a) => typeof a.local === 'string')
      .map((a) => ({
        family: str(a.family) ?? '',
        local: a.local as string,
        prefixlen: Number(a.prefixlen ?? 0),
      }));
    items.push({ ifname: e.ifname, addrs });
  });
  return { items, warnings };
}

/** Parses either form of `ip rule` output: JSON when it starts with `[`, text otherwise. */
export function parseIpRules(text: string): Parsed<IpRule> {
  return text.trimStart().startsWith('[') ? parseIpRuleJson(text) : parseIpRuleText(text);
}

/** Parses either form of `ip route` output. */
export function parseIpRoutes(text: string): Parsed<IpRoute> {
  return text.trimStart().startsWith('[') ? parseIpRouteJson(text) : parseIpRouteText(text);
}
