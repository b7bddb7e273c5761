/**
 * The lab's agents installed as an operator installs them: the pinned `helm install` of
 * deploy/chart/netwarden with the admin kubeconfig (not an apply of rendered YAML: helm's release,
 * hooks and uninstall are part of what is proven), then a bounded wait until every node runs a
 * Ready agent pod under the chart's ServiceAccount. `helm uninstall` runs the chart's post-delete
 * clean-up Job.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ContainerStatus, Pod } from '../core/objects.ts';
import { NetwardenError } from '../errors.ts';
import { lastLines, run } from '../host/exec.ts';
import { podUidFromCgroup } from '../host/netns-locator.ts';
import type { KubeApis } from '../kube/connect.ts';
import type { AgentImage } from './agent-image.ts';
import { CHART_DIR, NAMESPACE, RELEASE } from './chart.ts';
import { LabNode } from './node.ts';

/** The chart's ServiceAccount for the agent (values.yaml `serviceAccount.name`). */
export const AGENT_SERVICE_ACCOUNT = 'netwarden-agent';
/** The label selector of the release's agent pods (templates/_helpers.tpl `netwarden.agentSelector`). */
export const AGENT_SELECTOR = `app.kubernetes.io/name=netwarden,app.kubernetes.io/instance=${RELEASE},app.kubernetes.io/component=agent`;

/** What the lab's values depend on. */
export interface LabChartInput {
  readonly image: Pick<AgentImage, 'repository' | 'tag'>;
  /** The API server as nodes reach it without kube-proxy (the lab's 10.251.0.1:<port>). */
  readonly apiHost: string;
  readonly apiPort: number;
  /** More `config.*` values (agent settings by their chart names), e.g. `{ steadyInterval: '5s' }`. */
  readonly config?: Readonly<Record<string, string | number | boolean>>;
}

/**
 * The chart values for the lab: the imported image (never pulled), the node's CNI folder, the
 * lab's CNI daemon stand-in as ipamd and CNI health endpoint (as the process mode passes them),
 * and the API server's lab address instead of the ClusterIP (a rebooted node has no kube-proxy
 * rules yet when its agent must run).
 */
export function labChartValues(i: LabChartInput): Record<string, unknown> {
  return {
    image: { repository: i.image.repository, tag: i.image.tag, pullPolicy: 'Never' },
    apiServer: { host: i.apiHost, port: i.apiPort },
    config: {
      cniConfDir: '/etc/cni/net.d',
      ipamdUrl: LabNode.IPAMD_URL,
      cniHealthUrl: LabNode.CNI_HEALTH_URL,
      podNetnsLocator: 'proc',
      ...i.config,
    },
  };
}

/** helm's own folders inside the run folder: nothing of the machine's helm setup is read or written. */
function helmEnv(runDir: string): NodeJS.ProcessEnv {
  const home = join(runDir, 'helm');
  mkdirSync(home, { recursive: true });
  return {
    PATH: process.env.PATH,
    HOME: home,
    HELM_CACHE_HOME: join(home, 'cache'),
    HELM_CONFIG_HOME: join(home, 'config'),
    HELM_DATA_HOME: join(home, 'data'),
  };
}

/** The argument list of the lab's `helm install`. */
export function helmInstallArgs(o: { kubeconfig: string; valuesFile: string; chartDir?: string }): string[] {
  return [
    'install',
    RELEASE,
    o.chartDir ?? CHART_DIR,
    '--kubeconfig',
    o.kubeconfig,
    '--namespace',
    NAMESPACE,
    '--create-namespace',
    '--values',
    o.valuesFile,
    '--timeout',
    '2m',
  ];
}

/** The argument list of the lab's `helm uninstall`: waits for the post-delete hook Job (bounded). */
export function helmUninstallArgs(o: { kubeconfig: string; timeout?: string }): string[] {
  return [
    'uninstall',
    RELEASE,
    '--kubeconfig',
    o.kubeconfig,
    '--namespace',
    NAMESPACE,
    '--wait=hookOnly',
    '--timeout',
    o.timeout ?? '3m',
  ];
}

async function helm(helmBin: string, args: string[], runDir: string, timeoutMs: number): Promise<string> {
  const res = await run(helmBin, args, { timeoutMs, env: helmEnv(runDir) });
  if (res.code !== 0)
    throw new NetwardenError(
      'lab-start-failed',
      `helm ${args.slice(0, 2).join(' ')} failed (${res.timedOut ? 'timed out' : `exit ${res.code ?? res.signal}`}): ${lastLines(`${res.stderr}\n${res.stdout}`, 8)}`,
    );
  return res.stdout;
}

/** Writes the lab's values and runs `helm install`; returns helm's output. */
export async function helmInstallAgents(o: {
  helm: string;
  kubeconfig: string;
  runDir: string;
  values: Record<string, unknown>;
}): Promise<string> {
  const valuesFile = join(o.runDir, 'helm', 'lab-values.json');
  mkdirSync(join(o.runDir, 'helm'), { recursive: true });
  // JSON is YAML: helm reads it as a values file.
  writeFileSync(valuesFile, `${JSON.stringify(o.values, null, 2)}\n`);
  return helm(o.helm, helmInstallArgs({ kubeconfig: o.kubeconfig, valuesFile }), o.runDir, 150_000);
}

/** Runs `helm uninstall` (the chart's post-delete clean-up Job included); returns helm's output. */
export async function helmUninstallAgents(o: {
  helm: string;
  kubeconfig: string;
  runDir: string;
}): Promise<string> {
  return helm(o.helm, helmUninstallArgs({ kubeconfig: o.kubeconfig }), o.runDir, 240_000);
}

/** `helm list` of the lab's namespace, as JSON rows. */
export async function helmReleases(o: {
  helm: string;
  kubeconfig: string;
  runDir: string;
}): Promise<{ name: string; status: string; chart: string; revision: string }[]> {
  const out = await helm(
    o.helm,
    ['list', '--kubeconfig', o.kubeconfig, '--namespace', NAMESPACE, '--output', 'json'],
    o.runDir,
    30_000,
  );
  return JSON.parse(out) as { name: string; status: string; chart: string; revision: string }[];
}

/** A Pod with the field the check needs that the shared Pod shape leaves out. */
type AgentPod = Pod & { spec?: Pod['spec'] & { serviceAccountName?: string } };

/** Why an agent pod is not (yet) a Ready agent under the chart's identity; undefined when it is. */
export function agentPodProblem(pod: AgentPod | undefined, node: string): string | undefined {
  if (!pod) return `no agent pod on ${node}`;
  const name = `pod ${pod.metadata?.namespace}/${pod.metadata?.name} on ${node}`;
  if (pod.spec?.serviceAccountName !== AGENT_SERVICE_ACCOUNT)
    return `${name} runs as ServiceAccount ${pod.spec?.serviceAccountName ?? '<none>'}, not ${AGENT_SERVICE_ACCOUNT}`;
  if (pod.metadata?.deletionTimestamp) return `${name} is terminating`;
  const cs = pod.status?.containerStatuses?.find((c) => c.name === 'agent');
  const ready = pod.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
  if (pod.status?.phase === 'Running' && ready && cs?.ready) return undefined;
  return `${name} is ${pod.status?.phase ?? 'unknown'}, Ready ${ready ? 'True' : 'False'}; ${containerStateText(cs)}`;
}

/** A container's state and last state in one line (waiting/terminated reasons, exit codes, messages). */
function containerStateText(cs: ContainerStatus | undefined): string {
  if (!cs) return 'container agent has no status yet';
  const describe = (s: ContainerStatus['state']): string => {
    if (s?.waiting)
      return `waiting (${s.waiting.reason ?? '?'}${s.waiting.message ? `: ${s.waiting.message}` : ''})`;
    if (s?.terminated)
      return `terminated (exit ${s.terminated.exitCode}, ${s.terminated.reason ?? '?'}${s.terminated.message ? `: ${s.terminated.message}` : ''})`;
    if (s?.running) return `running since ${String(s.running.startedAt ?? '?')}`;
    return 'no state';
  };
  const last = cs.lastState && Object.keys(cs.lastState).length > 0 ? `, last ${describe(cs.lastState)}` : '';
  return `container agent ${describe(cs.state)}, ${cs.restartCount} restart(s)${last}`;
}

/**
 * Waits (bounded) until every node in `nodes` runs a Running, Ready agent pod (its readiness probe,
 * GET /readyz, passed) under the chart's ServiceAccount; returns them by node. On timeout the error
 * names each node's pod and its last container state, and the pod's newest Events (the kubelet's
 * image, sandbox and probe messages).
 */
export async function waitAgentsReady(
  admin: KubeApis,
  nodes: readonly string[],
  timeoutMs: number,
): Promise<Map<string, AgentPod>> {
  const deadline = Date.now() + timeoutMs;
  let problems = new Map<string, string>();
  let byNode = new Map<string, AgentPod>();
  for (;;) {
    try {
      const pods = await admin.objects.list<AgentPod>('v1', 'Pod', {
        namespace: NAMESPACE,
        labelSelector: AGENT_SELECTOR,
      });
      byNode = new Map();
      for (const p of pods) {
        const n = p.spec?.nodeName;
        // A terminating pod beside its successor: the successor counts.
        if (n && (!byNode.has(n) || !p.metadata?.deletionTimestamp)) byNode.set(n, p);
      }
      problems = new Map(
        nodes.flatMap((n) => {
          const p = agentPodProblem(byNode.get(n), n);
          return p ? [[n, p] as const] : [];
        }),
      );
      if (problems.size === 0) return byNode;
    } catch (err) {
      problems = new Map([['', `listing agent pods: ${err instanceof Error ? err.message : String(err)}`]]);
    }
    if (Date.now() >= deadline) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  const details: string[] = [];
  for (const [node, p] of problems) {
    const pod = byNode.get(node);
    const events = pod ? await podEvents(admin, pod).catch(() => []) : [];
    details.push(`${p}${events.length ? `; events: ${events.join(' | ')}` : ''}`);
  }
  throw new NetwardenError(
    'lab-timeout',
    `timed out after ${Math.round(timeoutMs / 1000)} s waiting for a Ready agent on every node: ${details.join('; ')}`,
  );
}

/** The newest Events about a pod, oldest first: `reason: message` (the kubelet's and the scheduler's). */
export async function podEvents(admin: KubeApis, pod: Pod, last = 4): Promise<string[]> {
  const events = await admin.objects.list<{
    reason?: string;
    message?: string;
    lastTimestamp?: string;
    eventTime?: string;
    metadata?: { creationTimestamp?: string };
  }>('v1', 'Event', {
    namespace: pod.metadata?.namespace ?? NAMESPACE,
    fieldSelector: `involvedObject.name=${pod.metadata?.name ?? ''}`,
  });
  const at = (e: (typeof events)[number]) =>
    Date.parse(e.lastTimestamp ?? e.eventTime ?? e.metadata?.creationTimestamp ?? '') || 0;
  return events
    .sort((a, b) => at(a) - at(b))
    .slice(-last)
    .map((e) => `${e.reason ?? '?'}: ${e.message ?? ''}`);
}

/** Where the kubelet projects a pod's ServiceAccount token inside its containers. */
const TOKEN_IN_CONTAINER = 'var/run/secrets/kubernetes.io/serviceaccount/token';

/**
 * The ServiceAccount token the kubelet projected into the agent container of the pod `podUid`,
 * read from the container's own root (`/proc/<pid>/root`; the lab's nodes share the host's PID
 * namespace): the pod-bound token the agent itself uses, not a token the lab requested.
 */
export async function readAgentToken(podUid: string, procRoot = '/proc'): Promise<string> {
  for (const pid of (await readdir(procRoot)).filter((p) => /^\d+$/.test(p))) {
    try {
      const cgroup = await readFile(join(procRoot, pid, 'cgroup'), 'utf8');
      if (podUidFromCgroup(cgroup) !== podUid.toLowerCase()) continue;
      const cmdline = (await readFile(join(procRoot, pid, 'cmdline'), 'utf8')).split('\0');
      if (!cmdline.some((a) => a.endsWith('/app/netwarden.mjs'))) continue;
      return (await readFile(join(procRoot, pid, 'root', TOKEN_IN_CONTAINER), 'utf8')).trim();
    } catch {
      // the process exited during the scan
    }
  }
  throw new NetwardenError(
    'lab-timeout',
    `no running netwarden container of pod ${podUid} found in ${procRoot}`,
  );
}
