/**
 * CNI configuration directory (`/etc/cni/net.d`) validation. The container runtime loads the
 * first valid file by name (libcni sorts `*.conf`, `*.conflist`, `*.json`), so with several configs
 * the order decides which CNI pods get — the root of hybrid VPC CNI + Calico mistakes.
 */

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
