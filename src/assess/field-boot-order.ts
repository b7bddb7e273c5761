/**
 * Field cases of boot order (docs/field-cases.md):
 * - 6, `cni-config-without-daemon` (cilium#27715, multus-cni#1387, openshift MCO#1623): the CNI
 *   config the runtime loads was written before this boot, so the runtime reported the network ready
 *   at once, while the daemon that config relies on is not ready: pods sandboxed meanwhile got (or
 *   failed to get) their network from a daemon that was not there. A warning that explains; the
 *   per-pod checks decide which pods are broken.
 * - 11, `vpc-cni-waits-for-kube-proxy` (amazon-vpc-cni-k8s#1078, #2138): aws-node v1.12.1+ without
 *   CLUSTER_ENDPOINT reaches the API through the `kubernetes` ClusterIP, so at boot it waits for
 *   kube-proxy's first sync (info).
 */
import type { Finding } from '../core/findings.ts';
import { type Pod, timeMs } from '../core/objects.ts';
import { compareVersions, parseVersion, type Version } from '../core/versions.ts';
import type { ComponentVersions, VpcCniComponent } from '../sources/components.ts';
import { componentLine } from './field-facts.ts';

/** Whether the daemon of the selected CNI is ready, and the line that says so (undefined: not known). */
export interface DaemonReadiness {
  readonly ready: boolean | undefined;
  readonly evidence: string;
}

/** What the config-age case reads. */
export interface CniConfigAgeInputs {
  /** The config the runtime loads (first valid by name). */
  readonly selected?: { readonly file: string; readonly types: readonly string[] };
  readonly confDirPath: string;
  /** File name → last written (epoch ms), when known. */
  readonly mtimes?: ReadonlyMap<string, number>;
  /** This boot's start (epoch ms), when known. */
  readonly bootMs?: number;
  readonly daemon: DaemonReadiness;
  /** Pods (`ns/name`) whose sandbox was set up on this boot; undefined when not known. */
  readonly podsThisBoot?: readonly string[];
}

const iso = (ms: number): string => new Date(ms).toISOString();

/** Case 6. */
export function cniConfigAgeFindings(i: CniConfigAgeInputs): Finding[] {
  const file = i.selected?.file;
  const written = file !== undefined ? i.mtimes?.get(file) : undefined;
  if (file === undefined || written === undefined || i.bootMs === undefined || written >= i.bootMs) return [];
  if (i.daemon.ready !== false || i.podsThisBoot?.length === 0) return [];
  const pods = i.podsThisBoot;
  return [
    {
      code: 'cni-config-without-daemon',
      severity: 'warning',
      title: `The CNI config ${file} survived the reboot while its daemon is not ready: pods got their network before the CNI could serve them`,
      evidence: [
        `${i.confDirPath}/${file} written ${iso(written)}, this boot began ${iso(i.bootMs)}`,
        i.daemon.evidence,
        pods === undefined
          ? 'pods sandboxed on this boot: not known'
          : `${pods.length} pod(s) sandboxed on this boot: ${pods.slice(0, 5).join(', ')}${pods.length > 5 ? ', …' : ''}`,
      ],
      subjects: [{ kind: 'file', name: `${i.confDirPath}/${file}` }],
      fix: "Nothing to change in the CNI: gate the node until its daemon is ready (netwarden's boot gate or netwarden-cni-gate) and recycle the pods sandboxed before it was (with Multus, as multus-cni#1387 says, delete them).",
    },
  ];
}

/**
 * The selected CNI's daemon readiness from the cluster view: aws-node for the VPC CNI, calico-node
 * for Calico's own config, read from this node's Pod (a DaemonSet template says nothing about it).
 */
export function daemonReadinessFromPods(
  types: readonly string[],
  components: ComponentVersions | undefined,
): DaemonReadiness {
  const c = types.includes('aws-cni')
    ? { name: 'aws-node', comp: components?.vpcCni }
    : types.includes('calico')
      ? { name: 'calico-node', comp: components?.calicoNode }
      : undefined;
  if (c?.comp?.source.kind !== 'Pod' || c.comp.ready === undefined)
    return { ready: undefined, evidence: 'CNI daemon readiness: not known' };
  return {
    ready: c.comp.ready,
    evidence: `${c.name} ${c.comp.source.namespace}/${c.comp.source.name} ready=${c.comp.ready}${c.comp.restarts !== undefined ? ` (restarts ${c.comp.restarts})` : ''}`,
  };
}

/** Pods bound to `nodeName` (not host-network) whose sandbox was set up at or after `bootMs`. */
export function podsSandboxedSince(pods: readonly Pod[], nodeName: string, bootMs: number): string[] {
  const out: string[] = [];
  for (const p of pods) {
    if (p.spec?.nodeName !== nodeName || p.spec.hostNetwork) continue;
    const ready = p.status?.conditions?.find((c) => c.type === 'PodReadyToStartContainers');
    const at = timeMs(ready?.status === 'True' ? ready.lastTransitionTime : undefined);
    if (at !== undefined && at >= bootMs) out.push(`${p.metadata?.namespace}/${p.metadata?.name}`);
  }
  return out;
}

const V1_12_1 = parseVersion('1.12.1') as Version;

/** Case 11. */
export function clusterEndpointFindings(aws: VpcCniComponent | undefined): Finding[] {
  const v = aws?.image.version;
  if (!aws || !v || compareVersions(v, V1_12_1) < 0 || aws.settings.clusterEndpoint !== undefined) return [];
  return [
    {
      code: 'vpc-cni-waits-for-kube-proxy',
      severity: 'info',
      title:
        'aws-node reaches the API server through the kubernetes ClusterIP (no CLUSTER_ENDPOINT): at boot it waits for kube-proxy',
      evidence: [componentLine('aws-node', aws), 'CLUSTER_ENDPOINT: unset'],
      subjects: [{ kind: 'node', name: 'aws-node (VPC CNI)' }],
      fix: "Set CLUSTER_ENDPOINT on aws-node to the API server endpoint (v1.12.1+): ipamd then starts without kube-proxy's rules.",
    },
  ];
}
