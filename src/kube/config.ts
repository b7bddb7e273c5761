import { existsSync } from 'node:fs';
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
      const kc = new KubeConfig();
      kc.loadFromCluster(saDir);
      return withServer(kc, 'in-cluster', 'in-cluster service account');
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
