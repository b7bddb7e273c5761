/**
 * The agent's checks: each is a small module with a name, whether it gates, and `run(ctx)`
 * returning a result. A check reads the node through `ctx` (collect/) and hands the evidence to
 * the shared judgement (assess/), so the agent, the doctor and the lab reach the same verdict.
 * The registry (agent/registry.ts) lists them explicitly; enabling a check is configuration.
 */

import type { NodeIo } from '../collect/io.ts';
import type { NftReads } from '../collect/nft-reads.ts';
import type { IpState } from '../collect/pods.ts';
import type { CheckResult } from '../core/check.ts';
import type { Node, Pod } from '../core/objects.ts';
import type { HttpResult } from '../host/http.ts';
import type { TcpResult } from '../host/tcp.ts';
import type { ClusterState } from '../netfilter/cluster-state.ts';

/** What checks may use: injected, so unit tests run them on fakes. */
export interface CheckContext extends NodeIo {
  readonly nodeName: string;
  /** This agent's Node object as last seen (its conditions, creation time). */
  readonly node: () => Node | undefined;
  /** Services, EndpointSlices and this node's Pods as the agent's informers see them now. */
  readonly cluster: () => ClusterState;
  /**
   * kube-proxy pods anywhere in the cluster (a label-selected list, cached by the caller); undefined
   * when they cannot be listed. Asked only when a node has no kube-proxy rules at all.
   */
  readonly kubeProxyPods: () => Promise<readonly Pod[] | undefined>;
  readonly httpGet: (url: string, opts: { timeoutMs: number }) => Promise<HttpResult>;
  readonly tcp: (host: string, port: number, timeoutMs: number) => Promise<TcpResult>;
  readonly timeoutMs: number;
  readonly nowMs: () => number;
  /** When this boot began (epoch ms), if known: kube-proxy must have synced after it. */
  readonly bootTimeMs?: number;
  /**
   * The gate is open and the last rounds passed: checks may use a cheaper form, as long as they
   * do the full one regularly and whenever `clusterGeneration` moves.
   */
  readonly steady: boolean;
  /**
   * Changes whenever the expected state may have moved: a settled Service or its EndpointSlices
   * changed, or a Service settled (agent/caches.ts). A Service still settling moves nothing.
   */
  readonly clusterGeneration: number;
  /**
   * Listings of nftables state that may be reused while this round's ruleset generation stands
   * (collect/nft-reads.ts); absent: list everything (the doctor, a round of a closed or failing gate).
   */
  readonly nftReads?: NftReads;
  /**
   * This round's `ip` listings (rules, routes, links), made once and shared by the checks that read
   * them (collect/pods.ts `ipStateOnce`); absent: a check lists them itself.
   */
  readonly ipState?: () => Promise<IpState>;
}

/** One check. */
export interface Check {
  readonly name: string;
  /** Advisory checks are reported but never open or close the gate. */
  readonly gating: boolean;
  run(ctx: CheckContext): Promise<Omit<CheckResult, 'check' | 'gating' | 'durationMs'>>;
}
