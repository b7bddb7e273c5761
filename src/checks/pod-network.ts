/**
 * Check `pod-network` (advisory: a broken pod is that pod's problem, repaired by recycling it, not
 * the node's): does every local pod have its own network state — host route, the VPC CNI's ip
 * rules, Calico's workload chains? Reads `ip` state, ipamd's ENIs (device numbers decide the
 * from-pod rule) and Calico's chains when present; the judgement is assess/pods.ts, the same the
 * doctor uses. Its per-pod problems feed repair's candidates.
 */
import { asCheckResult } from '../assess/assessment.ts';
import { assessPods, type PodsAssessment } from '../assess/pods.ts';
import { readCniConfDir, readIpamdEnis, readIpamdEnv } from '../collect/cni.ts';
import { readCalicoChains, readIpState } from '../collect/pods.ts';
import { readValue } from '../core/read.ts';
import type { PodAssignment } from '../netfilter/pods.ts';
import { withDeviceNumbers } from '../sources/vpc-cni-introspection.ts';
import type { Check } from './check.ts';

/** Where the pods' state is read. */
export interface PodNetworkCheckOptions {
  readonly confDir: string;
  /** ipamd's introspection URL (device numbers of pod addresses); empty disables. */
  readonly ipamdUrl: string;
  readonly iptablesSave: string;
}

/** The check, and the latest per-pod problems for repair. */
export interface PodNetworkCheck extends Check {
  /** `namespace/name` → evidence lines, from the last completed run (empty before one). */
  problems(): ReadonlyMap<string, readonly string[]>;
}

/** The check. */
export function podNetworkCheck(opts: PodNetworkCheckOptions): PodNetworkCheck {
  let last: PodsAssessment | undefined;
  return {
    name: 'pod-network',
    gating: false,
    problems: () => last?.problems ?? new Map(),
    async run(ctx) {
      const quick = Math.min(ctx.timeoutMs, 3_000);
      const dir = readValue(await readCniConfDir(ctx, opts.confDir));
      const vpcCni = dir?.selected?.types.includes('aws-cni') ?? false;
      const enis = opts.ipamdUrl ? readValue(await readIpamdEnis(ctx, opts.ipamdUrl, quick)) : undefined;
      const env = vpcCni && opts.ipamdUrl ? await readIpamdEnv(ctx, opts.ipamdUrl, quick) : {};
      const assignments: PodAssignment[] | undefined =
        enis?.status === 200 ? withDeviceNumbers([], enis.enis) : undefined;
      const ip = await (ctx.ipState?.() ?? readIpState(ctx, ctx.timeoutMs));
      const save = opts.iptablesSave === 'auto' ? 'iptables-save' : opts.iptablesSave;
      const calicoChains = await readCalicoChains(ctx, save, ctx.timeoutMs);
      last = assessPods({
        pods: ctx.cluster().pods,
        nodeName: ctx.nodeName,
        ...(assignments ? { assignments } : {}),
        rules: ip.rules,
        routes: ip.routes,
        links: ip.links,
        ...(calicoChains ? { filterChains: calicoChains } : {}),
        calico: calicoChains !== undefined,
        // The VPC CNI's veth naming is known; other CNIs' is not checked.
        vethPrefix: vpcCni ? (env.AWS_VPC_K8S_CNI_VETHPREFIX ?? 'eni') : null,
        vpcCni,
        maxEvidence: 10,
      });
      return asCheckResult(last);
    },
  };
}
