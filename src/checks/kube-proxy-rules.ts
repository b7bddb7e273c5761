/**
 * Check `kube-proxy-rules`: every ClusterIP Service port the cluster has is programmed in this
 * node's kernel the way kube-proxy would program it (the netfilter model's diff), in the mode and
 * iptables backend kube-proxy actually uses. Unknown when the rules cannot be read.
 */

import {
  checkKubeProxyStructure,
  diffKubeProxy,
  type KubeProxyActual,
} from '../netfilter/diff-kube-proxy.ts';
import { type ExpectedServices, expectedServicePorts } from '../netfilter/expected.ts';
import { hasKubeProxyRules, readIptablesState } from '../netfilter/iptables-state.ts';
import { kubeProxyNftState, parseNftJson } from '../netfilter/nft.ts';
import type { Check, CheckContext } from './check.ts';
import { camelReason, fromFindings } from './check.ts';

/** How to read the rules: fixed mode/binary, or `auto`. */
export interface RulesCheckOptions {
  readonly proxyMode: 'auto' | 'iptables' | 'nftables';
  /** `auto`, or the iptables-save binary to use. */
  readonly iptablesSave: string;
  /** Where kube-proxy answers `/proxyMode` (its metrics address), for `auto`. */
  readonly kubeProxyMetrics: string;
  /** In steady state the full read runs at least this often (and whenever Services change). */
  readonly fullEveryMs?: number;
}

const MAX_RULES_OUTPUT = 512 * 1024 * 1024;

/** Reads the node's kube-proxy state, or says why it cannot. */
export async function readActual(
  ctx: CheckContext,
  opts: RulesCheckOptions,
): Promise<{ actual: KubeProxyActual; source: string } | { unknown: string; reason: string }> {
  let mode = opts.proxyMode;
  if (mode === 'auto') {
    const res = await ctx.httpGet(opts.kubeProxyMetrics.replace(/\/metrics$/, '/proxyMode'), {
      timeoutMs: 2_000,
    });
    const answer = res.ok ? res.body.trim() : '';
    mode = answer === 'nftables' ? 'nftables' : 'iptables';
  }
  if (mode === 'nftables') {
    const res = await ctx.exec('nft', ['-j', 'list', 'table', 'ip', 'kube-proxy'], {
      timeoutMs: ctx.timeoutMs,
      maxOutputBytes: MAX_RULES_OUTPUT,
    });
    if (res.code !== 0 && /No such file or directory|does not exist/i.test(res.stderr)) {
      // The table is missing: kube-proxy has not programmed anything. That is a finding, not an unknown.
      return {
        actual: { mode, state: kubeProxyNftState(parseNftJson('{"nftables":[]}')) },
        source: 'nft (no kube-proxy table)',
      };
    }
    if (res.code !== 0)
      return {
        unknown: `nft failed: ${res.stderr.trim().split('\n')[0] ?? `exit ${res.code}`}`,
        reason: 'NftUnavailable',
      };
    return {
      actual: { mode, state: kubeProxyNftState(parseNftJson(res.stdout)) },
      source: 'nft -j list table ip kube-proxy',
    };
  }
  const candidates =
    opts.iptablesSave === 'auto' ? ['iptables-nft-save', 'iptables-legacy-save'] : [opts.iptablesSave];
  let firstError = '';
  for (const bin of candidates) {
    const res = await ctx
      .exec(bin, [], { timeoutMs: ctx.timeoutMs, maxOutputBytes: MAX_RULES_OUTPUT })
      .catch((err: unknown) => ({
        code: -1,
        stdout: '',
        stderr: err instanceof Error ? err.message : String(err),
      }));
    if (res.code !== 0) {
      firstError ||= `${bin}: ${res.stderr.trim().split('\n')[0] ?? `exit ${res.code}`}`;
      continue;
    }
    const state = readIptablesState(res.stdout);
    // auto: the backend that holds kube-proxy's rules is the one kube-proxy writes to.
    if (
      opts.iptablesSave !== 'auto' ||
      hasKubeProxyRules(state) ||
      bin === candidates[candidates.length - 1]
    ) {
      return { actual: { mode: 'iptables', state }, source: bin };
    }
  }
  return { unknown: `cannot read iptables rules (${firstError})`, reason: 'IptablesSaveUnavailable' };
}

/**
 * The cheap steady-state read: only the chains that decide whether ClusterIPs are captured
 * (`iptables -S` of nat PREROUTING/OUTPUT/KUBE-SERVICES and filter KUBE-SERVICES), wrapped as an
 * iptables-save document for the same parser. A fourteenth of a full dump's cost at 10,000
 * Services on the nft backend (see ../shared/reference/measured.md).
 *
 * The four listings run from one `sh` so the agent forks once per round, not four times: forking
 * a process of a few hundred MB costs ~10 ms of its own CPU each time. The table and chain names
 * are fixed here and passed as positional parameters, never spliced into the script.
 */
export async function readCapture(ctx: CheckContext, saveBin: string): Promise<KubeProxyActual | undefined> {
  const ipt = saveBin.replace(/-save$/, '');
  const chains: [string, string][] = [
    ['nat', 'PREROUTING'],
    ['nat', 'OUTPUT'],
    ['nat', 'KUBE-SERVICES'],
    ['filter', 'KUBE-SERVICES'],
  ];
  const res = await ctx
    .exec('sh', ['-c', CAPTURE_SCRIPT, 'sh', ipt, ...chains.flat()], {
      timeoutMs: ctx.timeoutMs,
      maxOutputBytes: 64 * 1024 * 1024,
    })
    .catch(() => undefined);
  if (res?.code !== 0 || res.truncated) return undefined;
  const listings = splitCaptureOutput(res.stdout);
  const out: Record<string, string[]> = { nat: [], filter: [] };
  for (const [table, chain] of chains) {
    const listing = listings.get(`${table} ${chain}`);
    if (listing?.exit !== 0) {
      if (table === 'filter') continue; // no filter KUBE-SERVICES chain: no service without endpoints
      return undefined;
    }
    out[table]?.push(...listing.lines.flatMap(asSaveLine));
  }
  const text = ['*nat', ...(out.nat ?? []), 'COMMIT', '*filter', ...(out.filter ?? []), 'COMMIT', ''].join(
    '\n',
  );
  return { mode: 'iptables', state: readIptablesState(text) };
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

/** The check. Full diff while gating; the cheap capture check in steady state between full ones. */
export function kubeProxyRulesCheck(opts: RulesCheckOptions): Check {
  const fullEveryMs = opts.fullEveryMs ?? 5 * 60_000;
  let lastFull: { at: number; generation: number; source: string; mode: 'iptables' | 'nftables' } | undefined;
  let cached: { generation: number; expected: ExpectedServices } | undefined;
  return {
    name: 'kube-proxy-rules',
    gating: true,
    async run(ctx) {
      // The expected state only changes with the cluster generation: compute it once per change.
      if (cached?.generation !== ctx.clusterGeneration) {
        cached = {
          generation: ctx.clusterGeneration,
          expected: expectedServicePorts(ctx.cluster(), { nodeName: ctx.nodeName }),
        };
      }
      const expected = cached.expected;
      const quick =
        ctx.steady &&
        lastFull !== undefined &&
        lastFull.mode === 'iptables' &&
        lastFull.generation === ctx.clusterGeneration &&
        ctx.nowMs() - lastFull.at < fullEveryMs;
      if (quick && lastFull) {
        const actual = await readCapture(ctx, lastFull.source);
        if (actual) {
          const findings = [
            ...checkKubeProxyStructure(actual),
            ...diffKubeProxy(actual, expected, { maxEvidence: 10, depth: 'services' }),
          ];
          return fromFindings(
            findings,
            {
              reason: 'KubeProxyRulesComplete',
              message: `${expected.ports.length} service port(s) captured (quick check; ${lastFull.source})`,
            },
            (f) => camelReason(f.code),
          );
        }
      }
      const read = await readActual(ctx, opts);
      if ('unknown' in read) return { status: 'Unknown', reason: read.reason, message: read.unknown };
      const findings = [
        ...checkKubeProxyStructure(read.actual),
        ...diffKubeProxy(read.actual, expected, { maxEvidence: 10 }),
      ];
      const result = fromFindings(
        findings,
        {
          reason: 'KubeProxyRulesComplete',
          message: `${expected.ports.length} service port(s) programmed (${read.source})`,
        },
        (f) => camelReason(f.code),
      );
      // Only a passing full read vouches for the cheap checks that follow.
      lastFull =
        result.status === 'Ok'
          ? {
              at: ctx.nowMs(),
              generation: ctx.clusterGeneration,
              source: read.source,
              mode: read.actual.mode,
            }
          : undefined;
      return result;
    },
  };
}
