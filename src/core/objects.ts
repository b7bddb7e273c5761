/**
 * The Kubernetes object shapes netwarden reads, declared here — low in the tree — as the subset
 * of fields it uses. The objects the API returns (`@kubernetes/client-node`'s V1Pod, V1Node, … in
 * src/kube/, or parsed JSON from a cluster-state file) fit these shapes structurally, so nothing
 * above src/kube/ depends on the client library. Times are `Date` when read through the typed API
 * and RFC 3339 strings from a watch stream or a file: every reader goes through {@link timeMs}.
 */

/** A Kubernetes timestamp as it arrives: a Date (typed API) or an RFC 3339 string (watch, files). */
export type KubeTime = Date | string;

/** An owner of an object. */
export interface OwnerReference {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  readonly uid: string;
  readonly controller?: boolean;
}

/** Object metadata. */
export interface ObjectMeta {
  name?: string;
  namespace?: string;
  uid?: string;
  generateName?: string;
  resourceVersion?: string;
  labels?: { [key: string]: string };
  annotations?: { [key: string]: string };
  ownerReferences?: OwnerReference[];
  creationTimestamp?: KubeTime;
  deletionTimestamp?: KubeTime;
}

/** A node taint. */
export interface Taint {
  key: string;
  value?: string;
  effect: string;
  timeAdded?: KubeTime;
}

/** A node condition. */
export interface NodeCondition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  lastTransitionTime?: KubeTime;
  lastHeartbeatTime?: KubeTime;
}

/** A Node. */
export interface Node {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
  spec?: { taints?: Taint[]; podCIDR?: string; podCIDRs?: string[]; unschedulable?: boolean };
  status?: {
    conditions?: NodeCondition[];
    addresses?: { type: string; address: string }[];
    nodeInfo?: {
      bootID: string;
      kubeletVersion: string;
      containerRuntimeVersion: string;
      kernelVersion: string;
      osImage: string;
      kubeProxyVersion?: string;
    };
  };
}

/** A pod condition. */
export interface PodCondition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  lastTransitionTime?: KubeTime;
  lastProbeTime?: KubeTime;
}

/** A container's state (one of waiting, running, terminated). */
export interface ContainerState {
  waiting?: { reason?: string; message?: string };
  running?: { startedAt?: KubeTime };
  terminated?: {
    exitCode: number;
    reason?: string;
    message?: string;
    startedAt?: KubeTime;
    finishedAt?: KubeTime;
  };
}

/** A container's status. */
export interface ContainerStatus {
  name: string;
  ready: boolean;
  restartCount: number;
  started?: boolean;
  image?: string;
  imageID?: string;
  containerID?: string;
  state?: ContainerState;
  lastState?: ContainerState;
}

/** A probe of a container (the fields the lab reads). */
export interface Probe {
  tcpSocket?: { port: number | string; host?: string };
  exec?: { command?: string[] };
  initialDelaySeconds?: number;
  periodSeconds?: number;
  timeoutSeconds?: number;
  successThreshold?: number;
  failureThreshold?: number;
}

/** A container of a pod spec (identity, image, arguments, environment, ports, readiness). */
export interface Container {
  name: string;
  image?: string;
  imagePullPolicy?: string;
  command?: string[];
  args?: string[];
  env?: { name: string; value?: string }[];
  ports?: { containerPort: number; name?: string; protocol?: string }[];
  readinessProbe?: Probe;
}

/** A Pod. */
export interface Pod {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
  spec?: {
    nodeName?: string;
    hostNetwork?: boolean;
    containers: Container[];
    initContainers?: Container[];
    readinessGates?: { conditionType: string }[];
    restartPolicy?: string;
    terminationGracePeriodSeconds?: number;
    automountServiceAccountToken?: boolean;
  };
  status?: {
    phase?: string;
    reason?: string;
    podIP?: string;
    podIPs?: { ip: string }[];
    hostIP?: string;
    startTime?: KubeTime;
    conditions?: PodCondition[];
    containerStatuses?: ContainerStatus[];
    initContainerStatuses?: ContainerStatus[];
  };
}

/** A Service port. */
export interface ServicePort {
  name?: string;
  port: number;
  protocol?: string;
  targetPort?: number | string;
  nodePort?: number;
  appProtocol?: string;
}

/** A Service. */
export interface Service {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
  spec?: {
    type?: string;
    clusterIP?: string;
    clusterIPs?: string[];
    ports?: ServicePort[];
    selector?: { [key: string]: string };
    internalTrafficPolicy?: string;
    externalTrafficPolicy?: string;
    ipFamilies?: string[];
    sessionAffinity?: string;
    externalName?: string;
  };
}

/** An endpoint of an EndpointSlice. */
export interface Endpoint {
  addresses: string[];
  conditions?: { ready?: boolean; serving?: boolean; terminating?: boolean };
  nodeName?: string;
  zone?: string;
  hostname?: string;
  hints?: { forZones?: { name: string }[]; forNodes?: { name: string }[] };
  targetRef?: { kind?: string; name?: string; namespace?: string; uid?: string };
}

/** An EndpointSlice. */
export interface EndpointSlice {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
  addressType: string;
  endpoints?: Endpoint[];
  ports?: { name?: string; port?: number; protocol?: string; appProtocol?: string }[];
}

/** Milliseconds of a Kubernetes timestamp, whatever form it arrived in. */
export function timeMs(t: KubeTime | undefined | null): number | undefined {
  if (t === undefined || t === null) return undefined;
  const ms = typeof t === 'string' ? Date.parse(t) : t.getTime();
  return Number.isNaN(ms) ? undefined : ms;
}

/**
 * The `namespace/name` of the Service an EndpointSlice belongs to (its `kubernetes.io/service-name`
 * label, the same form as {@link objectKey} gives the Service); undefined without the label.
 */
export function sliceServiceKey(slice: {
  metadata?: { namespace?: string; labels?: Record<string, string> };
}): string | undefined {
  const svc = slice.metadata?.labels?.['kubernetes.io/service-name'];
  return svc ? `${slice.metadata?.namespace ?? ''}/${svc}` : undefined;
}

/** `namespace/name` (or `name` for cluster-scoped objects): the key of caches and watches. */
export function objectKey(obj: { metadata?: { namespace?: string; name?: string } }): string {
  const m = obj.metadata ?? {};
  return m.namespace ? `${m.namespace}/${m.name ?? ''}` : (m.name ?? '');
}
