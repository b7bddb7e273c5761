/**
 * A real Kubernetes control plane for tests and the lab: etcd + kube-apiserver on loopback with
 * real TLS and Node,RBAC authorization, and on request kube-controller-manager and
 * kube-scheduler. Everything lives in one LabRun folder; `stop()` (or the next run's stale
 * clean-up, when this process was killed) removes every process and file.
 */
import { writeFileSync } from 'node:fs';
import { NetwardenError } from '../errors.ts';
import { httpGet, type TlsFiles } from '../host/http.ts';
import type { LabBinary } from './binaries.ts';
import { writeKubeconfig } from './kubeconfig.ts';
import { type CertPair, createPki, issueCert, type LabPki } from './pki.ts';
import { freePort } from './ports.ts';
import { LabProcess, type LabProcessSpec } from './process.ts';
import { type LabRun, waitUntil } from './run-dir.ts';

/** What to start and where. */
export interface ControlPlaneOptions {
  readonly run: LabRun;
  readonly binaries: Readonly<Record<LabBinary, string>>;
  readonly controllerManager?: boolean;
  readonly scheduler?: boolean;
  /** Address the API server listens on (default 127.0.0.1). */
  readonly bindAddress?: string;
  /**
   * Address published as the `kubernetes` Service endpoint. Default: none, which runs the API
   * server with `--endpoint-reconciler-type=none` (a loopback address is not a valid endpoint).
   */
  readonly advertiseAddress?: string;
  /** Port the API server listens on; default a free one. */
  readonly apiServerPort?: number;
  /** Extra IP SANs for the serving certificate (lab addresses). */
  readonly extraIps?: readonly string[];
  readonly serviceCidr?: string;
  readonly clusterCidr?: string;
  /** Extra `--feature-gates` etc. for kube-controller-manager (e.g. node-monitor timings). */
  readonly controllerManagerArgs?: readonly string[];
  /**
   * Write an audit log (JSON lines, metadata level, every request) to {@link ControlPlane.auditLogPath}:
   * who asked what, for tests and benchmarks that count requests per user.
   */
  readonly auditLog?: boolean;
  readonly readyTimeoutMs?: number;
  readonly log?: (line: string) => void;
}

/** How long each step took, for the closing notes and benchmarks. */
export interface ControlPlaneTimings {
  pkiMs: number;
  etcdReadyMs: number;
  apiServerReadyMs: number;
  totalMs: number;
}

/** The default Service CIDR, as kubeadm and the issue use. */
export const SERVICE_CIDR = '10.96.0.0/12';
/** The first address of the Service CIDR: the `kubernetes` Service's ClusterIP. */
export const KUBERNETES_SERVICE_IP = '10.96.0.1';
/** Pod network; the controller-manager carves a /24 per node out of it. */
export const CLUSTER_CIDR = '10.244.0.0/16';

/** A running control plane. */
export class ControlPlane {
  readonly run: LabRun;
  readonly pki: LabPki;
  readonly server: string;
  readonly adminKubeconfig: string;
  /** The audit log (JSON lines) when started with `auditLog`; see audit.ts. */
  readonly auditLogPath: string | undefined;
  readonly timings: ControlPlaneTimings;
  readonly #opts: ControlPlaneOptions;
  readonly #admin: CertPair;
  readonly #apiSpec: LabProcessSpec;
  #etcd: LabProcess;
  #apiServer: LabProcess;
  #controllerManager: LabProcess | undefined;
  #scheduler: LabProcess | undefined;

  private constructor(init: {
    opts: ControlPlaneOptions;
    pki: LabPki;
    server: string;
    adminKubeconfig: string;
    admin: CertPair;
    apiSpec: LabProcessSpec;
    etcd: LabProcess;
    apiServer: LabProcess;
    timings: ControlPlaneTimings;
  }) {
    this.run = init.opts.run;
    this.#opts = init.opts;
    this.pki = init.pki;
    this.server = init.server;
    this.adminKubeconfig = init.adminKubeconfig;
    this.auditLogPath = init.opts.auditLog ? auditLogPath(init.opts.run) : undefined;
    this.#admin = init.admin;
    this.#apiSpec = init.apiSpec;
    this.#etcd = init.etcd;
    this.#apiServer = init.apiServer;
    this.timings = init.timings;
  }

  /**
   * Starts etcd and kube-apiserver (and the controllers asked for), waits until `/readyz` answers
   * ok, and writes an admin kubeconfig. On any failure it stops what it started and throws a
   * NetwardenError naming the component with the end of its log.
   */
  static async start(opts: ControlPlaneOptions): Promise<ControlPlane> {
    const { run } = opts;
    const log = opts.log ?? (() => {});
    const t0 = performance.now();
    const started: LabProcess[] = [];
    run.onClose(async () => {
      for (const p of started.reverse()) await p.stop();
    });
    const bind = opts.bindAddress ?? '127.0.0.1';
    const pki = await createPki(run.path('pki'), {
      ips: [
        '127.0.0.1',
        KUBERNETES_SERVICE_IP,
        bind,
        ...(opts.advertiseAddress ? [opts.advertiseAddress] : []),
        ...(opts.extraIps ?? []),
      ],
      dns: [
        'localhost',
        'kubernetes',
        'kubernetes.default',
        'kubernetes.default.svc',
        'kubernetes.default.svc.cluster.local',
      ],
    });
    const admin = await issueCert(pki.dir, pki.ca, 'admin', {
      cn: 'netwarden-lab-admin',
      orgs: ['system:masters'],
    });
    const pkiMs = performance.now() - t0;

    const [etcdClient, etcdPeer, apiPort] = await Promise.all([
      freePort(),
      freePort(),
      opts.apiServerPort ? Promise.resolve(opts.apiServerPort) : freePort(bind),
    ]);
    const etcdUrl = `http://127.0.0.1:${etcdClient}`;
    const etcd = await LabProcess.start({
      name: 'etcd',
      cmd: opts.binaries.etcd,
      args: [
        '--name=lab',
        `--data-dir=${run.path('etcd')}`,
        `--listen-client-urls=${etcdUrl}`,
        `--advertise-client-urls=${etcdUrl}`,
        `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
        `--initial-cluster=lab=http://127.0.0.1:${etcdPeer}`,
        '--unsafe-no-fsync',
        '--log-level=warn',
      ],
      env: run.env(),
      logFile: run.path('logs', 'etcd.log'),
    });
    started.push(etcd);
    const timeout = opts.readyTimeoutMs ?? 60_000;
    await waitReady(etcd, `${etcdUrl}/health`, undefined, timeout, (b) => b.includes('"health":"true"'));
    const etcdReadyMs = performance.now() - t0;
    log(`etcd ready on ${etcdUrl} after ${Math.round(etcdReadyMs)} ms`);

    const server = `https://${bind}:${apiPort}`;
    const apiSpec: LabProcessSpec = {
      name: 'kube-apiserver',
      cmd: opts.binaries['kube-apiserver'],
      args: apiServerArgs(opts, pki, etcdUrl, bind, apiPort),
      env: run.env(),
      logFile: run.path('logs', 'kube-apiserver.log'),
    };
    const apiServer = await LabProcess.start(apiSpec);
    started.push(apiServer);
    const tls: TlsFiles = { ca: pki.ca.cert, cert: admin.cert, key: admin.key };
    await waitReady(apiServer, `${server}/readyz`, tls, timeout, (b) => b.trim() === 'ok');
    const apiServerReadyMs = performance.now() - t0;
    log(`kube-apiserver ready on ${server} after ${Math.round(apiServerReadyMs)} ms`);

    const adminKubeconfig = writeKubeconfig(run.path('admin.kubeconfig'), server, pki.ca.cert, 'admin', {
      certFile: admin.cert,
      keyFile: admin.key,
    });
    const cp = new ControlPlane({
      opts,
      pki,
      server,
      adminKubeconfig,
      admin,
      apiSpec,
      etcd,
      apiServer,
      timings: { pkiMs, etcdReadyMs, apiServerReadyMs, totalMs: 0 },
    });
    if (opts.controllerManager) started.push(await cp.#startControllerManager());
    if (opts.scheduler) started.push(await cp.#startScheduler());
    cp.timings.totalMs = performance.now() - t0;
    return cp;
  }

  /** The running components, for status output and error messages. */
  processes(): LabProcess[] {
    return [this.#etcd, this.#apiServer, this.#controllerManager, this.#scheduler].filter(
      (p): p is LabProcess => p !== undefined,
    );
  }

  /** TLS files for an admin HTTPS client. */
  adminTls(): TlsFiles {
    return { ca: this.pki.ca.cert, cert: this.#admin.cert, key: this.#admin.key };
  }

  /** Stops kube-apiserver only (etcd keeps the data); for outage tests. */
  async stopApiServer(): Promise<void> {
    await this.#apiServer.stop();
  }

  /** Starts kube-apiserver again with the same flags and port, and waits for `/readyz`. */
  async startApiServer(): Promise<void> {
    if (this.#apiServer.running) return;
    this.#apiServer = await LabProcess.start(this.#apiSpec);
    const proc = this.#apiServer;
    this.run.onClose(() => proc.stop());
    await waitReady(
      proc,
      `${this.server}/readyz`,
      this.adminTls(),
      this.#opts.readyTimeoutMs ?? 60_000,
      (b) => b.trim() === 'ok',
    );
  }

  /** A kubeconfig for a user authenticated by a client certificate (for RBAC tests). */
  async mintUserKubeconfig(user: string, groups: readonly string[] = []): Promise<string> {
    const safe = user.replace(/[^a-zA-Z0-9_.-]/g, '_');
    const pair = await issueCert(this.pki.dir, this.pki.ca, `user-${safe}`, { cn: user, orgs: groups });
    return writeKubeconfig(
      this.run.path('kubeconfigs', `user-${safe}.kubeconfig`),
      this.server,
      this.pki.ca.cert,
      user,
      {
        certFile: pair.cert,
        keyFile: pair.key,
      },
    );
  }

  /** A kubeconfig holding a ServiceAccount token (the caller obtains it with the TokenRequest API). */
  tokenKubeconfig(namespace: string, serviceAccount: string, token: string, server = this.server): string {
    return writeKubeconfig(
      this.run.path('kubeconfigs', `sa-${namespace}-${serviceAccount}.kubeconfig`),
      server,
      this.pki.ca.cert,
      `system:serviceaccount:${namespace}:${serviceAccount}`,
      { token },
    );
  }

  /** Stops every component (reverse order). The run folder is removed by the run's owner. */
  async stop(): Promise<void> {
    for (const p of this.processes().reverse()) await p.stop();
  }

  async #startControllerManager(): Promise<LabProcess> {
    const proc = await this.#startController('kube-controller-manager', [
      '--allocate-node-cidrs=true',
      `--cluster-cidr=${this.#opts.clusterCidr ?? CLUSTER_CIDR}`,
      '--node-cidr-mask-size=24',
      `--service-cluster-ip-range=${this.#opts.serviceCidr ?? SERVICE_CIDR}`,
      `--service-account-private-key-file=${this.pki.saPrivateKey}`,
      `--root-ca-file=${this.pki.ca.cert}`,
      `--cluster-signing-cert-file=${this.pki.ca.cert}`,
      `--cluster-signing-key-file=${this.pki.ca.key}`,
      '--use-service-account-credentials=true',
      '--controllers=*,-cloud-node-lifecycle,-service-lb-controller,-node-route-controller',
      ...(this.#opts.controllerManagerArgs ?? []),
    ]);
    this.#controllerManager = proc;
    return proc;
  }

  async #startScheduler(): Promise<LabProcess> {
    const proc = await this.#startController('kube-scheduler', []);
    this.#scheduler = proc;
    return proc;
  }

  /**
   * Starts kube-controller-manager or kube-scheduler with its own identity (the user the
   * bootstrap RBAC policy expects), a free secure port on loopback, and waits for /healthz.
   */
  async #startController(
    name: 'kube-controller-manager' | 'kube-scheduler',
    extra: string[],
  ): Promise<LabProcess> {
    const run = this.run;
    const kubeconfig = await this.mintUserKubeconfig(`system:${name}`);
    const port = await freePort();
    const proc = await LabProcess.start({
      name,
      cmd: this.#opts.binaries[name],
      args: [
        `--kubeconfig=${kubeconfig}`,
        `--authentication-kubeconfig=${kubeconfig}`,
        `--authorization-kubeconfig=${kubeconfig}`,
        '--bind-address=127.0.0.1',
        `--secure-port=${port}`,
        `--cert-dir=${run.path(`${name}-certs`)}`,
        '--leader-elect=false',
        ...extra,
      ],
      env: run.env(),
      logFile: run.path('logs', `${name}.log`),
    });
    await waitReady(
      proc,
      `https://127.0.0.1:${port}/healthz`,
      undefined,
      60_000,
      (b) => b.trim() === 'ok',
      true,
    );
    this.#opts.log?.(`${name} healthy on :${port}`);
    return proc;
  }
}

function apiServerArgs(
  opts: ControlPlaneOptions,
  pki: LabPki,
  etcdUrl: string,
  bind: string,
  port: number,
): string[] {
  return [
    `--etcd-servers=${etcdUrl}`,
    `--bind-address=${bind}`,
    `--secure-port=${port}`,
    ...(opts.advertiseAddress
      ? [`--advertise-address=${opts.advertiseAddress}`]
      : [`--advertise-address=${bind}`, '--endpoint-reconciler-type=none']),
    `--tls-cert-file=${pki.apiServer.cert}`,
    `--tls-private-key-file=${pki.apiServer.key}`,
    `--client-ca-file=${pki.ca.cert}`,
    `--service-cluster-ip-range=${opts.serviceCidr ?? SERVICE_CIDR}`,
    '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
    `--service-account-key-file=${pki.saPublicKey}`,
    `--service-account-signing-key-file=${pki.saPrivateKey}`,
    '--authorization-mode=Node,RBAC',
    '--enable-admission-plugins=NodeRestriction',
    '--allow-privileged=true',
    `--cert-dir=${opts.run.path('apiserver-certs')}`,
    '--profiling=false',
    '--v=1',
    ...(opts.auditLog ? auditArgs(opts.run) : []),
  ];
}

/** Where the audit log of a run goes. */
function auditLogPath(run: LabRun): string {
  return run.path('logs', 'audit.log');
}

/**
 * The API server's audit flags: every request at metadata level (user, verb, resource, code; no
 * bodies), logged once when it completes and once when a watch starts streaming.
 */
function auditArgs(run: LabRun): string[] {
  const policy = run.path('audit-policy.yaml');
  writeFileSync(
    policy,
    [
      'apiVersion: audit.k8s.io/v1',
      'kind: Policy',
      'omitStages: [RequestReceived]',
      'rules:',
      '  - level: Metadata',
      '',
    ].join('\n'),
  );
  return [
    `--audit-policy-file=${policy}`,
    `--audit-log-path=${auditLogPath(run)}`,
    '--audit-log-format=json',
    '--audit-log-maxsize=0',
  ];
}

/**
 * Polls `url` until `isReady(body)` on HTTP 200, the process dies, or the deadline passes; the
 * two failures throw a NetwardenError naming the component with the end of its log.
 */
async function waitReady(
  proc: LabProcess,
  url: string,
  tls: TlsFiles | undefined,
  timeoutMs: number,
  isReady: (body: string) => boolean,
  insecure = false,
): Promise<void> {
  let last = 'no answer yet';
  const ok = await waitUntil(
    async () => {
      if (!proc.running) return true;
      const res = await httpGet(url, {
        timeoutMs: 2_000,
        ...(tls ? { tls } : {}),
        ...(insecure ? { insecure } : {}),
      });
      if (res.ok) last = `HTTP ${res.status}: ${res.body.trim().split('\n').slice(-1)[0] ?? ''}`;
      else last = res.error;
      return res.ok && res.status === 200 && isReady(res.body);
    },
    timeoutMs,
    100,
  );
  if (!proc.running) {
    throw new NetwardenError(
      'lab-start-failed',
      `${proc.spec.name} ${proc.exitStatus} while starting; last log lines: ${proc.logSummary(4)} (log: ${proc.spec.logFile})`,
    );
  }
  if (!ok) {
    throw new NetwardenError(
      'lab-timeout',
      `${proc.spec.name} not ready after ${timeoutMs} ms (${url}: ${last}); last log lines: ${proc.logSummary(3)} (log: ${proc.spec.logFile})`,
    );
  }
}
