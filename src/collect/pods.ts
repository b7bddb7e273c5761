/**
 * Reading the local pods' network state off a live node: `ip rule`, `ip route` (every table) and
 * `ip link` as JSON, and the filter table's chain names when Calico is present. The judgement is
 * assess/pods.ts.
 */
import type { Read } from '../core/read.ts';
import {
  type IpLink,
  type IpRoute,
  type IpRule,
  parseIpLinkJson,
  parseIpRouteJson,
  parseIpRuleJson,
} from '../netfilter/ip.ts';
import { execRead, type NodeIo } from './io.ts';
import { readChains } from './kube-proxy.ts';

/** The node's rules, routes and links. */
export async function readIpState(
  io: NodeIo,
  timeoutMs: number,
): Promise<{
  rules: Read<readonly IpRule[]>;
  routes: Read<readonly IpRoute[]>;
  links: Read<readonly IpLink[]>;
}> {
  const opts = { timeoutMs, maxOutputBytes: 64 * 1024 * 1024 };
  const [rules, routes, links] = await Promise.all([
    execRead(io, 'ip', ['-j', '-4', 'rule', 'show'], opts, (t) => parseIpRuleJson(t).items),
    execRead(io, 'ip', ['-j', '-4', 'route', 'show', 'table', 'all'], opts, (t) => parseIpRouteJson(t).items),
    execRead(io, 'ip', ['-j', 'link', 'show'], opts, (t) => parseIpLinkJson(t).items),
  ]);
  return { rules, routes, links };
}

/** The node's `ip rule`s alone (the field cases read the 1536 from-pod rules). */
export function readIpRules(io: NodeIo, timeoutMs: number): Promise<Read<readonly IpRule[]>> {
  return execRead(
    io,
    'ip',
    ['-j', '-4', 'rule', 'show'],
    { timeoutMs, maxOutputBytes: 64 * 1024 * 1024 },
    (t) => parseIpRuleJson(t).items,
  );
}

/** Calico's filter chains (cali-*) when Felix programs this node; undefined when Calico is not here. */
export async function readCalicoChains(
  io: NodeIo,
  saveBin: string,
  timeoutMs: number,
): Promise<ReadonlySet<string> | undefined> {
  const probe = await readChains(io, saveBin, [['filter', 'cali-FORWARD']], timeoutMs, new Set());
  if (probe.status !== 'ok') return undefined;
  const full = await execRead(
    io,
    saveBin,
    ['-t', 'filter'],
    { timeoutMs, maxOutputBytes: 256 * 1024 * 1024 },
    (t) => new Set([...t.matchAll(/^:(cali-\S+)/gm)].map((m) => m[1] as string)),
  );
  return full.status === 'ok' ? full.value : undefined;
}
