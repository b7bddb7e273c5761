/**
 * Check `cni`: the CNI configuration the runtime will use exists and is valid (no conflicting
 * config sorting first); when it is the AWS VPC CNI, ipamd answers its introspection endpoint.
 * An unreadable folder is Unknown (permission), an empty or missing one is Failing.
 */

import { cniConfigFindings, readCniConfigDir } from '../sources/cni-config.ts';
import type { Check } from './check.ts';
import { camelReason, fromFindings } from './check.ts';

/**
 * The check over `confDir`; `ipamdUrl` (may be empty) is asked only for the VPC CNI; `healthUrl`
 * (may be empty) is any CNI daemon's readiness endpoint, asked when set.
 */
export function cniCheck(confDir: string, ipamdUrl: string, healthUrl = ''): Check {
  return {
    name: 'cni',
    gating: true,
    async run(ctx) {
      let files: { name: string; text: string }[];
      try {
        files = await ctx.readDir(confDir);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') files = [];
        else
          return {
            status: 'Unknown',
            reason: 'CniConfigUnreadable',
            message: `${confDir}: ${code ?? String(err)}`,
          };
      }
      const dir = readCniConfigDir(files.map((f) => ({ name: f.name, content: f.text })));
      const vpcCni = dir.selected?.types.includes('aws-cni') ?? false;
      const findings = cniConfigFindings(dir, { vpcCni }, confDir);
      const verdict = fromFindings(
        findings,
        {
          reason: 'CniConfigValid',
          message: `${dir.selected?.file ?? '?'} (${dir.selected?.types.join(', ') ?? ''})`,
        },
        (f) => camelReason(f.code),
      );
      if (verdict.status !== 'Ok') return verdict;
      if (healthUrl) {
        const h = await ctx.httpGet(healthUrl, { timeoutMs: Math.min(ctx.timeoutMs, 3_000) });
        if (!h.ok || h.status !== 200) {
          const why = h.ok ? `HTTP ${h.status}: ${h.body.trim().split('\n')[0] ?? ''}` : h.error;
          return {
            status: 'Failing',
            reason: 'CniDaemonNotReady',
            message: `CNI daemon ${healthUrl}: ${why}`,
          };
        }
      }
      if (!vpcCni || !ipamdUrl) return verdict;
      const res = await ctx.httpGet(`${ipamdUrl.replace(/\/$/, '')}/v1/enis`, {
        timeoutMs: Math.min(ctx.timeoutMs, 3_000),
      });
      if (!res.ok || res.status !== 200) {
        return {
          status: 'Failing',
          reason: 'IpamdUnreachable',
          message: `ipamd introspection ${ipamdUrl}: ${res.ok ? `HTTP ${res.status}` : res.error}`,
        };
      }
      return { ...verdict, message: `${verdict.message}; ipamd answers` };
    },
  };
}
