/**
 * The chart as an operator gets it, rendered and linted by the pinned helm: the DaemonSet's
 * shape, values that map one-to-one onto the agent's settings with the agent's own defaults,
 * the schema refusing bad values, the alert rules under `promtool test rules`, and every metric
 * an alert or dashboard panel reads being one the agent exports.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { beforeAll, describe, expect, it } from 'vitest';
import { AGENT_OPTIONS, type AgentOptionName, envName, loadAgentConfig } from '../../src/agent/config.ts';
import { AgentMetrics } from '../../src/agent/metrics.ts';
import { recyclerMetrics } from '../../src/agent/recycler.ts';
import { run } from '../../src/host/exec.ts';
import { type KubeObject, parseManifests } from '../../src/kube/objects.ts';
import { ensureBinaries } from '../../src/lab/binaries.ts';
import { CHART_DIR, chartFile, renderChart, renderChartYaml } from '../../src/lab/chart.ts';
import { metricNames } from './promql.ts';

/** Agent options the chart sets itself rather than as values, and why. */
const NOT_VALUES: Partial<Record<AgentOptionName, string>> = {
  nodeName: 'always the downward API spec.nodeName',
  kubeconfig: "always the pod's own (pod-bound) ServiceAccount token, which the own-node policy needs",
};

/** Metrics the alerts read that Prometheus itself provides. */
const FROM_PROMETHEUS = new Set(['up']);

let helm = '';
let promtool = '';
const ALL_ON = {
  'prometheusRule.enabled': 'true',
  'podMonitor.enabled': 'true',
  'serviceMonitor.enabled': 'true',
  'dashboard.enabled': 'true',
};

beforeAll(async () => {
  const { paths } = await ensureBinaries();
  helm = paths.helm;
  promtool = paths.promtool;
});

const find = (objects: KubeObject[], kind: string): KubeObject => {
  const o = objects.find((x) => x.kind === kind);
  if (!o) throw new Error(`no ${kind} rendered`);
  return o;
};
// biome-ignore lint/suspicious/noExplicitAny: rendered manifests are walked as plain data
type Any = any;

describe('helm lint --strict', () => {
  it.each([
    ['defaults', {}],
    ['everything on', ALL_ON],
    ['the boot gate on', { 'config.bootGate': 'true' }],
    [
      'taint off, no policy, no clean-up',
      { 'config.taint': 'false', 'admissionPolicy.enabled': 'false', 'cleanup.enabled': 'false' },
    ],
  ])('passes with %s', async (_what, set) => {
    const res = await run(helm, [
      'lint',
      '--strict',
      CHART_DIR,
      ...Object.entries(set).flatMap(([k, v]) => ['--set', `${k}=${v}`]),
    ]);
    expect(res.stdout + res.stderr).toContain('1 chart(s) linted, 0 chart(s) failed');
    expect(res.code).toBe(0);
  });
});

describe('the DaemonSet', () => {
  let ds: Any;
  beforeAll(async () => {
    ds = find(await renderChart({ helm }), 'DaemonSet');
  });

  it('runs on every node with the host network and PIDs, before everything else', () => {
    const spec = ds.spec.template.spec;
    expect(spec).toMatchObject({
      hostNetwork: true,
      hostPID: true,
      dnsPolicy: 'ClusterFirstWithHostNet',
      priorityClassName: 'system-node-critical',
      serviceAccountName: 'netwarden-agent',
      automountServiceAccountToken: true,
    });
    // tolerates everything: its own taint, not-ready, unreachable, NoExecute ones
    expect(spec.tolerations).toEqual([{ operator: 'Exists' }]);
    expect(ds.spec.updateStrategy).toEqual({
      type: 'RollingUpdate',
      rollingUpdate: { maxUnavailable: '10%' },
    });
  });

  it('is least-privileged: four named capabilities, read-only root, read-only host mounts but the lock', () => {
    const c = ds.spec.template.spec.containers[0];
    expect(c.securityContext).toMatchObject({
      privileged: false,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'], add: ['NET_ADMIN', 'NET_RAW', 'SYS_ADMIN', 'SYS_PTRACE'] },
    });
    const hostPaths = new Map<string, string>(
      ds.spec.template.spec.volumes.filter((v: Any) => v.hostPath).map((v: Any) => [v.name, v.hostPath.path]),
    );
    const writable = c.volumeMounts
      .filter((m: Any) => hostPaths.has(m.name) && !m.readOnly)
      .map((m: Any) => m.name);
    expect(writable).toEqual(['xtables-lock']);
    expect(hostPaths.get('cni-conf')).toBe('/etc/cni/net.d');
  });

  it('probes /healthz and /readyz and requests its measured footprint', () => {
    const c = ds.spec.template.spec.containers[0];
    expect(c.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'metrics' });
    expect(c.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'metrics' });
    expect(c.ports).toEqual([{ name: 'metrics', containerPort: 9746, protocol: 'TCP' }]);
    expect(c.resources).toEqual({ requests: { cpu: '20m', memory: '192Mi' }, limits: { memory: '512Mi' } });
    expect(c.args).toEqual(['agent']);
    expect(c.image).toBe('docker.io/netwarden/netwarden:0.1.0');
  });

  it('takes the node name from the downward API', () => {
    const env = ds.spec.template.spec.containers[0].env;
    expect(env.find((e: Any) => e.name === 'NETWARDEN_NODE_NAME')).toEqual({
      name: 'NETWARDEN_NODE_NAME',
      valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } },
    });
  });

  it('with config.bootGate=true: the CNI folders writable and the state folder mounted, at the paths the agent is given', async () => {
    const on = find(await renderChart({ helm, set: { 'config.bootGate': 'true' } }), 'DaemonSet') as Any;
    const spec = on.spec.template.spec;
    const c = spec.containers[0];
    const hostPaths = new Map<string, { path: string; type: string }>(
      spec.volumes.filter((v: Any) => v.hostPath).map((v: Any) => [v.name, v.hostPath]),
    );
    const mounts = new Map<string, Any>(c.volumeMounts.map((m: Any) => [m.name, m]));
    const writable = c.volumeMounts
      .filter((m: Any) => hostPaths.has(m.name) && !m.readOnly)
      .map((m: Any) => `${m.name}:${m.mountPath}`)
      .sort();
    expect(writable).toEqual([
      'boot-gate-state:/run/netwarden',
      'cni-bin:/opt/cni/bin',
      'cni-conf:/etc/cni/net.d',
      'xtables-lock:/run/xtables.lock',
    ]);
    // same path inside and on the host: the plugin (run by the runtime on the host) and the
    // agent read each other's files, and the conflist names the state folder
    for (const name of ['cni-bin', 'cni-conf', 'boot-gate-state'])
      expect(hostPaths.get(name)?.path, name).toBe(mounts.get(name)?.mountPath);
    expect(hostPaths.get('boot-gate-state')?.type).toBe('DirectoryOrCreate');
    const env = new Map<string, string>(
      c.env.filter((e: Any) => 'value' in e).map((e: Any) => [e.name, e.value]),
    );
    expect(env.get('NETWARDEN_BOOT_GATE')).toBe('true');
    expect(env.get('NETWARDEN_BOOT_GATE_PLUGIN')).toBe('/opt/netwarden/bin/netwarden-cni-gate');
    expect(env.get('NETWARDEN_CNI_BIN_DIR')).toBe('/opt/cni/bin');
    expect(env.get('NETWARDEN_BOOT_GATE_STATE_DIR')).toBe('/run/netwarden');
    // still least-privileged otherwise
    expect(c.securityContext.readOnlyRootFilesystem).toBe(true);
    expect(c.securityContext.capabilities.add).toEqual(['NET_ADMIN', 'NET_RAW', 'SYS_ADMIN', 'SYS_PTRACE']);
    // moved folders follow their values
    const moved = find(
      await renderChart({
        helm,
        set: { 'config.bootGate': 'true', 'config.cniBinDir': '/home/kubernetes/bin' },
      }),
      'DaemonSet',
    ) as Any;
    expect(moved.spec.template.spec.volumes.find((v: Any) => v.name === 'cni-bin')?.hostPath.path).toBe(
      '/home/kubernetes/bin',
    );
  });

  it('follows the metrics port when config.listen moves', async () => {
    const moved = find(
      await renderChart({ helm, set: { 'config.listen': '0.0.0.0:9999' } }),
      'DaemonSet',
    ) as Any;
    expect(moved.spec.template.spec.containers[0].ports[0].containerPort).toBe(9999);
  });
});

describe('apiServer.host/port', () => {
  const serviceEnv = (c: Any) =>
    (c.env ?? [])
      .filter((e: Any) => e.name.startsWith('KUBERNETES_SERVICE_'))
      .map((e: Any) => [e.name, e.value]);
  const containers = (objects: KubeObject[]) => ({
    agent: (find(objects, 'DaemonSet') as Any).spec.template.spec.containers[0],
    cleanup: (find(objects, 'Job') as Any).spec.template.spec.containers[0],
  });

  it('leave the in-cluster defaults alone when empty (the default)', async () => {
    const c = containers(await renderChart({ helm }));
    expect(serviceEnv(c.agent)).toEqual([]);
    expect(serviceEnv(c.cleanup)).toEqual([]);
    expect(c.cleanup.env).toBeUndefined();
  });

  it('set KUBERNETES_SERVICE_HOST/PORT on the agent and the clean-up Job', async () => {
    const c = containers(
      await renderChart({
        helm,
        set: { 'apiServer.host': 'ABC.gr7.eu-west-1.eks.amazonaws.com', 'apiServer.port': '443' },
      }),
    );
    const want = [
      ['KUBERNETES_SERVICE_HOST', 'ABC.gr7.eu-west-1.eks.amazonaws.com'],
      ['KUBERNETES_SERVICE_PORT', '443'],
    ];
    expect(serviceEnv(c.agent)).toEqual(want);
    expect(serviceEnv(c.cleanup)).toEqual(want);
    // after the downward-API node name and the config variables
    expect(c.agent.env[0].name).toBe('NETWARDEN_NODE_NAME');
  });

  it.each([
    [{ 'apiServer.host': '10.0.0.1' }, 'apiServer.port is required when apiServer.host is set'],
    [{ 'apiServer.host': 'https://example.com', 'apiServer.port': '443' }, "at '/apiServer/host'"],
    [{ 'apiServer.host': 'example.com', 'apiServer.port': 'https' }, "at '/apiServer/port'"],
  ])('refuses %j', async (set, message) => {
    await expect(renderChartYaml({ helm, set })).rejects.toThrow(message);
  });

  it('passes helm lint --strict when set', async () => {
    const res = await run(helm, [
      'lint',
      '--strict',
      CHART_DIR,
      '--set',
      'apiServer.host=10.0.0.1',
      '--set',
      'apiServer.port=6443',
    ]);
    expect(res.code).toBe(0);
  });
});

describe('values ↔ agent options (one source of defaults)', () => {
  const values = (): Any => parseManifests(readFileSync(chartFile('values.yaml'), 'utf8'))[0];
  const settable = (Object.keys(AGENT_OPTIONS) as AgentOptionName[]).filter((k) => !(k in NOT_VALUES));

  it('has one config value per agent option, and nothing else', () => {
    expect(Object.keys(values().config).sort()).toEqual([...settable].sort());
  });

  it("defaults every value to the agent's own default", () => {
    const config = values().config;
    for (const key of settable)
      expect(String(config[key]), key).toBe((AGENT_OPTIONS[key] as { default?: string }).default);
  });

  it('renders exactly one NETWARDEN_* variable per option, and the agent reads its defaults from them', async () => {
    const ds = find(await renderChart({ helm }), 'DaemonSet') as Any;
    const env: { name: string; value?: string }[] = ds.spec.template.spec.containers[0].env;
    expect(env.map((e) => e.name).sort()).toEqual(
      (Object.keys(AGENT_OPTIONS) as AgentOptionName[])
        .filter((k) => k !== 'kubeconfig')
        .map(envName)
        .sort(),
    );
    const fromChart = Object.fromEntries(
      env.filter((e) => e.value !== undefined).map((e) => [e.name, e.value]),
    );
    expect(loadAgentConfig({ nodeName: 'n1' }, fromChart)).toEqual(loadAgentConfig({ nodeName: 'n1' }, {}));
  });

  it('passes a changed value through to the agent', async () => {
    const ds = find(
      await renderChart({ helm, set: { 'config.taint': 'false', 'config.checkInterval': '1s' } }),
      'DaemonSet',
    ) as Any;
    const env = Object.fromEntries(
      ds.spec.template.spec.containers[0].env.map((e: Any) => [e.name, e.value]),
    );
    const cfg = loadAgentConfig({ nodeName: 'n1' }, env);
    expect([cfg.taint, cfg.checkInterval]).toEqual([false, 1000]);
  });

  it('has a schema entry for every config value', () => {
    const schema = JSON.parse(readFileSync(chartFile('values.schema.json'), 'utf8'));
    expect(Object.keys(schema.properties.config.properties).sort()).toEqual([...settable].sort());
    for (const key of ['mode', 'proxyMode', 'kubeProxy'] as const)
      expect(schema.properties.config.properties[key].enum, key).toEqual(
        (AGENT_OPTIONS[key].schema as unknown as { options: string[] }).options,
      );
  });

  it.each([
    ['config.mode=bogus', "at '/config/mode'"],
    ['config.checkInterval=soon', "at '/config/checkInterval'"],
    ['config.openAfterPasses=0', "at '/config/openAfterPasses'"],
    ['config.maxGatedFraction=2', "at '/config/maxGatedFraction'"],
    ['config.noSuchOption=1', "additional properties 'noSuchOption' not allowed"],
    ['image.pullPolicy=Sometimes', "at '/image/pullPolicy'"],
  ])('refuses %s', async (set, message) => {
    const [k, v] = set.split('=') as [string, string];
    await expect(renderChartYaml({ helm, set: { [k]: v } })).rejects.toThrow(message);
  });
});

describe('alerts and dashboard', () => {
  let rules: Any;
  let dashboard: Any;
  beforeAll(async () => {
    const objects = await renderChart({ helm, set: ALL_ON });
    rules = find(objects, 'PrometheusRule').spec;
    const cm = objects.find((o) => o.kind === 'ConfigMap' && o.metadata?.name?.endsWith('-dashboard')) as Any;
    dashboard = JSON.parse(cm.data['netwarden.json']);
  });

  it('pass promtool check rules and promtool test rules', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nw-rules-'));
    writeFileSync(join(dir, 'rules.yaml'), JSON.stringify(rules));
    writeFileSync(join(dir, 'alerts.test.yaml'), readFileSync(join(import.meta.dirname, 'alerts.test.yaml')));
    const check = await run(promtool, ['check', 'rules', join(dir, 'rules.yaml')]);
    expect(check.stdout + check.stderr).toContain('SUCCESS');
    const test = await run(promtool, ['test', 'rules', join(dir, 'alerts.test.yaml')], { cwd: dir });
    expect(test.stdout + test.stderr).toContain('SUCCESS');
    expect(test.code).toBe(0);
  });

  it('cover the operator questions, and the kured blocker fires at once', () => {
    const alerts = rules.groups.flatMap((g: Any) => g.rules).map((r: Any) => r.alert);
    expect(alerts.sort()).toEqual([
      'NetwardenAgentAbsent',
      'NetwardenAgentsAbsent',
      'NetwardenBootHoldExpired',
      'NetwardenBreakerOpen',
      'NetwardenNodeGated',
      'NetwardenNodeGatedTooLong',
      'NetwardenPodsCrashLoopingSinceBoot',
      'NetwardenRecyclingDidNotHeal',
    ]);
    const gated = rules.groups[0].rules.find((r: Any) => r.alert === 'NetwardenNodeGated');
    expect(gated.for).toBeUndefined();
  });

  it('read only metrics the agent exports (or Prometheus itself)', () => {
    const registry = new Registry();
    new AgentMetrics(registry);
    recyclerMetrics(registry);
    const exported = new Set<string>();
    for (const m of registry.getMetricsAsArray()) {
      const { name, type } = m as unknown as { name: string; type: string };
      exported.add(name);
      if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) exported.add(`${name}${s}`);
    }
    const exprs: string[] = [
      ...rules.groups.flatMap((g: Any) => g.rules.map((r: Any) => r.expr)),
      ...dashboard.panels.flatMap((p: Any) => p.targets.map((t: Any) => t.expr)),
    ];
    expect(exprs.length).toBeGreaterThan(15);
    const used = new Set(exprs.flatMap(metricNames));
    const missing = [...used].filter((n) => !exported.has(n) && !FROM_PROMETHEUS.has(n));
    expect(missing).toEqual([]);
    // and the dashboard shows the things operators asked for
    for (const m of [
      'netwarden_gate_closed',
      'netwarden_boot_to_ready_seconds',
      'netwarden_pods_recycled_total',
      'netwarden_check_duration_seconds_bucket',
      'netwarden_breaker_open',
    ])
      expect(used.has(m), m).toBe(true);
  });

  it('lexes PromQL into metric names', () => {
    expect(
      metricNames(
        'histogram_quantile(0.9, sum by (check, le) (rate(a_bucket{job="x",s!="y{z}"}[5m]))) * on (node) group_left (boot_id) b > 1e3 and absent(up{job="j"})',
      ),
    ).toEqual(['a_bucket', 'b', 'up']);
  });
});
