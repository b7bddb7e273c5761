import type { CostClass } from './budget.ts';

/**
 * The named inputs the analysis reads. Names are paths in the EKS log collector's bundle layout;
 * netwarden's own additions (JSON `ip` output, both iptables backends, nft, kube-proxy endpoints)
 * live beside them so a live node and a bundle feed the analysis the same way.
 */

/** Inputs with their meaning; `cni/` and `var_log/aws-routed-eni/` are directories. */
export const INPUT_FILES = {
  iptablesSave: 'networking/iptables-save.txt',
  iptablesNftSave: 'networking/iptables-nft-save.txt',
  iptablesLegacySave: 'networking/iptables-legacy-save.txt',
  iptablesNat: 'networking/iptables-nat.txt',
  iptablesFilter: 'networking/iptables-filter.txt',
  iptablesMangle: 'networking/iptables-mangle.txt',
  nftKubeProxy: 'networking/nft-kube-proxy.json',
  nftTables: 'networking/nft-tables.json',
  conntrackUdp: 'networking/conntrack-udp.txt',
  ipRule: 'networking/iprule.txt',
  ipRoute: 'networking/iproute.txt',
  ipRuleJson: 'networking/ip-rule.json',
  ipRouteJson: 'networking/ip-route.json',
  ipLinkJson: 'networking/ip-link.json',
  resolvConf: 'networking/resolv.conf',
  conntrack: 'networking/conntrack.txt',
  ipamdEnis: 'ipamd/enis.json',
  ipamdPods: 'ipamd/pods.json',
  ipamdEnv: 'ipamd/ipamd-env-settings.json',
  networkutilsEnv: 'ipamd/networkutils-env-settings.json',
  ipamdEniConfigs: 'ipamd/eni-configs.json',
  ipamdMetrics: 'ipamd/metrics.json',
  ipamCheckpoint: 'ipamd/ipam.json',
  ipamdLog: 'var_log/aws-routed-eni/ipamd.log',
  pluginLog: 'var_log/aws-routed-eni/plugin.log',
  kubeProxyLog: 'var_log/kube-proxy.log',
  calicoNodeLog: 'var_log/calico-node.log',
  kubeletLog: 'kubelet/kubelet.log',
  kubeProxyMetrics: 'kube-proxy/metrics.txt',
  kubeProxyHealthz: 'kube-proxy/healthz.json',
  uname: 'kernel/uname.txt',
  sysctls: 'sysctls/sysctl_all.txt',
  nodeName: 'netwarden/node-name.txt',
  cniTimes: 'netwarden/cni-mtimes.txt',
  bootTime: 'netwarden/boot-time.txt',
  /** The CNI daemon's readiness endpoint as `doctor --live --cni-health-url` asked it (JSON). */
  cniHealth: 'netwarden/cni-health.json',
} as const;

/** One of the named inputs. */
export type InputName = (typeof INPUT_FILES)[keyof typeof INPUT_FILES];

/** The CNI config directory inside a bundle. */
export const CNI_DIR = 'cni/';

/** Files a standard EKS bundle has; their absence is reported (the others are optional extras). */
export const STANDARD_FILES: readonly string[] = [
  INPUT_FILES.iptablesSave,
  INPUT_FILES.ipRule,
  INPUT_FILES.ipRoute,
  INPUT_FILES.iptablesNat,
  INPUT_FILES.iptablesFilter,
  INPUT_FILES.iptablesMangle,
  INPUT_FILES.resolvConf,
  INPUT_FILES.conntrack,
  INPUT_FILES.ipamdEnis,
  INPUT_FILES.ipamdPods,
  INPUT_FILES.ipamdMetrics,
  INPUT_FILES.ipamCheckpoint,
  INPUT_FILES.ipamdLog,
  INPUT_FILES.pluginLog,
  INPUT_FILES.kubeletLog,
  INPUT_FILES.uname,
  INPUT_FILES.sysctls,
];

/**
 * How a bundle input is read. `head`: the whole input when it is at most `maxBytes` — a larger one
 * is not read at all, since a cut ruleset, route table or JSON document would mislead the checks;
 * `tail`: the last `maxBytes` (logs); `presence`: listed as found but never loaded, because the
 * analysis does not read it (make it `head` or `tail` the day a check does). `cost` is the parser
 * family the memory budget estimates it by.
 */
export type InputRead =
  | { readonly keep: 'head' | 'tail'; readonly maxBytes: number; readonly cost: CostClass }
  | { readonly keep: 'presence' };

const MiB = 1024 * 1024;
const head = (maxBytes: number, cost: CostClass): InputRead => ({ keep: 'head', maxBytes, cost });
const tail = (maxBytes: number): InputRead => ({ keep: 'tail', maxBytes, cost: 'lines' });
const presence: InputRead = { keep: 'presence' };

/**
 * Every bundle input with how it is read, most important first: when the memory budget is short,
 * earlier inputs displace later ones. `cni/` stands for each file of the CNI directory. A
 * 10,000-Service kube-proxy ruleset is ~25 MB. Logs keep their latest 8 MiB: the budget gives a
 * log at most a quarter of itself, ~7 MiB of 200-byte lines at the default.
 */
export const INPUT_READ: readonly (readonly [name: InputName | typeof CNI_DIR, read: InputRead])[] = [
  [INPUT_FILES.iptablesSave, head(32 * MiB, 'iptables')],
  [INPUT_FILES.iptablesNftSave, head(32 * MiB, 'iptables')],
  [INPUT_FILES.iptablesLegacySave, head(32 * MiB, 'iptables')],
  [INPUT_FILES.nftKubeProxy, head(32 * MiB, 'json')],
  [INPUT_FILES.ipRuleJson, head(8 * MiB, 'json')],
  [INPUT_FILES.ipRule, head(8 * MiB, 'lines')],
  [INPUT_FILES.ipRouteJson, head(8 * MiB, 'json')],
  [INPUT_FILES.ipRoute, head(8 * MiB, 'lines')],
  [INPUT_FILES.ipLinkJson, head(8 * MiB, 'json')],
  [INPUT_FILES.ipamdPods, head(8 * MiB, 'json-map')],
  [INPUT_FILES.ipamdEnis, head(8 * MiB, 'json-map')],
  [INPUT_FILES.ipamCheckpoint, head(8 * MiB, 'json-map')],
  [INPUT_FILES.ipamdEnv, head(MiB, 'json-map')],
  [INPUT_FILES.networkutilsEnv, head(MiB, 'json-map')],
  ['cni/', head(64 * 1024, 'json')],
  [INPUT_FILES.kubeProxyHealthz, head(MiB, 'json-map')],
  [INPUT_FILES.kubeProxyMetrics, head(8 * MiB, 'lines')],
  [INPUT_FILES.nodeName, head(4096, 'lines')],
  [INPUT_FILES.kubeletLog, tail(8 * MiB)],
  [INPUT_FILES.ipamdLog, tail(8 * MiB)],
  [INPUT_FILES.pluginLog, tail(8 * MiB)],
  [INPUT_FILES.kubeProxyLog, tail(8 * MiB)],
  [INPUT_FILES.iptablesNat, presence],
  [INPUT_FILES.iptablesFilter, presence],
  [INPUT_FILES.iptablesMangle, presence],
  [INPUT_FILES.resolvConf, presence],
  [INPUT_FILES.conntrack, presence],
  [INPUT_FILES.ipamdEniConfigs, presence],
  [INPUT_FILES.ipamdMetrics, presence],
  [INPUT_FILES.uname, presence],
  [INPUT_FILES.sysctls, presence],
];

/** At most this many files of the CNI directory are read (the runtime itself loads one). */
export const MAX_CNI_FILES = 64;

const READ_INDEX = new Map<string, number>(INPUT_READ.map(([n], i) => [n, i]));

/** How a bundle name is read (CNI files as `cni/`); undefined for names that are not inputs. */
export function inputRead(name: string): InputRead | undefined {
  const i = READ_INDEX.get(name.startsWith(CNI_DIR) ? CNI_DIR : name);
  return i === undefined ? undefined : INPUT_READ[i]?.[1];
}

/** Importance of a bundle name for the memory budget: lower is more important. */
export function inputRank(name: string): number {
  return READ_INDEX.get(name.startsWith(CNI_DIR) ? CNI_DIR : name) ?? INPUT_READ.length;
}

/** Read access to a node's inputs, whatever their origin. */
export interface NodeInputs {
  /** Where they came from (bundle path or `live`). */
  readonly source: string;
  get(name: string): string | undefined;
  /** Files in the CNI config directory (name → content). */
  cniFiles(): readonly { readonly name: string; readonly content: string }[] | undefined;
  /** Names that were present, and expected ones that were not. */
  readonly found: readonly string[];
  readonly missing: readonly string[];
  /** Notes from reading (truncated files, unsafe archive paths skipped…). */
  readonly notes: readonly string[];
}

/**
 * An in-memory NodeInputs (bundles, live collection, tests). `present` names inputs that exist
 * but were not loaded (presence-only, or left out by a limit): listed as found, never returned.
 */
export function memoryInputs(
  source: string,
  files: ReadonlyMap<string, string>,
  notes: readonly string[] = [],
  cniDirPresent?: boolean,
  expected: readonly string[] = STANDARD_FILES,
  present: readonly string[] = [],
): NodeInputs {
  const cni = [...files.entries()]
    .filter(([k]) => k.startsWith(CNI_DIR) && !k.slice(CNI_DIR.length).includes('/'))
    .map(([k, v]) => ({ name: k.slice(CNI_DIR.length), content: v }));
  const hasCni = cniDirPresent ?? cni.length > 0;
  const found = [...new Set([...files.keys(), ...present])].sort();
  const missing = expected.filter((f) => !files.has(f) && !present.includes(f));
  if (!hasCni) missing.push(`${CNI_DIR} (CNI config directory)`);
  return {
    source,
    get: (name) => files.get(name),
    cniFiles: () => (hasCni ? cni : undefined),
    found,
    missing,
    notes,
  };
}
