/**
 * The real kubelet's configuration on a lab node (KubeletConfiguration v1beta1, written as JSON,
 * which the kubelet reads as YAML). Pure. Choices for this machine kind, and why:
 * - cgroup v1 with the cgroupfs driver (`failCgroupV1: false`: 1.35+ refuses v1 otherwise), a
 *   per-node cgroupRoot made beforehand (cgroups.ts): nodes share the host's hierarchies;
 * - swap allowed, eviction thresholds at 0 and image GC at 100 %: a shared 2-core machine with
 *   other engineers' builds must not make a lab node evict pods or delete the lab's images
 *   (they cannot be pulled again: there is no registry);
 * - local storage isolation off: cAdvisor cannot stat the host's root device from a node
 *   ("cannot find filesystem info"), and ephemeral-storage accounting is not under study;
 * - the node's lab IP as node IP and serving address; client TLS from the lab PKI (the kubelet's
 *   kubeconfig) as `system:node:<name>`, so NodeRestriction applies as in a cluster; the kubelet's
 *   own API accepts client certificates of the lab CA and authorizes all of them (no webhook);
 * - `resolvConf: ""`: pods get the cluster DNS only, never the host's resolver (no way out).
 */

/** What a node's kubelet needs to know. */
export interface KubeletConfigInput {
  readonly nodeIp: string;
  readonly cgroupRoot: string;
  readonly clientCaFile: string;
  readonly clusterDns: string;
  readonly containerRuntimeEndpoint: string;
}

/** The KubeletConfiguration object. */
export function kubeletConfiguration(i: KubeletConfigInput): Record<string, unknown> {
  return {
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    failCgroupV1: false,
    cgroupDriver: 'cgroupfs',
    cgroupRoot: i.cgroupRoot,
    cgroupsPerQOS: true,
    enforceNodeAllocatable: ['pods'],
    containerRuntimeEndpoint: i.containerRuntimeEndpoint,
    address: i.nodeIp,
    port: 10250,
    readOnlyPort: 0,
    healthzBindAddress: '127.0.0.1',
    healthzPort: 10248,
    authentication: {
      anonymous: { enabled: false },
      webhook: { enabled: false },
      x509: { clientCAFile: i.clientCaFile },
    },
    authorization: { mode: 'AlwaysAllow' },
    clusterDNS: [i.clusterDns],
    clusterDomain: 'cluster.local',
    resolvConf: '',
    failSwapOn: false,
    memorySwap: {},
    evictionHard: {
      'memory.available': '0%',
      'nodefs.available': '0%',
      'nodefs.inodesFree': '0%',
      'imagefs.available': '0%',
    },
    evictionPressureTransitionPeriod: '0s',
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    localStorageCapacityIsolation: false,
    protectKernelDefaults: false,
    rotateCertificates: false,
    serverTLSBootstrap: false,
    nodeStatusUpdateFrequency: '10s',
    nodeStatusReportFrequency: '1m',
    nodeLeaseDurationSeconds: 40,
    shutdownGracePeriod: '0s',
    shutdownGracePeriodCriticalPods: '0s',
    serializeImagePulls: false,
    maxPods: 110,
    podPidsLimit: -1,
    // Fewer background reads on a shared 2-core machine.
    volumeStatsAggPeriod: '0s',
    logging: { format: 'text', verbosity: 1 },
  };
}
