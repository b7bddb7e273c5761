/**
 * Check `cni`: is the node's CNI ready to give pods a working network? Reads the configuration
 * folder the runtime loads, the VPC CNI's ipamd (when the selected config is the VPC CNI), the
 * CNI daemon's readiness endpoint (when configured) and, where ipamd says SNAT is the node's job,
 * its SNAT rules; the judgement is assess/cni.ts, the same the doctor uses.
 */
import { asCheckResult } from '../assess/assessment.ts';
import { assessCni, type CniEvidence } from '../assess/cni.ts';
import {
  readAwsSnatChains,
  readCniConfDir,
  readHealth,
  readIpamdEnis,
  readIpamdEnv,
} from '../collect/cni.ts';
import { readValue } from '../core/read.ts';
import type { Check } from './check.ts';

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
      if (selectedAws && opts.ipamdUrl) {
        const enis = await readIpamdEnis(ctx, opts.ipamdUrl, quick);
        const env = enis.status === 'ok' ? await readIpamdEnv(ctx, opts.ipamdUrl, quick) : {};
        ev = { ...ev, ipamd: enis, env };
        if (env.AWS_VPC_K8S_CNI_EXTERNALSNAT?.toLowerCase() === 'false') {
          const save = opts.iptablesSave === 'auto' ? 'iptables-save' : opts.iptablesSave;
          const snat = readValue(await readAwsSnatChains(ctx, save, ctx.timeoutMs));
          if (snat) ev = { ...ev, awsRules: snat.aws };
        }
      }
      return asCheckResult(assessCni(ev));
    },
  };
}
