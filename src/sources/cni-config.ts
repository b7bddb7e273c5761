/**
 * CNI configuration directory (`/etc/cni/net.d`) validation. The container runtime loads the
 * first valid file by name (libcni sorts `*.conf`, `*.conflist`, `*.json`), so with several configs
 * the order decides which CNI pods get — the root of hybrid VPC CNI + Calico mistakes.
 */

import { capEvidence, type Finding } from '../core/findings.ts';
import { isObj, type JsonObject as Obj } from '../core/json.ts';

/** One file in the directory. */
export interface CniFile {
  readonly name: string;
  readonly content: string;
}

/** The result of reading one config. */
export interface CniConfig {
  readonly file: string;
  readonly valid: boolean;
  readonly error?: string;
  readonly networkName?: string;
  readonly cniVersion?: string;
  /** Plugin types in order (one for a `.conf`). */
  readonly types: readonly string[];
  /** The aws-cni plugin's vethPrefix, when present. */
  readonly vethPrefix?: string;
}

/** The directory as the runtime sees it. */
export interface CniConfigDir {
  readonly configs: readonly CniConfig[];
  /** The config the runtime would use (first valid by name). */
  readonly selected?: CniConfig;
}

const CONFIG_EXT = /\.(conf|conflist|json)$/;

/** Parses and validates one CNI config file (`.conf` single plugin or `.conflist`). */
export function parseCniConfig(file: CniFile): CniConfig {
  let doc: unknown;
  try {
    doc = JSON.parse(file.content);
  } catch (err) {
    return {
      file: file.name,
      valid: false,
      error: `not JSON: ${(err as Error).message.slice(0, 100)}`,
      types: [],
    };
  }
  if (!isObj(doc)) return { file: file.name, valid: false, error: 'not a JSON object', types: [] };
  const name = typeof doc.name === 'string' ? doc.name : undefined;
  const cniVersion = typeof doc.cniVersion === 'string' ? doc.cniVersion : undefined;
  const isList = file.name.endsWith('.conflist') || Array.isArray(doc.plugins);
  const plugins: Obj[] = isList ? (Array.isArray(doc.plugins) ? doc.plugins.filter(isObj) : []) : [doc];
  const types = plugins.map((p) => (typeof p.type === 'string' ? p.type : ''));
  const aws = plugins.find((p) => p.type === 'aws-cni');
  const vethPrefix = aws && typeof aws.vethPrefix === 'string' ? aws.vethPrefix : undefined;
  const base = {
    file: file.name,
    ...(name !== undefined ? { networkName: name } : {}),
    ...(cniVersion !== undefined ? { cniVersion } : {}),
    types,
    ...(vethPrefix !== undefined ? { vethPrefix } : {}),
  };
  const problems: string[] = [];
  if (name === undefined || name === '') problems.push('no "name"');
  if (cniVersion === undefined) problems.push('no "cniVersion"');
  if (isList && plugins.length === 0) problems.push('no "plugins"');
  if (types.some((t) => t === '')) problems.push('a plugin without "type"');
  if (vethPrefix !== undefined && /^__.*__$/.test(vethPrefix))
    problems.push(`unrendered template value vethPrefix=${vethPrefix}`);
  for (const p of plugins) {
    if (typeof p.mtu === 'string' && /^__.*__$/.test(p.mtu))
      problems.push(`unrendered template value mtu=${p.mtu}`);
  }
  return problems.length > 0
    ? { ...base, valid: false, error: problems.join(', ') }
    : { ...base, valid: true };
}

/** Reads a directory listing: config files sorted by name as libcni does; other files ignored. */
export function readCniConfigDir(files: readonly CniFile[]): CniConfigDir {
  const configs = files
    .filter((f) => CONFIG_EXT.test(f.name))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map(parseCniConfig);
  const selected = configs.find((c) => c.valid);
  return { configs, ...(selected ? { selected } : {}) };
}

/** What the operator intends, when known. */
export interface CniIntent {
  /** The VPC CNI should be the pod network (aws-node runs here). */
  readonly vpcCni?: boolean;
  /** Calico runs policy-only on top of the VPC CNI. */
  readonly calicoPolicyOnly?: boolean;
  /** The VPC CNI's own network policy agent is enabled. */
  readonly vpcCniNetworkPolicy?: boolean;
  /** Calico's dataplane is present on the node (cali- chains). */
  readonly calicoPresent?: boolean;
}

/** Findings about the config directory: missing, invalid, conflicting. */
export function cniConfigFindings(
  dir: CniConfigDir,
  intent: CniIntent = {},
  source = '/etc/cni/net.d',
): Finding[] {
  const findings: Finding[] = [];
  const list = dir.configs.map(
    (c) => `${c.file}: ${c.valid ? `ok (${c.networkName}: ${c.types.join(', ')})` : `INVALID (${c.error})`}`,
  );
  if (dir.configs.length === 0) {
    findings.push({
      code: 'cni-config-missing',
      severity: 'critical',
      title: `No CNI configuration in ${source}: the kubelet reports NetworkReady=false and no pod gets a network`,
      evidence: [`${source} has no *.conf, *.conflist or *.json file`],
      subjects: [{ kind: 'file', name: source }],
      fix: 'aws-node writes 10-aws.conflist when ipamd starts: check the aws-node pod on this node (init container and aws-node logs).',
    });
    return findings;
  }
  for (const c of dir.configs) {
    if (c.valid) continue;
    const first = dir.configs[0] === c;
    findings.push({
      code: 'cni-config-invalid',
      severity: first || !dir.selected ? 'critical' : 'warning',
      title: `CNI config ${c.file} is invalid${first ? ' and sorts first' : ''}`,
      evidence: [`${source}/${c.file}: ${c.error}`],
      subjects: [{ kind: 'file', name: `${source}/${c.file}` }],
      fix: 'Remove or repair the file; runtimes skip invalid files, so the next config by name is used instead — which may not be the CNI you expect.',
    });
  }
  if (!dir.selected) {
    findings.push({
      code: 'cni-config-missing',
      severity: 'critical',
      title: `No valid CNI configuration in ${source}`,
      evidence: capEvidence(list, 10),
      subjects: [{ kind: 'file', name: source }],
      fix: 'Restore a valid 10-aws.conflist (restart the aws-node pod on this node, which rewrites it).',
    });
    return findings;
  }
  const valid = dir.configs.filter((c) => c.valid);
  const aws = valid.find((c) => c.types.includes('aws-cni'));
  const sel = dir.selected;
  const wantsAws = intent.vpcCni ?? aws !== undefined;
  if (wantsAws && !sel.types.includes('aws-cni')) {
    const calicoFirst = sel.types.includes('calico');
    findings.push({
      code: 'cni-config-conflict',
      severity: 'critical',
      title: `The runtime will use ${sel.file} (${sel.types.join(', ')}), not the VPC CNI config${aws ? ` ${aws.file}` : ''}`,
      evidence: capEvidence(
        [`configs in load order: ${dir.configs.map((c) => c.file).join(', ')}`, ...list],
        10,
      ),
      subjects: [{ kind: 'file', name: `${source}/${sel.file}` }],
      fix: calicoFirst
        ? 'Calico is meant to run policy-only on the VPC CNI: it must not install its own CNI config. Remove ' +
          `${sel.file} and set the calico-node install-cni container off (Calico "Amazon VPC networking" mode, CNI type AmazonVPC), then recycle pods created with the wrong CNI.`
        : `Remove ${sel.file} (or rename it to sort after ${aws?.file ?? '10-aws.conflist'}), then recycle pods created with the wrong CNI.`,
    });
  } else if (valid.length > 1) {
    findings.push({
      code: 'cni-config-conflict',
      severity: 'warning',
      title: `${valid.length} valid CNI configs; the runtime uses only the first by name (${sel.file})`,
      evidence: capEvidence(list, 10),
      subjects: valid.map((c) => ({ kind: 'file', name: `${source}/${c.file}` })),
      fix: 'Keep one CNI config per node; leftover files take over silently when their name sorts first after an upgrade or a rename.',
    });
  }
  if (intent.vpcCniNetworkPolicy && (intent.calicoPresent || intent.calicoPolicyOnly)) {
    findings.push({
      code: 'cni-config-conflict',
      severity: 'warning',
      title: 'VPC CNI network policy is enabled while Calico also enforces policy',
      evidence: ['VPC CNI network policy: enabled', 'Calico chains (cali-*) present on the node'],
      subjects: [{ kind: 'node', name: 'network policy' }],
      fix: 'Use one policy engine: disable the VPC CNI network policy agent (enableNetworkPolicy=false) when Calico enforces policy, as the Calico EKS docs require.',
    });
  }
  return findings;
}
