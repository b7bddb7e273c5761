import { describe, expect, it } from 'vitest';

const UID = '1c3e5f4a-2b6d-4c8e-9f10-123456789abc';

import type { Pod } from './objects.ts';
import {
  type ClusterProbeConfig,
  dnsCandidates,
  isSpecialTarget,
  MAX_PROBE_TARGETS,
  nodeProbePlan,
  parseProbeTargets,
  podProbePlan,
} from './probe-plan.ts';

describe('parseProbeTargets', () => {
  const cases: { text: string | undefined; targets: string[]; errors: string[] }[] = [
    { text: undefined, targets: [], errors: [] },
    { text: '  ', targets: [], errors: [] },
    {
      text: '10.0.0.5:5672,vault.vault.svc:8200',
      targets: ['10.0.0.5:5672 ip', 'vault.vault.svc:8200 name'],
      errors: [],
    },
    {
      text: ' Vault.Vault.SVC:8200 , 10.0.0.5:1 ',
      targets: ['vault.vault.svc:8200 name', '10.0.0.5:1 ip'],
      errors: [],
    },
    { text: 'api.example.com.:443', targets: ['api.example.com:443 name absolute'], errors: [] },
    { text: '10.0.0.5:5672,', targets: ['10.0.0.5:5672 ip'], errors: ['entry 2 is empty'] },
    { text: '10.0.0.5', targets: [], errors: ['entry 1 "10.0.0.5": expected host:port'] },
    { text: 'db:0', targets: [], errors: ['entry 1 "db:0": port must be 1-65535'] },
    { text: 'db:65536', targets: [], errors: ['entry 1 "db:65536": port must be 1-65535'] },
    { text: 'db:080', targets: [], errors: ['entry 1 "db:080": port must be 1-65535'] },
    { text: 'db:http', targets: [], errors: ['entry 1 "db:http": port must be 1-65535'] },
    { text: 'db:', targets: [], errors: ['entry 1 "db:": port must be 1-65535'] },
    {
      text: '10.0.0.256:80',
      targets: [],
      errors: ['entry 1 "10.0.0.256:80": "10.0.0.256" is not a valid IPv4 address'],
    },
    {
      text: '010.0.0.1:80',
      targets: [],
      errors: ['entry 1 "010.0.0.1:80": "010.0.0.1" is not a valid IPv4 address'],
    },
    { text: '[fd00::1]:80', targets: [], errors: ['entry 1 "[fd00::1]:80": IPv6 targets are not supported'] },
    {
      text: 'my_db.ns:5432',
      targets: [],
      errors: ['entry 1 "my_db.ns:5432": "my_db.ns" is not a valid DNS name (label "my_db")'],
    },
    {
      text: '-db:5432',
      targets: [],
      errors: ['entry 1 "-db:5432": "-db" is not a valid DNS name (label "-db")'],
    },
    {
      text: `${'a'.repeat(64)}:1`,
      targets: [],
      errors: [
        `entry 1 "${'a'.repeat(64)}:1": "${'a'.repeat(64)}" is not a valid DNS name (label "${'a'.repeat(64)}")`,
      ],
    },
    { text: 'db:5432,DB:5432', targets: ['db:5432 name'], errors: ['entry 2 "DB:5432": duplicate'] },
    { text: 'bad, 10.0.0.5:80', targets: ['10.0.0.5:80 ip'], errors: ['entry 1 "bad": expected host:port'] },
  ];
  it.each(cases)('$text', ({ text, targets, errors }) => {
    const r = parseProbeTargets(text);
    expect(
      r.targets.map((t) => `${t.host}:${t.port} ${t.isIp ? 'ip' : 'name'}${t.absolute ? ' absolute' : ''}`),
    ).toEqual(targets);
    expect(r.errors).toEqual(errors);
  });

  it(`keeps at most ${MAX_PROBE_TARGETS} targets and reports the rest`, () => {
    const r = parseProbeTargets(
      Array.from({ length: MAX_PROBE_TARGETS + 2 }, (_, i) => `10.0.0.${i + 1}:80`).join(','),
    );
    expect(r.targets).toHaveLength(MAX_PROBE_TARGETS);
    expect(r.errors).toEqual([
      `entry 9 "10.0.0.9:80": more than ${MAX_PROBE_TARGETS} targets`,
      `entry 10 "10.0.0.10:80": more than ${MAX_PROBE_TARGETS} targets`,
    ]);
  });
});

describe('dnsCandidates (ClusterFirst search list, ndots:5)', () => {
  it.each([
    [
      'vault',
      false,
      ['vault.app.svc.cluster.local', 'vault.svc.cluster.local', 'vault.cluster.local', 'vault'],
    ],
    [
      'vault.vault.svc',
      false,
      [
        'vault.vault.svc.app.svc.cluster.local',
        'vault.vault.svc.svc.cluster.local',
        'vault.vault.svc.cluster.local',
        'vault.vault.svc',
      ],
    ],
    [
      'a.b.c.d.e.f',
      false,
      [
        'a.b.c.d.e.f',
        'a.b.c.d.e.f.app.svc.cluster.local',
        'a.b.c.d.e.f.svc.cluster.local',
        'a.b.c.d.e.f.cluster.local',
      ],
    ],
    ['api.example.com', true, ['api.example.com']],
  ] as const)('%s (absolute %s)', (name, absolute, want) => {
    expect(dnsCandidates(name, 'app', 'cluster.local', absolute)).toEqual(want);
  });
});

const cfg: ClusterProbeConfig = {
  dnsServer: '10.96.0.10',
  clusterDomain: 'cluster.local',
  kubernetesService: { host: '10.96.0.1', port: 443 },
  timeoutMs: 2_000,
};
const podWith = (ns: string, targets?: string): Pod =>
  ({
    metadata: {
      namespace: ns,
      name: 'p',
      uid: UID,
      ...(targets ? { annotations: { 'netwarden.dev/probe-targets': targets } } : {}),
    },
  }) as Pod;

describe('probe plans', () => {
  it('a pod plan: core checks, then its own targets; annotation errors returned', () => {
    const { plan, errors } = podProbePlan(
      podWith('app', '10.0.0.5:5672,rabbitmq:5672,api.example.com.:443,nope'),
      cfg,
    );
    expect(plan.dns).toEqual({ server: '10.96.0.10', port: 53 });
    expect(plan.checks.map((c) => `${c.key} core=${c.core}`)).toEqual([
      'dns:kubernetes.default.svc.cluster.local core=true',
      'tcp:10.96.0.1:443 core=true',
      'tcp:10.0.0.5:5672 core=false',
      'tcp:rabbitmq:5672@app core=false',
      'tcp:api.example.com:443 core=false',
    ]);
    expect(errors).toEqual(['entry 4 "nope": expected host:port']);
  });

  it('the node plan: core checks plus every pod target once, names keeping their pod namespace', () => {
    const a = podProbePlan(podWith('app', '10.0.0.5:5672,rabbitmq:5672'), cfg).plan;
    const b = podProbePlan(podWith('billing', '10.0.0.5:5672,rabbitmq:5672'), cfg).plan;
    const n = nodeProbePlan(cfg, [a, b]);
    expect(n.checks.map((c) => c.key)).toEqual([
      'dns:kubernetes.default.svc.cluster.local',
      'tcp:10.96.0.1:443',
      'tcp:10.0.0.5:5672',
      'tcp:rabbitmq:5672@app',
      'tcp:rabbitmq:5672@billing',
    ]);
    const billing = n.checks.find((c) => c.key === 'tcp:rabbitmq:5672@billing');
    expect(billing?.kind === 'tcp' ? billing.names?.[0] : undefined).toBe(
      'rabbitmq.billing.svc.cluster.local',
    );
  });
});

describe('special targets (loopback, link-local, instance metadata)', () => {
  it.each([
    ['127.0.0.1', true],
    ['127.1.2.3', true],
    ['0.0.0.0', true],
    ['169.254.169.254', true],
    ['169.254.1.1', true],
    ['localhost', true],
    ['foo.localhost', true],
    ['10.0.0.5', false],
    ['169.255.0.1', false],
    ['vault.vault.svc', false],
  ])('%s → %s', (host, special) => {
    expect(isSpecialTarget(host)).toBe(special);
  });

  it('refuses them in the annotation unless allowed, and tells the plan to refuse names resolving there', () => {
    const text = '169.254.169.254:80,127.0.0.1:10250,localhost:8080,10.0.0.5:5672';
    const refused = parseProbeTargets(text);
    expect(refused.targets.map((t) => t.host)).toEqual(['10.0.0.5']);
    expect(refused.errors).toHaveLength(3);
    expect(refused.errors[0]).toMatch(/entry 1 "169.254.169.254:80": loopback, link-local and metadata/);
    expect(parseProbeTargets(text, { allowSpecial: true }).targets).toHaveLength(4);
    const pod = podWith('app', text);
    expect(podProbePlan(pod, cfg).plan.refusePrefixes).toEqual(['127.', '0.', '169.254.']);
    const allowed = podProbePlan(pod, { ...cfg, allowSpecialTargets: true });
    expect(allowed.plan.refusePrefixes).toEqual([]);
    expect(allowed.errors).toEqual([]);
  });
});
