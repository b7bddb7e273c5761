/**
 * Reading the local pods' network state off a live node: `ip rule`, `ip route` (every table) and
 * `ip link` as JSON, and the filter table's chain names when Calico is present. The judgement is
 * assess/pods.ts.
 */
import { type Read, readOk, readUnknown } from '../core/read.ts';
import { describeError } from '../errors.ts';
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

/** What {@link readIpState} gives: the node's IPv4 rules, routes (every table) and links. */
export interface IpState {
  readonly rules: Read<readonly IpRule[]>;
  readonly routes: Read<readonly IpRoute[]>;
  readonly links: Read<readonly IpLink[]>;
}

/** The three listings, as `ip -batch` lines (under `-4 -j`), in the order of {@link IpState}. */
const IP_BATCH = ['rule show', 'route show table all', 'link show'] as const;
const IP_BATCH_ARGS = ['-4', '-j', '-batch', '-'] as const;

/**
 * The node's rules, routes and links. One `ip -4 -j -batch -` lists all three (one program started
 * per round instead of three: each start forks the whole agent). Should the batch fail or print
 * something else than three JSON arrays, one per line (an `ip` without JSON in batch mode, one
 * listing failing and ending the batch), the three are listed one by one as before, so each gets
 * its own answer; only a batch that timed out is not retried (all three are then unknown).
 */
export async function readIpState(io: NodeIo, timeoutMs: number): Promise<IpState> {
  const opts = { timeoutMs, maxOutputBytes: 64 * 1024 * 1024 };
  const batch = await execRead(io, 'ip', IP_BATCH_ARGS, { ...opts, input: `${IP_BATCH.join('\n')}\n` }, (t) =>
    splitBatchOutput(t, IP_BATCH.length),
  );
  if (batch.status === 'ok') {
    const source = (i: number): string => `ip ${IP_BATCH_ARGS.join(' ')} (${IP_BATCH[i]})`;
    const part = <T>(i: number, parse: (text: string) => T): Read<T> => {
      try {
        return readOk(parse(batch.value[i] as string), source(i));
      } catch (err) {
        return readUnknown(source(i), 'OutputUnparsable', describeError(err));
      }
    };
    return {
      rules: part(0, (t) => parseIpRuleJson(t).items),
      routes: part(1, (t) => parseIpRouteJson(t).items),
      links: part(2, (t) => parseIpLinkJson(t).items),
    };
  }
  if (batch.status === 'unknown' && batch.reason === 'ReadTimedOut')
    return { rules: batch as Read<never>, routes: batch as Read<never>, links: batch as Read<never> };
  const [rules, routes, links] = await Promise.all([
    execRead(io, 'ip', ['-j', '-4', 'rule', 'show'], opts, (t) => parseIpRuleJson(t).items),
    execRead(io, 'ip', ['-j', '-4', 'route', 'show', 'table', 'all'], opts, (t) => parseIpRouteJson(t).items),
    execRead(io, 'ip', ['-j', 'link', 'show'], opts, (t) => parseIpLinkJson(t).items),
  ]);
  return { rules, routes, links };
}

/**
 * `ip -j -batch` output: one JSON document per command, each on its own line (iproute2 prints JSON
 * without newlines inside unless `-pretty`). Exactly `n` non-empty lines, each an array, or throws.
 */
export function splitBatchOutput(text: string, n: number): string[] {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  if (lines.length !== n) throw new Error(`expected ${n} JSON lines, got ${lines.length}`);
  lines.forEach((l, i) => {
    if (!l.trimStart().startsWith('[')) throw new Error(`line ${i + 1} is not a JSON array`);
  });
  return lines;
}

/**
 * {@link readIpState} made at most once: the first call lists, later calls share its answer. One
 * round's checks (cni, pod-network) read the same listings through it instead of each starting `ip`.
 */
export function ipStateOnce(io: NodeIo, timeoutMs: number): () => Promise<IpState> {
  let listing: Promise<IpState> | undefined;
  return () => {
    listing ??= readIpState(io, timeoutMs);
    return listing;
  };
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
