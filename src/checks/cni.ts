/**
 * Check `cni`: is the node's CNI ready to give pods a working network? Reads the configuration
 * folder the runtime loads, the VPC CNI's ipamd (when the selected config is the VPC CNI), the
 * CNI daemon's readiness endpoint (when configured) and, where ipamd says SNAT is the node's job,
 * its SNAT rules; the judgement is assess/cni.ts, the same the doctor uses.
 */
import { asCheckResult } from '../assess/assessment.ts';
import { assessCni, type CniEvidence, cniIntent } from '../assess/cni.ts';
import { podsSandboxedSince } from '../assess/field-boot-order.ts';
import type { CniFieldEvidence } from '../assess/field-cases.ts';
import { kubeProxyModeOf, kubernetesClusterIp, podsForwardedBy } from '../assess/field-facts.ts';
import {
  readAwsSnatChains,
  readCniConfDir,
  readHealth,
  readIpamdEnis,
  readIpamdEnv,
} from '../collect/cni.ts';
import { type FieldChainsRead, readFieldState } from '../collect/field.ts';
import { readIpState } from '../collect/pods.ts';
import { readValue } from '../core/read.ts';
import type { IpRule } from '../netfilter/ip.ts';
import { readComponentVersions } from '../sources/components.ts';
import type { Check, CheckContext } from './check.ts';

/** Where the CNI is read. */
export interface CniCheckOptions {
  readonly confDir: string;
  /** ipamd's introspection URL; empty disables. Asked only when the selected config is the VPC CNI. */
  readonly ipamdUrl: string;
  /** Any CNI daemon's readiness URL; empty disables. */
  readonly healthUrl: string;
  /** The iptables-save binary (`auto`: the host's default `iptables`) for the SNAT chains. */
  readonly iptablesSave: string;
}

/** The check. */
export function cniCheck(opts: CniCheckOptions): Check {
  return {
    name: 'cni',
    gating: true,
    async run(ctx) {
      const quick = Math.min(ctx.timeoutMs, 3_000);
      const confDir = await readCniConfDir(ctx, opts.confDir);
      const selectedAws = readValue(confDir)?.selected?.types.includes('aws-cni') ?? false;
      const ready = ctx.node()?.status?.conditions?.find((c) => c.type === 'Ready')?.status;
      let ev: CniEvidence = {
        confDir,
        confDirPath: opts.confDir,
        ...(ready !== undefined ? { kubeletReady: ready === 'True' } : {}),
        ...(opts.healthUrl ? { daemonHealth: await readHealth(ctx, opts.healthUrl, quick) } : {}),
      };
      if (selectedAws && opts.ipamdUrl) ev = { ...ev, ...(await readIpamd(ctx, opts, quick)) };
      const field = await readFieldState(ctx, opts.iptablesSave, ctx.timeoutMs, ctx.nftReads);
      const awsInKernel = [field.nft, field.legacy, field.dflt].some((d) => d?.aws.present);
      ev = { ...ev, ...(awsInKernel ? { vpcCniRulesInKernel: true } : {}) };
      const vpcCni = cniIntent(ev).vpcCni ?? false;
      const rules = vpcCni
        ? readValue((await (ctx.ipState?.() ?? readIpState(ctx, quick))).rules)
        : undefined;
      return asCheckResult(
        assessCni({
          ...ev,
          field: fieldEvidence(ctx, field, readValue(confDir)?.mtimes, rules, vpcCni, ev.env),
        }),
      );
    },
  };
}

/** ipamd's answer and settings, and the SNAT rules when ipamd says SNAT is the node's job. */
async function readIpamd(
  ctx: CheckContext,
  opts: CniCheckOptions,
  quick: number,
): Promise<Pick<CniEvidence, 'ipamd' | 'env' | 'awsRules'>> {
  const enis = await readIpamdEnis(ctx, opts.ipamdUrl, quick);
  const env = enis.status === 'ok' ? await readIpamdEnv(ctx, opts.ipamdUrl, quick) : {};
  if (env.AWS_VPC_K8S_CNI_EXTERNALSNAT?.toLowerCase() !== 'false') return { ipamd: enis, env };
  const save = opts.iptablesSave === 'auto' ? 'iptables-save' : opts.iptablesSave;
  const snat = readValue(await readAwsSnatChains(ctx, save, ctx.timeoutMs));
  return { ipamd: enis, env, ...(snat ? { awsRules: snat.aws } : {}) };
}

/** The field cases' evidence from what the check read and what the agent knows of this node. */
function fieldEvidence(
  ctx: CheckContext,
  read: FieldChainsRead,
  mtimes: ReadonlyMap<string, number> | undefined,
  rules: readonly IpRule[] | undefined,
  vpcCni: boolean,
  env: Readonly<Record<string, string>> | undefined,
): CniFieldEvidence {
  const cluster = ctx.cluster();
  const components = readComponentVersions(cluster, { nodeName: ctx.nodeName });
  const mode = kubeProxyModeOf({ components, nftTables: read.nftTables });
  const clusterIp = kubernetesClusterIp(cluster.services);
  const vethPrefix = vpcCni ? (env?.AWS_VPC_K8S_CNI_VETHPREFIX ?? 'eni') : null;
  const boot = ctx.bootTimeMs;
  return {
    components,
    dumps: { dflt: read.dflt, nft: read.nft, legacy: read.legacy },
    ...(read.nftTables ? { nftTables: read.nftTables } : {}),
    ...(read.legacyTables ? { legacyTables: read.legacyTables } : {}),
    ...(mode ? { kubeProxyMode: mode } : {}),
    ...(rules ? { ipRules: rules } : {}),
    ...(clusterIp !== undefined ? { kubernetesClusterIp: clusterIp } : {}),
    ...(mtimes ? { configTimes: mtimes } : {}),
    ...(boot !== undefined
      ? { bootMs: boot, podsThisBoot: podsSandboxedSince(cluster.pods, ctx.nodeName, boot) }
      : {}),
    podsForwarded: podsForwardedBy({ pods: cluster.pods, nodeName: ctx.nodeName, vpcCni }),
    vethPrefix,
  };
}
