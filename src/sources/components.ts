/**
 * What the cluster state says about the node's networking components — the VPC CNI (aws-node),
 * kube-proxy and calico-node: which image and version runs, with which flags and environment, and
 * kube-proxy's mode from its flag or its mounted configuration file. Input is Kubernetes objects as
 * `kubectl get pods,daemonsets,configmaps -A -o json` prints them (or as the API returns them), read
 * defensively: a field of the wrong shape is skipped and noted, never trusted. Pure; no I/O.
 *
 * Nothing here judges. Unknown stays unknown: an unset variable is absent (not its default), a
 * `valueFrom` that cannot be resolved is listed in `unresolvedEnv`, an image pinned by digest only
 * has no version. The field-case rules (docs/field-cases.md) decide what a value means.
 */

import { type ImageRef, isComponentContainer, parseImageRef } from '../core/components.ts';
import { isObj, type JsonObject, str } from '../core/json.ts';
import { walkKubeObjects } from '../core/object-lists.ts';

/** The objects the reader looks at, sorted by kind (typed-client objects carry no `kind`). */
export interface ComponentObjects {
  readonly pods?: readonly unknown[];
  readonly daemonSets?: readonly unknown[];
  readonly configMaps?: readonly unknown[];
}

/** The object a component was read from. */
export interface ComponentSource {
  readonly kind: 'Pod' | 'DaemonSet';
  readonly namespace: string;
  readonly name: string;
  /** The Pod's node (absent for a DaemonSet template). */
  readonly node?: string;
}

/** What every component has. */
export interface ComponentBase {
  readonly source: ComponentSource;
  readonly container: string;
  readonly image: ImageRef;
  /** `command` then `args`, as written. */
  readonly argv: readonly string[];
  /** `--name=value` and `--name value` flags from argv (a bare `--flag` maps to `"true"`). */
  readonly flags: Readonly<Record<string, string>>;
  /** Literal `value`s and `configMapKeyRef`s resolved against the ConfigMaps given. */
  readonly env: Readonly<Record<string, string>>;
  /** Variables whose value the cluster state does not hold, with where it comes from (`NAME (fieldRef)`). */
  readonly unresolvedEnv: readonly string[];
  /** `resources.requests.cpu` as written (`60m`, `0.1`); absent when not requested. */
  readonly cpuRequest?: string;
  /** The container's readiness when read from a Pod with status. */
  readonly ready?: boolean;
  readonly restarts?: number;
}

/** The AWS VPC CNI's aws-node container, with the settings the field cases read. */
export interface VpcCniComponent extends ComponentBase {
  readonly networkPolicyAgent?: ImageRef;
  readonly settings: {
    /** `AWS_VPC_K8S_CNI_EXTERNALSNAT`; unset means false in the VPC CNI. */
    readonly externalSnat?: boolean;
    /** `AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS`, split on commas. */
    readonly excludeSnatCidrs?: readonly string[];
    /** `ENABLE_NFTABLES` (v1.12.1–v1.13.1; ignored from v1.13.2, which picks the mode itself). */
    readonly enableNftables?: boolean;
    /** `AWS_VPC_K8S_CNI_VETHPREFIX`; unset means `eni`. */
    readonly vethPrefix?: string;
    /** `NETWORK_POLICY_ENFORCING_MODE` or `ENABLE_NETWORK_POLICY`, as written. */
    readonly networkPolicy?: string;
    /** `CLUSTER_ENDPOINT` (v1.12.1+: ipamd reaches the API without kube-proxy's ClusterIP rules). */
    readonly clusterEndpoint?: string;
    /** `AWS_VPC_K8S_CNI_CONNMARK`; unset means 0x80. */
    readonly connmark?: string;
  };
}

/** The proxy modes kube-proxy accepts (`kernelspace` is Windows). */
export type ProxyMode = 'iptables' | 'ipvs' | 'nftables' | 'kernelspace';

/** kube-proxy, with its mode and where the mode was read. */
export interface KubeProxyComponent extends ComponentBase {
  readonly mode?: ProxyMode;
  /** `flag`: --proxy-mode; `config`: the mounted file's `mode:`; `default`: file read, mode empty (iptables on Linux). */
  readonly modeFrom?: 'flag' | 'config' | 'default';
  /** The ConfigMap and key behind `--config`, when the mount could be followed. */
  readonly config?: { readonly configMap: string; readonly key: string };
}

/** calico-node (Felix), with the data plane settings its environment holds. */
export interface CalicoNodeComponent extends ComponentBase {
  /** `enterprise` for Calico Enterprise (`tigera/cnx-node`): its versions are not Calico Open Source's. */
  readonly edition: 'open-source' | 'enterprise';
  /** `FELIX_IPTABLESBACKEND` normalised; unset means Auto from Calico v3.18, Legacy before. */
  readonly iptablesBackend?: 'auto' | 'legacy' | 'nft';
  /** `FELIX_BPFENABLED` (the operator sets it for the BPF data plane). */
  readonly bpfEnabled?: boolean;
  /** `FELIX_NFTABLESMODE` as written (Calico v3.29+ native nftables data plane). */
  readonly nftablesMode?: string;
}

/** What the cluster state says about the three components. */
export interface ComponentVersions {
  readonly vpcCni?: VpcCniComponent;
  readonly kubeProxy?: KubeProxyComponent;
  readonly calicoNode?: CalicoNodeComponent;
  /** What could not be read, or was chosen by fallback (one line each). */
  readonly notes: readonly string[];
}

/** Options of {@link readComponentVersions}. */
export interface ComponentReadOptions {
  /** Prefer the Pods on this node; without it (or without a Pod there) the DaemonSet template is used. */
  readonly nodeName?: string;
}

/**
 * Sorts Kubernetes objects by kind from parsed JSON documents (the shapes core/object-lists.ts
 * walks). Other kinds are skipped.
 */
export function componentObjectsFromJson(...docs: readonly unknown[]): ComponentObjects {
  const buckets: Record<string, unknown[]> = { Pod: [], DaemonSet: [], ConfigMap: [] };
  walkKubeObjects(docs, (kind, obj) => {
    buckets[kind]?.push(obj);
  });
  return {
    pods: buckets.Pod ?? [],
    daemonSets: buckets.DaemonSet ?? [],
    configMaps: buckets.ConfigMap ?? [],
  };
}

interface Found {
  readonly source: ComponentSource;
  readonly podSpec: JsonObject;
  readonly container: JsonObject;
  readonly status?: JsonObject;
}

type Matcher = (container: JsonObject) => boolean;

const isAwsNode: Matcher = (c) => isComponentContainer('aws-node', c);
const isNetworkPolicyAgent: Matcher = (c) => isComponentContainer('aws-network-policy-agent', c);
const isKubeProxy: Matcher = (c) => isComponentContainer('kube-proxy', c);
const isCalicoNode: Matcher = (c) => isComponentContainer('calico-node', c);

/** Reads the three components from the objects; each is absent when nothing matches it. */
export function readComponentVersions(
  objects: ComponentObjects,
  opts: ComponentReadOptions = {},
): ComponentVersions {
  const notes: string[] = [];
  const configMaps = indexConfigMaps(objects.configMaps ?? []);
  const ctx = { objects, opts, notes, configMaps };
  const awsNode = find(ctx, 'aws-node (VPC CNI)', isAwsNode);
  const kubeProxy = find(ctx, 'kube-proxy', isKubeProxy);
  const calico = find(ctx, 'calico-node', isCalicoNode);
  return {
    ...(awsNode ? { vpcCni: vpcCni(ctx, awsNode) } : {}),
    ...(kubeProxy ? { kubeProxy: kubeProxyComponent(ctx, kubeProxy) } : {}),
    ...(calico ? { calicoNode: calicoNode(ctx, calico) } : {}),
    notes,
  };
}

interface Ctx {
  readonly objects: ComponentObjects;
  readonly opts: ComponentReadOptions;
  readonly notes: string[];
  readonly configMaps: ReadonlyMap<string, Readonly<Record<string, string>>>;
}

/** `namespace/name` → data, for env `configMapKeyRef`s and kube-proxy's mounted config. */
function indexConfigMaps(items: readonly unknown[]): Map<string, Record<string, string>> {
  const out = new Map<string, Record<string, string>>();
  for (const cm of items) {
    if (!isObj(cm) || !isObj(cm.metadata) || !isObj(cm.data)) continue;
    const data: Record<string, string> = {};
    for (const [k, v] of Object.entries(cm.data)) if (typeof v === 'string') data[k] = v;
    out.set(`${str(cm.metadata.namespace) ?? ''}/${str(cm.metadata.name) ?? ''}`, data);
  }
  return out;
}

/**
 * The Pod on the given node running a matching container, else a DaemonSet template, else any such
 * Pod (noted: another node's version may differ during a rollout).
 */
function find(ctx: Ctx, what: string, match: Matcher): Found | undefined {
  const pods = candidates(ctx.objects.pods ?? [], 'Pod', match);
  const node = ctx.opts.nodeName;
  const onNode = node !== undefined ? pods.find((p) => p.source.node === node) : undefined;
  if (onNode) return onNode;
  const ds = candidates(ctx.objects.daemonSets ?? [], 'DaemonSet', match)[0];
  const picked = ds ?? pods[0];
  if (picked && node !== undefined) {
    ctx.notes.push(
      `${what}: no Pod on node ${node}; read from ${picked.source.kind} ${picked.source.namespace}/${picked.source.name}`,
    );
  }
  return picked;
}

function candidates(items: readonly unknown[], kind: 'Pod' | 'DaemonSet', match: Matcher): Found[] {
  const out: Found[] = [];
  for (const obj of items) {
    if (!isObj(obj) || !isObj(obj.metadata)) continue;
    const podSpec = podSpecOf(obj, kind);
    const container = podSpec ? matchingContainer(podSpec, match) : undefined;
    if (!podSpec || !container) continue;
    const node = kind === 'Pod' ? str(podSpec.nodeName) : undefined;
    out.push({
      source: {
        kind,
        namespace: str(obj.metadata.namespace) ?? '',
        name: str(obj.metadata.name) ?? '',
        ...(node !== undefined ? { node } : {}),
      },
      podSpec,
      container,
      ...(kind === 'Pod' && isObj(obj.status) ? { status: obj.status } : {}),
    });
  }
  return out;
}

function podSpecOf(obj: JsonObject, kind: 'Pod' | 'DaemonSet'): JsonObject | undefined {
  const spec = isObj(obj.spec) ? obj.spec : undefined;
  if (kind === 'Pod') return spec;
  return spec && isObj(spec.template) && isObj(spec.template.spec) ? spec.template.spec : undefined;
}

function matchingContainer(podSpec: JsonObject, match: Matcher): JsonObject | undefined {
  const list = Array.isArray(podSpec.containers) ? podSpec.containers : [];
  const c = list.find((c: unknown) => isObj(c) && typeof c.image === 'string' && match(c));
  return isObj(c) ? c : undefined;
}

function base(ctx: Ctx, f: Found): ComponentBase {
  const name = str(f.container.name) ?? '';
  const argv = [...strings(f.container.command), ...strings(f.container.args)];
  const { env, unresolved } = readEnv(ctx, f);
  const status = containerStatus(f, name);
  const resources = isObj(f.container.resources) ? f.container.resources : undefined;
  const cpu = resources && isObj(resources.requests) ? str(resources.requests.cpu) : undefined;
  return {
    source: f.source,
    container: name,
    image: parseImageRef(str(f.container.image) ?? ''),
    argv,
    flags: parseFlags(argv),
    env,
    unresolvedEnv: unresolved,
    ...(cpu !== undefined ? { cpuRequest: cpu } : {}),
    ...status,
  };
}

const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((s) => typeof s === 'string') : []);

/**
 * `--a=b`, `--a b`, `-a=b`; a flag followed by another flag (or nothing) is `"true"`. Shell-wrapped
 * commands (`sh -c "kube-proxy --v=2 --config=…"`) carry their flags in one word, so words are split.
 */
export function parseFlags(argv: readonly string[]): Record<string, string> {
  const words = argv.flatMap((a) => a.trim().split(/\s+/));
  const flags: Record<string, string> = {};
  for (let i = 0; i < words.length; i++) {
    const m = /^--?([A-Za-z0-9][A-Za-z0-9-]*)(?:=(.*))?$/.exec(words[i] ?? '');
    if (!m?.[1]) continue;
    const next = words[i + 1];
    if (m[2] !== undefined) flags[m[1]] = m[2];
    else if (next !== undefined && !next.startsWith('-')) {
      flags[m[1]] = next;
      i++;
    } else flags[m[1]] = 'true';
  }
  return flags;
}

function readEnv(ctx: Ctx, f: Found): { env: Record<string, string>; unresolved: string[] } {
  const env: Record<string, string> = {};
  const unresolved: string[] = [];
  for (const e of Array.isArray(f.container.env) ? f.container.env : []) {
    if (!isObj(e) || typeof e.name !== 'string') continue;
    const value = envValue(ctx, f.source.namespace, e);
    if (typeof value === 'string') env[e.name] = value;
    else unresolved.push(`${e.name} (${value.from})`);
  }
  return { env, unresolved };
}

/** A literal, a resolvable `configMapKeyRef`, or where the value would come from. */
function envValue(ctx: Ctx, ns: string, e: JsonObject): string | { from: string } {
  if (typeof e.value === 'string') return e.value;
  const from = isObj(e.valueFrom) ? e.valueFrom : undefined;
  if (!from) return '';
  const ref = isObj(from.configMapKeyRef) ? from.configMapKeyRef : undefined;
  const value = ref ? ctx.configMaps.get(`${ns}/${str(ref.name) ?? ''}`)?.[str(ref.key) ?? ''] : undefined;
  return value ?? { from: Object.keys(from)[0] ?? 'valueFrom' };
}

function containerStatus(f: Found, name: string): { ready?: boolean; restarts?: number } {
  const list = f.status && Array.isArray(f.status.containerStatuses) ? f.status.containerStatuses : [];
  const s = list.find((c: unknown) => isObj(c) && c.name === name);
  if (!isObj(s)) return {};
  return {
    ...(typeof s.ready === 'boolean' ? { ready: s.ready } : {}),
    ...(typeof s.restartCount === 'number' ? { restarts: s.restartCount } : {}),
  };
}

const bool = (v: string | undefined): boolean | undefined =>
  v === undefined
    ? undefined
    : /^true$/i.test(v.trim())
      ? true
      : /^false$/i.test(v.trim())
        ? false
        : undefined;

function vpcCni(ctx: Ctx, f: Found): VpcCniComponent {
  const b = base(ctx, f);
  const e = b.env;
  const npa = (Array.isArray(f.podSpec.containers) ? f.podSpec.containers : []).find(
    (c: unknown) => isObj(c) && typeof c.image === 'string' && isNetworkPolicyAgent(c),
  );
  const cidrs = e.AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS;
  const settings = {
    ...opt('externalSnat', bool(e.AWS_VPC_K8S_CNI_EXTERNALSNAT)),
    ...opt(
      'excludeSnatCidrs',
      cidrs
        ?.split(',')
        .map((c) => c.trim())
        .filter((c) => c !== ''),
    ),
    ...opt('enableNftables', bool(e.ENABLE_NFTABLES)),
    ...opt('vethPrefix', e.AWS_VPC_K8S_CNI_VETHPREFIX),
    ...opt('networkPolicy', e.NETWORK_POLICY_ENFORCING_MODE ?? e.ENABLE_NETWORK_POLICY),
    ...opt('clusterEndpoint', e.CLUSTER_ENDPOINT),
    ...opt('connmark', e.AWS_VPC_K8S_CNI_CONNMARK),
  };
  return {
    ...b,
    ...(isObj(npa) ? { networkPolicyAgent: parseImageRef(str(npa.image) ?? '') } : {}),
    settings,
  };
}

const opt = <K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } =>
  (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };

const PROXY_MODES: readonly ProxyMode[] = ['iptables', 'ipvs', 'nftables', 'kernelspace'];

function kubeProxyComponent(ctx: Ctx, f: Found): KubeProxyComponent {
  const b = base(ctx, f);
  const flagMode = b.flags['proxy-mode'];
  if (flagMode !== undefined) {
    const mode = PROXY_MODES.find((m) => m === flagMode);
    if (!mode) ctx.notes.push(`kube-proxy: --proxy-mode=${flagMode} is not a mode kube-proxy knows`);
    return { ...b, ...(mode ? { mode, modeFrom: 'flag' as const } : {}) };
  }
  const path = b.flags.config;
  if (path === undefined) return b;
  const config = mountedConfigMap(f, path);
  const text = config ? ctx.configMaps.get(config.ref)?.[config.key] : undefined;
  if (!config || text === undefined) {
    ctx.notes.push(
      config
        ? `kube-proxy: --config=${path} is ConfigMap ${config.ref} key ${config.key}, which the cluster state does not hold`
        : `kube-proxy: --config=${path} is not a mounted ConfigMap; mode unknown`,
    );
    return { ...b, ...(config ? { config: { configMap: config.ref, key: config.key } } : {}) };
  }
  const mode = configMode(text);
  if (mode === 'invalid')
    ctx.notes.push(`kube-proxy: ${config.ref} ${config.key} has a mode kube-proxy does not know`);
  return {
    ...b,
    config: { configMap: config.ref, key: config.key },
    ...(mode === 'invalid'
      ? {}
      : mode === ''
        ? { mode: 'iptables' as const, modeFrom: 'default' as const }
        : { mode, modeFrom: 'config' as const }),
  };
}

/**
 * Follows `--config=<path>` to the ConfigMap volume behind it: mounted at a parent directory (the
 * file name is the key, or an `items` entry maps it to one), or mounted as the file itself with
 * `subPath` naming the key.
 */
function mountedConfigMap(f: Found, path: string): { ref: string; key: string } | undefined {
  const mounts = Array.isArray(f.container.volumeMounts) ? f.container.volumeMounts : [];
  const volumes = Array.isArray(f.podSpec.volumes) ? f.podSpec.volumes : [];
  for (const m of mounts) {
    const file = isObj(m) ? fileUnderMount(m, path) : undefined;
    const vol =
      file !== undefined && isObj(m)
        ? volumes.find((v: unknown) => isObj(v) && v.name === m.name)
        : undefined;
    const cm = isObj(vol) && isObj(vol.configMap) ? vol.configMap : undefined;
    const name = cm ? str(cm.name) : undefined;
    if (file !== undefined && cm && name !== undefined)
      return { ref: `${f.source.namespace}/${name}`, key: itemKey(cm, file) };
  }
  return undefined;
}

/** The ConfigMap key a file of a configMap volume shows: renamed by an `items` entry, else the file name. */
function itemKey(cm: JsonObject, file: string): string {
  const item = (Array.isArray(cm.items) ? cm.items : []).find((i: unknown) => isObj(i) && i.path === file);
  return (isObj(item) ? str(item.key) : undefined) ?? file;
}

/** The file name `path` has inside the volume mounted by `mount`, if it is inside it. */
function fileUnderMount(mount: JsonObject, path: string): string | undefined {
  if (typeof mount.mountPath !== 'string') return undefined;
  const dir = mount.mountPath.replace(/\/+$/, '');
  if (path.startsWith(`${dir}/`)) return path.slice(dir.length + 1);
  const subPath = typeof mount.subPath === 'string' && mount.subPath !== '' ? mount.subPath : undefined;
  return path === dir ? subPath : undefined;
}

/** The top-level `mode:` of a KubeProxyConfiguration (YAML or JSON); `''` when unset or empty. */
function configMode(text: string): ProxyMode | '' | 'invalid' {
  const m =
    /^mode:[ \t]*["']?([A-Za-z]*)["']?[ \t]*(?:#.*)?$/m.exec(text) ?? /"mode"\s*:\s*"([A-Za-z]*)"/.exec(text);
  const value = (m?.[1] ?? '').toLowerCase();
  if (value === '') return '';
  return PROXY_MODES.find((p) => p === value) ?? 'invalid';
}

function calicoNode(ctx: Ctx, f: Found): CalicoNodeComponent {
  const b = base(ctx, f);
  const backend = b.env.FELIX_IPTABLESBACKEND?.trim().toLowerCase();
  const normalized: CalicoNodeComponent['iptablesBackend'] =
    backend === 'auto' || backend === 'legacy' || backend === 'nft' ? backend : undefined;
  if (backend !== undefined && normalized === undefined)
    ctx.notes.push(
      `calico-node: FELIX_IPTABLESBACKEND=${b.env.FELIX_IPTABLESBACKEND} is not Auto, Legacy or NFT`,
    );
  return {
    ...b,
    edition: /(^|\/)cnx-node$/.test(b.image.repository) ? 'enterprise' : 'open-source',
    ...opt('iptablesBackend', normalized),
    ...opt('bpfEnabled', bool(b.env.FELIX_BPFENABLED)),
    ...opt('nftablesMode', b.env.FELIX_NFTABLESMODE),
  };
}
