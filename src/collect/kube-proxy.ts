/**
 * Reading kube-proxy's state off a live node: its rules (iptables-save of each backend, or its
 * nftables table), the cheap capture listing used in steady state, and what kube-proxy says about
 * itself (`/proxyMode`, `/metrics`). The judgement is assess/kube-proxy.ts.
 */
import type { Read } from '../core/read.ts';
import { readUnknown } from '../core/read.ts';
import {
  type IptablesNodeState,
  iptablesStateReader,
  readIptablesState,
} from '../netfilter/iptables-state.ts';
import { kubeProxyNftState, type NftKubeProxyState, parseNftJson } from '../netfilter/nft.ts';
import {
  type KubeProxyMetrics,
  kubeProxyMetrics,
  parsePrometheusText,
} from '../sources/kube-proxy-metrics.ts';
import { execRead, execStreamRead, httpRead, MAX_RULES_OUTPUT, type NodeIo } from './io.ts';

/** `iptables-nft-save` prints this on stderr when legacy tables exist; the parser reads it as a comment. */
const LEGACY_WARNING = /iptables-legacy tables present/;

/** One iptables-save binary's dump, parsed as it streams in (never held as one string). */
export function readIptablesSave(
  io: NodeIo,
  bin: string,
  timeoutMs: number,
  args: readonly string[] = [],
): Promise<Read<IptablesNodeState>> {
  const opts = { timeoutMs, maxOutputBytes: MAX_RULES_OUTPUT, failReason: 'IptablesSaveUnavailable' };
  return execStreamRead(io, bin, args, opts, () => {
    const reader = iptablesStateReader();
    return {
      push: (chunk) => reader.push(chunk),
      end: (stderr) =>
        reader.end(LEGACY_WARNING.test(stderr) ? '# Warning: iptables-legacy tables present\n' : undefined),
    };
  });
}

/** Both backends' dumps when `saveBin` is `auto`, else the one binary as the default dump. */
export async function readIptablesDumps(
  io: NodeIo,
  saveBin: string,
  timeoutMs: number,
): Promise<{
  iptablesNft?: Read<IptablesNodeState>;
  iptablesLegacy?: Read<IptablesNodeState>;
  iptablesDefault?: Read<IptablesNodeState>;
}> {
  if (saveBin !== 'auto') return { iptablesDefault: await readIptablesSave(io, saveBin, timeoutMs) };
  const iptablesNft = await readIptablesSave(io, 'iptables-nft-save', timeoutMs);
  const iptablesLegacy = await readIptablesSave(io, 'iptables-legacy-save', timeoutMs);
  return { iptablesNft, iptablesLegacy };
}

/** kube-proxy's nftables table; `absent` when it does not exist. */
export function readNftKubeProxy(io: NodeIo, timeoutMs: number): Promise<Read<NftKubeProxyState>> {
  return execRead(
    io,
    'nft',
    ['-j', 'list', 'table', 'ip', 'kube-proxy'],
    {
      timeoutMs,
      maxOutputBytes: MAX_RULES_OUTPUT,
      absentWhen: /No such file or directory|does not exist/i,
      failReason: 'NftUnavailable',
    },
    (stdout) => kubeProxyNftState(parseNftJson(stdout)),
  );
}

/** What kube-proxy says about itself on its metrics address (`…/metrics` and `…/proxyMode`). */
export async function readKubeProxyEndpoint(
  io: NodeIo,
  metricsUrl: string,
  timeoutMs: number,
): Promise<{ reportedMode?: string; metrics: Read<KubeProxyMetrics> }> {
  const metrics = await httpRead(io, metricsUrl, timeoutMs, (status, body) => {
    if (status !== 200) throw new Error(`HTTP ${status}`);
    return kubeProxyMetrics(parsePrometheusText(body).samples);
  });
  if (metrics.status !== 'ok') return { metrics };
  const mode = await httpRead(
    io,
    metricsUrl.replace(/\/metrics$/, '/proxyMode'),
    timeoutMs,
    (status, body) => (status === 200 ? body.trim() : ''),
  );
  const reported = mode.status === 'ok' && /^[a-z]+$/.test(mode.value) ? mode.value : undefined;
  return { ...(reported ? { reportedMode: reported } : {}), metrics };
}

/** The chains that decide whether ClusterIPs are captured: enough to see every Service is hooked. */
export const CAPTURE_CHAINS: readonly (readonly [string, string])[] = [
  ['nat', 'PREROUTING'],
  ['nat', 'OUTPUT'],
  ['nat', 'KUBE-SERVICES'],
  ['filter', 'KUBE-SERVICES'],
];

/**
 * The cheap read: `iptables -S` of a few chains, wrapped as an iptables-save document for the same
 * parser. A fourteenth of a full dump's cost at 10,000 Services on the nft backend (see
 * ../shared/reference/measured.md). A missing chain of `optional` tables is skipped; any other
 * failed listing makes the read unknown.
 *
 * The listings run from one `sh` so the agent forks once, not once per chain: forking a process of
 * a few hundred MB costs ~10 ms of its own CPU each time. Table and chain names are passed as
 * positional parameters, never spliced into the script.
 */
export async function readChains(
  io: NodeIo,
  saveBin: string,
  chains: readonly (readonly [string, string])[],
  timeoutMs: number,
  optional: ReadonlySet<string> = new Set(['filter']),
): Promise<Read<IptablesNodeState>> {
  const text = await listChainsAsSave(io, saveBin, chains, timeoutMs, optional);
  if (text.status !== 'ok') return text;
  return { status: 'ok', value: readIptablesState(text.value), source: text.source };
}

/** {@link readChains}' listings as one iptables-save document (for callers that add to it before parsing). */
export async function listChainsAsSave(
  io: NodeIo,
  saveBin: string,
  chains: readonly (readonly [string, string])[],
  timeoutMs: number,
  optional: ReadonlySet<string>,
): Promise<Read<string>> {
  const ipt = saveBin.replace(/-save$/, '');
  const listed = await execRead(
    io,
    'sh',
    ['-c', CAPTURE_SCRIPT, 'sh', ipt, ...chains.flat()],
    { timeoutMs, maxOutputBytes: 64 * 1024 * 1024 },
    (stdout) => splitCaptureOutput(stdout),
  );
  if (listed.status !== 'ok')
    return listed.status === 'absent' ? readUnknown(listed.source, 'CommandFailed', listed.detail) : listed;
  const out = new Map<string, string[]>();
  for (const [table, chain] of chains) {
    const listing = listed.value.get(`${table} ${chain}`);
    if (listing?.exit !== 0) {
      if (optional.has(table)) continue; // e.g. no filter KUBE-SERVICES chain: no service without endpoints
      return readUnknown(`${ipt} -t ${table} -S ${chain}`, 'CommandFailed', `exit ${listing?.exit ?? '?'}`);
    }
    out.set(table, [...(out.get(table) ?? []), ...listing.lines.flatMap(asSaveLine)]);
  }
  const text = [...out].flatMap(([table, lines]) => [`*${table}`, ...lines, 'COMMIT']).join('\n');
  return { status: 'ok', value: `${text}\n`, source: `${ipt} -S (${chains.length} chains)` };
}

/** One `iptables -S` line as iptables-save writes it (policies and chains as headers). */
function asSaveLine(line: string): string[] {
  const [verb, chain, policy] = line.split(' ');
  if (verb === '-P') return [`:${chain} ${policy} [0:0]`];
  if (verb === '-N') return [`:${line.slice(3)} - [0:0]`];
  return verb === '-A' ? [line] : [];
}

/**
 * `sh -c CAPTURE_SCRIPT sh <iptables> <table> <chain> [<table> <chain> …]`: for each pair prints
 * `#netwarden-chain <table> <chain>`, the listing, then `#netwarden-exit <code>`.
 */
export const CAPTURE_SCRIPT = [
  'ipt="$1"; shift',
  'while [ "$#" -ge 2 ]; do',
  '  printf "#netwarden-chain %s %s\\n" "$1" "$2"',
  '  "$ipt" -w 5 -t "$1" -S "$2" 2>/dev/null',
  '  printf "#netwarden-exit %s\\n" "$?"',
  '  shift 2',
  'done',
].join('\n');

/** The listings in {@link CAPTURE_SCRIPT}'s output, by `table chain`. */
export function splitCaptureOutput(stdout: string): Map<string, { lines: string[]; exit: number }> {
  const out = new Map<string, { lines: string[]; exit: number }>();
  let current: { lines: string[]; exit: number } | undefined;
  for (const line of stdout.split('\n')) {
    if (line.startsWith('#netwarden-chain ')) {
      current = { lines: [], exit: -1 };
      out.set(line.slice('#netwarden-chain '.length), current);
    } else if (line.startsWith('#netwarden-exit ') && current) {
      current.exit = Number(line.slice('#netwarden-exit '.length));
      current = undefined;
    } else current?.lines.push(line);
  }
  return out;
}
