/**
 * Check `kube-proxy`: is kube-proxy serving this node? Reads what kube-proxy says about itself
 * (mode, sync metrics) and its rules in the kernel (every backend, or its nftables table), then
 * asks the shared judgement (assess/kube-proxy.ts): every ClusterIP Service port the cluster has
 * must be programmed as kube-proxy would program it. Not applicable in IPVS mode or where
 * kube-proxy is absent by design; unknown when the rules cannot be read.
 *
 * Cadence: a full read while the gate is closed or failing; in steady state the cheap capture read
 * (a few chains) between full reads, which still run every `fullEveryMs` and whenever the Services
 * change. On the nft backend the capture listing is reused while the ruleset generation stands
 * (collect/nft-reads.ts), and a full read due by time alone is found to repeat the last one
 * instead of run while nothing it reads has changed ({@link kubeProxyCheck}'s
 * fullReadWouldRepeat): the judgement still runs every round, on kube-proxy's fresh metrics.
 */
import { asCheckResult } from '../assess/assessment.ts';
import type { KubeProxyFieldEvidence } from '../assess/field-cases.ts';
import { assessKubeProxy, type KubeProxyAssessment, type KubeProxyEvidence } from '../assess/kube-proxy.ts';
import { type KubeProxySetting, kubeProxyExpectation, nodeCreatedMs } from '../assess/kube-proxy-presence.ts';
import {
  CAPTURE_CHAINS,
  readChains,
  readIptablesDumps,
  readIptablesSave,
  readKubeProxyEndpoint,
  readNftKubeProxy,
} from '../collect/kube-proxy.ts';
import { listsNftablesOnly, reuseNftRead } from '../collect/nft-reads.ts';
import { isKubeProxyPod } from '../core/components.ts';
import type { Pod } from '../core/objects.ts';
import { readValue } from '../core/read.ts';
import { parseKernelVersion } from '../core/versions.ts';
import { type ExpectedServices, expectedServicePorts } from '../netfilter/expected.ts';
import { hasKubeProxyRules } from '../netfilter/iptables-state.ts';
import { readComponentVersions } from '../sources/components.ts';
import type { Check, CheckContext } from './check.ts';

/** How to read kube-proxy. */
export interface KubeProxyCheckOptions {
  /** kube-proxy's mode if fixed; `auto` asks kube-proxy and falls back to what is in the kernel. */
  readonly proxyMode: 'auto' | 'iptables' | 'nftables';
  /** `auto` (read both backends), or the iptables-save binary to use. */
  readonly iptablesSave: string;
  /** kube-proxy's metrics URL; `/proxyMode` is asked beside it. */
  readonly kubeProxyMetrics: string;
  /** Whether kube-proxy serves this node (`auto`: from evidence). */
  readonly kubeProxy: KubeProxySetting;
  /** In steady state the full read runs at least this often (and whenever Services change). */
  readonly fullEveryMs?: number;
}

/** The check. */
export function kubeProxyCheck(opts: KubeProxyCheckOptions): Check {
  const fullEveryMs = opts.fullEveryMs ?? 5 * 60_000;
  let lastFull: LastFullRead | undefined;
  let cached: { generation: number; expected: ExpectedServices } | undefined;
  return {
    name: 'kube-proxy',
    gating: true,
    async run(ctx) {
      // The expected state only changes with the cluster generation: compute it once per change.
      if (cached?.generation !== ctx.clusterGeneration)
        cached = {
          generation: ctx.clusterGeneration,
          expected: expectedServicePorts(ctx.cluster(), { nodeName: ctx.nodeName }),
        };
      const endpoint = await readKubeProxyEndpoint(
        ctx,
        opts.kubeProxyMetrics,
        Math.min(ctx.timeoutMs, 3_000),
      );
      const reportedMode = opts.proxyMode !== 'auto' ? opts.proxyMode : endpoint.reportedMode;
      const base: KubeProxyEvidence = {
        ...(reportedMode ? { reportedMode } : {}),
        metrics: endpoint.metrics,
      };
      const sameServices =
        ctx.steady && lastFull !== undefined && lastFull.generation === ctx.clusterGeneration;
      const quick =
        sameServices &&
        lastFull !== undefined &&
        (ctx.nowMs() - lastFull.at < fullEveryMs || (await fullReadWouldRepeat(ctx, lastFull)));
      if (quick && lastFull) {
        const bin = lastFull.saveBin;
        const capture = await reuseNftRead(ctx.nftReads, bin, 'capture', () =>
          readChains(ctx, bin, CAPTURE_CHAINS, ctx.timeoutMs),
        );
        if (capture.status === 'ok') {
          const a = await judge(
            ctx,
            { ...base, iptablesDefault: capture, depth: 'services' },
            cached.expected,
          );
          return asCheckResult(a);
        }
      }
      const evidence: KubeProxyEvidence = {
        ...base,
        ...(reportedMode !== 'iptables' ? { nft: await readNftKubeProxy(ctx, ctx.timeoutMs) } : {}),
        ...(reportedMode !== 'nftables'
          ? await readIptablesDumps(ctx, opts.iptablesSave, ctx.timeoutMs)
          : {}),
      };
      const a = await judge(ctx, evidence, cached.expected);
      // Only a passing full read in iptables mode vouches for the cheap reads that follow.
      const saveBin =
        a.status === 'ok' && a.mode === 'iptables' ? kubeProxyBackendBin(evidence, opts) : undefined;
      const legacy = readValue(evidence.iptablesLegacy);
      lastFull = saveBin
        ? {
            at: ctx.nowMs(),
            generation: ctx.clusterGeneration,
            saveBin,
            ...(ctx.nftReads?.generation !== undefined ? { nftGeneration: ctx.nftReads.generation } : {}),
            legacyEmpty: legacy !== undefined && legacy.summary.tables.length === 0,
            components: componentsKey(ctx),
          }
        : undefined;
      return asCheckResult(a);
    },
  };

  /**
   * Whether a full read due by time alone would read what the last passing one read: the nftables
   * ruleset has the same generation (so every iptables-nft and nft listing is the same), the legacy
   * tables are empty now as then (listed again: x_tables has no generation), and this node's
   * components and kernel, which the backend findings also use, are the same. Then the rules'
   * verdict stands; the round still judges the capture listing on kube-proxy's fresh metrics.
   * When so, the five minutes start again from now. Any doubt (a generation not read, a legacy
   * listing that fails) runs the full read.
   */
  async function fullReadWouldRepeat(ctx: CheckContext, last: LastFullRead): Promise<boolean> {
    const generation = ctx.nftReads?.generation;
    if (generation === undefined || generation !== last.nftGeneration) return false;
    if (componentsKey(ctx) !== last.components) return false;
    if (opts.iptablesSave !== 'auto') {
      if (!listsNftablesOnly(opts.iptablesSave)) return false;
    } else {
      if (!last.legacyEmpty) return false;
      const legacy = await readIptablesSave(ctx, 'iptables-legacy-save', ctx.timeoutMs);
      if (legacy.status !== 'ok' || legacy.value.summary.tables.length > 0) return false;
    }
    last.at = ctx.nowMs();
    return true;
  }

  /**
   * Judges with what is known locally first; only when the kernel has no kube-proxy rules at all
   * and that cannot settle whether kube-proxy belongs here, lists kube-proxy pods cluster-wide.
   */
  async function judge(
    ctx: CheckContext,
    evidence: KubeProxyEvidence,
    expected: ExpectedServices,
  ): Promise<KubeProxyAssessment> {
    const node = ctx.node();
    const presence = (pods: readonly Pod[] | undefined) =>
      kubeProxyExpectation({
        setting: opts.kubeProxy,
        nodeName: ctx.nodeName,
        pods,
        nowMs: ctx.nowMs(),
        ...(nodeCreatedMs(node) !== undefined ? { nodeCreatedMs: nodeCreatedMs(node) as number } : {}),
      });
    const field = fieldEvidence(ctx);
    const judgeWith = (pods: readonly Pod[] | undefined) =>
      assessKubeProxy(
        { ...evidence, ...field },
        {
          expected,
          expectation: presence(pods),
          nowSeconds: ctx.nowMs() / 1000,
          ...(ctx.bootTimeMs !== undefined ? { bootSeconds: ctx.bootTimeMs / 1000 } : {}),
          maxEvidence: 10,
        },
      );
    // The informer holds this node's pods only: they can prove kube-proxy is expected (its pod is
    // bound here), never that it is absent from the cluster.
    const local = ctx.cluster().pods;
    const first = judgeWith(local.some(isKubeProxyPod) ? local : undefined);
    if (first.mode !== 'none' || opts.kubeProxy !== 'auto' || first.status === 'broken') return first;
    const cluster = await ctx.kubeProxyPods();
    return judgeWith(cluster ? [...local, ...cluster] : undefined);
  }
}

/** What the last passing full read (iptables mode) vouches for, and what it read. */
interface LastFullRead {
  /** When it ran, or when a full read due since was found to repeat it. */
  at: number;
  /** The cluster generation (Services, EndpointSlices) it was judged against. */
  readonly generation: number;
  /** The backend holding kube-proxy's rules, for the capture listings. */
  readonly saveBin: string;
  /** The nftables generation of its round, when the round read one. */
  readonly nftGeneration?: number;
  /** Its legacy dump (auto) held no table. */
  readonly legacyEmpty: boolean;
  /** {@link componentsKey} then. */
  readonly components: string;
}

/** The components and kernel the judgement takes from this node's pods and Node, as one comparable key. */
function componentsKey(ctx: CheckContext): string {
  return JSON.stringify(fieldEvidence(ctx));
}

/**
 * The field cases' evidence the agent has without reading more: the components of this node's
 * pods (the informer holds them) and the kernel the Node reports.
 */
function fieldEvidence(ctx: CheckContext): KubeProxyFieldEvidence {
  const release = ctx.node()?.status?.nodeInfo?.kernelVersion;
  const kernel = release !== undefined ? parseKernelVersion(release) : undefined;
  return {
    components: readComponentVersions(ctx.cluster(), { nodeName: ctx.nodeName }),
    ...(kernel ? { kernel: { version: kernel, source: "the Node's status.nodeInfo.kernelVersion" } } : {}),
  };
}

/** The backend binary whose dump holds kube-proxy's rules (for the cheap reads). */
function kubeProxyBackendBin(ev: KubeProxyEvidence, opts: KubeProxyCheckOptions): string | undefined {
  if (opts.iptablesSave !== 'auto') return opts.iptablesSave;
  const nft = readValue(ev.iptablesNft);
  if (nft && hasKubeProxyRules(nft)) return 'iptables-nft-save';
  const legacy = readValue(ev.iptablesLegacy);
  if (legacy && hasKubeProxyRules(legacy)) return 'iptables-legacy-save';
  return undefined;
}
