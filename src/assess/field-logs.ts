/**
 * What the components' logs say about the field cases (docs/field-cases.md). Only bundles and live
 * doctor runs carry logs; the agent does not read them. A log line may be older than the node's
 * state, so a line alone is a warning; it is critical only when the node's rules show the failure
 * it names is still in effect:
 * - 3: ipamd.log `can't initialize iptables table … (legacy)` — critical when the dumps hold no
 *   VPC CNI rule (ipamd set up nothing);
 * - 10: ipamd.log `Initialization failure … Couldn't load match|target` (critical the same way),
 *   and portmap's sandbox failures naming it (warning: those pods retry);
 * - 4: Felix's `backendMode` against the host's backend (warning, like the mismatch it explains);
 * - 9: Felix's `incompatible nft rules` — critical when a dump also shows an incompatible table.
 */
import { capEvidence, type Finding } from '../core/findings.ts';
import type { FelixIptablesLog } from '../sources/felix-log.ts';
import type { SandboxFailure } from '../sources/kubelet-log.ts';
import type { CniLog } from '../sources/vpc-cni-logs.ts';
import { dumpsByBackend, type HostBackend } from './field-facts.ts';
import type { IptablesDumps } from './iptables-backends.ts';

/** The logs read, and the node's state the lines are weighed against. */
export interface FieldLogInputs {
  readonly ipamd?: { readonly log: CniLog; readonly path: string };
  readonly felix?: { readonly log: FelixIptablesLog; readonly path: string };
  readonly sandboxFailures?: { readonly failures: readonly SandboxFailure[]; readonly path: string };
  readonly dumps: IptablesDumps;
  readonly host: HostBackend;
}

const MODULE_MISSING = /Couldn't load (?:match|target|matc|targ)/;

/** The doctor's field-case findings from logs. */
export function fieldLogFindings(i: FieldLogInputs): Finding[] {
  return [...ipamdFindings(i), ...felixFindings(i), ...portmapFindings(i)];
}

function ipamdFindings(i: FieldLogInputs): Finding[] {
  if (!i.ipamd) return [];
  const { log, path } = i.ipamd;
  const dumps = dumpsByBackend(i.dumps);
  const noAwsRules = dumps.length > 0 && !dumps.some((d) => d.state.aws.present);
  const corroboration = noAwsRules
    ? 'no VPC CNI rule (AWS-* chains) in the iptables dumps: ipamd set up nothing'
    : dumps.length === 0
      ? 'no iptables dump to tell whether ipamd recovered'
      : 'the iptables dumps hold VPC CNI rules: ipamd may have recovered since';
  const out: Finding[] = [];
  const show = (e: { line: number; msg: string }): string => `${path}:${e.line}: ${e.msg.slice(0, 400)}`;
  const legacy = log.entries.filter(
    (e) => /can't initialize iptables table/.test(e.msg) && /\(legacy\)/.test(e.msg),
  );
  if (legacy.length > 0 && (i.host.backend === 'nft' || i.host.backend === 'both'))
    out.push({
      code: 'vpc-cni-rules-in-legacy-backend',
      severity: noAwsRules ? 'critical' : 'warning',
      title: "ipamd's iptables-legacy cannot use this host's tables: the VPC CNI cannot set up the node",
      evidence: capEvidence([...legacy.map(show), ...i.host.evidence, corroboration], 8),
      subjects: [{ kind: 'file', name: path }],
      fix: 'Use an aws-node release that selects iptables-nft on this host (v1.13.2+; on v1.12.1–v1.13.1 ENABLE_NFTABLES=true).',
    });
  const missing = log.entries.filter(
    (e) => /Initialization failure/.test(e.msg) && MODULE_MISSING.test(e.msg),
  );
  if (missing.length > 0)
    out.push({
      code: 'iptables-match-unavailable',
      severity: noAwsRules ? 'critical' : 'warning',
      title: 'ipamd failed to initialise: its iptables could not load a match or target module',
      evidence: capEvidence([...missing.map(show), corroboration], 8),
      subjects: [{ kind: 'file', name: path }],
      fix: "Load the module at boot (/etc/modules-load.d/: xt_comment and what the error names), install the kernel's extra modules package, or switch the component to native nftables.",
    });
  return out;
}

function felixFindings(i: FieldLogInputs): Finding[] {
  if (!i.felix) return [];
  const { log, path } = i.felix;
  const out: Finding[] = [];
  const host = i.host.backend;
  const wrong = log.backendChoices.filter(
    (c) => (c.backendMode === 'legacy' && host === 'nft') || (c.backendMode === 'nft' && host === 'legacy'),
  );
  if (wrong.length > 0)
    out.push({
      code: 'calico-iptables-backend-autodetect',
      severity: 'warning',
      title: `Felix chose iptables-${wrong[0]?.backendMode} on a host that uses iptables-${host}`,
      evidence: capEvidence([...wrong.map((c) => `${path}:${c.line}: ${c.text}`), ...i.host.evidence], 6),
      subjects: [{ kind: 'node', name: 'calico-node' }],
      fix: "Set FELIX_IPTABLESBACKEND to the host's backend (NFT on iptables-nft hosts) and reboot the node to flush the other backend's rules.",
    });
  if (log.incompatible.length > 0) {
    const dumpLine = dumpsByBackend(i.dumps).find((d) => d.state.summary.incompatibleTables.length > 0);
    out.push({
      code: 'iptables-table-incompatible',
      severity: dumpLine ? 'critical' : 'warning',
      title:
        'Felix cannot read an iptables table that holds nft rules: it stopped programming policy on this node',
      evidence: capEvidence(
        [
          ...log.incompatible.map((l) => `${path}:${l.line}: ${l.text}`),
          dumpLine
            ? `${dumpLine.name}-save cannot print table(s) ${dumpLine.state.summary.incompatibleTables.join(', ')} either`
            : 'the iptables dumps print every table: the state the log names may be gone',
        ],
        8,
      ),
      subjects: [{ kind: 'node', name: 'calico-node' }],
      fix: "Upgrade calico-node to v3.27.1+ (iptables 1.8.8); remove native nft rules from the iptables-nft tables (put them in a table of their own); or use Calico's nftables data plane (v3.29+).",
    });
  }
  return out;
}

function portmapFindings(i: FieldLogInputs): Finding[] {
  const failures = (i.sandboxFailures?.failures ?? []).filter((f) => MODULE_MISSING.test(f.text));
  if (failures.length === 0) return [];
  const path = i.sandboxFailures?.path ?? 'kubelet log';
  return [
    {
      code: 'iptables-match-unavailable',
      severity: 'warning',
      title: `${failures.length} pod sandbox(es) failed: a CNI plugin's iptables could not load a match or target module`,
      evidence: capEvidence(
        failures.map((f) => `${path}:${f.line}: ${f.text.slice(0, 400)}`),
        8,
      ),
      subjects: [...new Set(failures.map((f) => f.pod).filter((p): p is string => p !== undefined))].map(
        (name) => ({ kind: 'pod' as const, name }),
      ),
      fix: 'Load the module at boot (/etc/modules-load.d/: xt_comment and what the error names). The kubelet retries these sandboxes; they start once the module is loaded.',
    },
  ];
}
