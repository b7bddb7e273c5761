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

/** An in-memory NodeInputs (bundles, live collection, tests). */
export function memoryInputs(
  source: string,
  files: ReadonlyMap<string, string>,
  notes: readonly string[] = [],
  cniDirPresent?: boolean,
  expected: readonly string[] = STANDARD_FILES,
): NodeInputs {
  const cni = [...files.entries()]
    .filter(([k]) => k.startsWith(CNI_DIR) && !k.slice(CNI_DIR.length).includes('/'))
    .map(([k, v]) => ({ name: k.slice(CNI_DIR.length), content: v }));
  const hasCni = cniDirPresent ?? cni.length > 0;
  const found = [...files.keys()].sort();
  const missing = expected.filter((f) => !files.has(f));
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
