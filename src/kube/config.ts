import { existsSync, readFileSync } from 'node:fs';
import { isIPv6 } from 'node:net';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { NetwardenError } from '../errors.ts';

/** Where a kubeconfig came from, for messages and `doctor` output. */
export type KubeConfigSource = 'flag' | 'env' | 'in-cluster' | 'home';

/** A loaded kubeconfig plus where it came from. Opaque outside `kube/`. */
export interface LoadedKubeConfig {
  readonly kc: KubeConfig;
  readonly source: KubeConfigSource;
  readonly server: string;
}

/** Inputs of {@link loadKubeConfig}; `env` and `home` are injectable for tests. */
export interface LoadKubeConfigOptions {
  /** `--kubeconfig`; wins over everything else when set. */
  readonly kubeconfigPath?: string | undefined;
  readonly env?: NodeJS.ProcessEnv;
  readonly home?: string;
  /** Directory holding the in-cluster service account files (token, ca.crt). */
  readonly serviceAccountDir?: string;
}

const IN_CLUSTER_SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/**
 * Loads a kubeconfig in kubectl's order, with in-cluster config before `~/.kube/config`:
 * `--kubeconfig`, then `KUBECONFIG` (first existing file of the list), then the pod's service
 * account when `KUBERNETES_SERVICE_HOST` is set (client-node itself reads the address from
 * process.env), then `~/.kube/config`. Throws a NetwardenError naming every place tried when
 * none works.
 */
export function loadKubeConfig(opts: LoadKubeConfigOptions = {}): LoadedKubeConfig {
  const env = opts.env ?? process.env;
  const tried: string[] = [];

  if (opts.kubeconfigPath) {
    return fromFile(opts.kubeconfigPath, 'flag', '--kubeconfig');
  }
  const envList = env.KUBECONFIG?.split(':').filter((p) => p.length > 0) ?? [];
  if (envList.length > 0) {
    const found = envList.find((p) => existsSync(p));
    if (found) return fromFile(found, 'env', 'KUBECONFIG');
    tried.push(`KUBECONFIG=${env.KUBECONFIG} (no such file)`);
  }
  const saDir = opts.serviceAccountDir ?? IN_CLUSTER_SA_DIR;
  if (env.KUBERNETES_SERVICE_HOST && env.KUBERNETES_SERVICE_PORT) {
    if (existsSync(join(saDir, 'token'))) {
      return withServer(
        inClusterConfig(saDir, env.KUBERNETES_SERVICE_HOST, env.KUBERNETES_SERVICE_PORT),
        'in-cluster',
        'in-cluster service account',
      );
    }
    tried.push(`in-cluster (no token in ${saDir})`);
  }
  const homeConfig = join(opts.home ?? homedir(), '.kube', 'config');
  if (existsSync(homeConfig)) return fromFile(homeConfig, 'home', homeConfig);
  tried.push(`${homeConfig} (no such file)`);

  throw new NetwardenError(
    'kubeconfig-missing',
    `no Kubernetes credentials found; tried ${tried.join(', ')}; pass --kubeconfig or set KUBECONFIG`,
  );
}

/**
 * The in-cluster config as client-node's `loadFromCluster` builds it, with the files taken from
 * `saDir` itself (`loadFromCluster` takes a prefix it puts in front of the standard path, so a
 * folder passed there pointed at `<dir>/var/run/secrets/…`). The token is a `tokenFile`: read
 * again as the kubelet rotates the projected token. The address is the one given (the chart's
 * apiServer.host/port when set, else the kubelet's service variables).
 */
function inClusterConfig(saDir: string, host: string, port: string): KubeConfig {
  const kc = new KubeConfig();
  const scheme = port === '80' || port === '8080' || port === '8001' ? 'http' : 'https';
  const namespaceFile = join(saDir, 'namespace');
  const namespace = existsSync(namespaceFile) ? readFileSync(namespaceFile, 'utf8').trim() : undefined;
  kc.loadFromOptions({
    clusters: [
      {
        name: 'inCluster',
        server: `${scheme}://${isIPv6(host) ? `[${host}]` : host}:${port}`,
        caFile: join(saDir, 'ca.crt'),
        skipTLSVerify: false,
      },
    ],
    users: [
      {
        name: 'inClusterUser',
        authProvider: { name: 'tokenFile', config: { tokenFile: join(saDir, 'token') } },
      },
    ],
    contexts: [
      {
        name: 'inClusterContext',
        cluster: 'inCluster',
        user: 'inClusterUser',
        ...(namespace ? { namespace } : {}),
      },
    ],
    currentContext: 'inClusterContext',
  });
  return kc;
}

function fromFile(path: string, source: KubeConfigSource, label: string): LoadedKubeConfig {
  if (!existsSync(path)) {
    throw new NetwardenError('kubeconfig-missing', `${label}: ${path}: no such file`);
  }
  const kc = new KubeConfig();
  try {
    kc.loadFromFile(path);
  } catch (err) {
    throw new NetwardenError('kubeconfig-invalid', `${label}: ${path}: not a valid kubeconfig`, {
      cause: err,
    });
  }
  return withServer(kc, source, `${label} ${path}`);
}

function withServer(kc: KubeConfig, source: KubeConfigSource, label: string): LoadedKubeConfig {
  const cluster = kc.getCurrentCluster();
  if (!cluster?.server) {
    throw new NetwardenError('kubeconfig-invalid', `${label}: the current context names no cluster server`);
  }
  return { kc, source, server: cluster.server };
}
