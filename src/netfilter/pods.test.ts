import { describe, expect, it } from 'vitest';
import { vpcCniVethName } from './chain-names.ts';
import { parseIpRoutes, parseIpRules } from './ip.ts';
import { checkRoutedPodConsistency, diffPodNetworks, expectedPodNetworks } from './pods.ts';
import { pod } from './testing.ts';

const NODE = 'node-a';
const pods = [
  pod('app', 'web-1', NODE, '10.0.80.10'),
  pod('app', 'db-0', NODE, '10.0.84.20'),
  pod('app', 'elsewhere', 'node-b', '10.0.90.1'),
  pod('kube-system', 'aws-node-x', NODE, '10.0.81.194', { hostNetwork: true }),
  pod('app', 'done', NODE, '10.0.80.99', { phase: 'Succeeded' }),
];
const assignments = [{ namespace: 'app', name: 'db-0', ip: '10.0.84.20', deviceNumber: 1 }];

function rulesFor(lines: string[]) {
  return parseIpRules(lines.join('\n')).items;
}
function routesFor(lines: string[]) {
  return parseIpRoutes(lines.join('\n')).items;
}

describe('expectedPodNetworks', () => {
  it('takes local, non-host-network, live pods; 1536 only for secondary-ENI pods', () => {
    const exp = expectedPodNetworks({ pods, nodeName: NODE, assignments });
    expect(exp.map((p) => `${p.name} ${p.ip} ${p.fromRuleTable ?? '-'}`)).toEqual([
      'web-1 10.0.80.10 -',
      'db-0 10.0.84.20 2',
    ]);
    expect(exp[0]?.veth).toBe(vpcCniVethName('app', 'web-1'));
    expect(exp[0]?.deviceKnown).toBe(false);
  });

  it('works from ipamd assignments alone, with a custom veth prefix', () => {
    const exp = expectedPodNetworks({ assignments, vethPrefix: 'vlan' });
    expect(exp).toHaveLength(1);
    expect(exp[0]?.veth?.startsWith('vlan')).toBe(true);
  });
});

describe('diffPodNetworks', () => {
  const exp = expectedPodNetworks({ pods, nodeName: NODE, assignments });
  const v = (n: string) => vpcCniVethName('app', n);
  const goodRules = [
    '512:\tfrom all to 10.0.80.10 lookup main',
    '512:\tfrom all to 10.0.84.20 lookup main',
    '1536:\tfrom 10.0.84.20 lookup 2',
  ];
  const goodRoutes = [`10.0.80.10 dev ${v('web-1')} scope link`, `10.0.84.20 dev ${v('db-0')} scope link`];

  it('is clean when routes, rules, links and Calico chains are there', () => {
    const f = diffPodNetworks(
      exp,
      {
        rules: rulesFor(goodRules),
        routes: routesFor(goodRoutes),
        links: [
          { ifname: v('web-1'), flags: [] },
          { ifname: v('db-0'), flags: [] },
        ],
        filterChains: new Set([
          `cali-fw-${v('web-1')}`,
          `cali-tw-${v('web-1')}`,
          `cali-fw-${v('db-0')}`,
          `cali-tw-${v('db-0')}`,
        ]),
      },
      { calico: true },
    );
    expect(f).toEqual([]);
  });

  it.each<[string, { rules?: string[]; routes?: string[] }, string, string]>([
    ['512 rule wiped', { rules: goodRules.slice(1) }, 'pod-rule-missing', 'app/web-1'],
    ['1536 rule wiped', { rules: goodRules.slice(0, 2) }, 'pod-rule-missing', 'app/db-0'],
    [
      '1536 rule to the wrong table',
      { rules: [...goodRules.slice(0, 2), '1536:\tfrom 10.0.84.20 lookup 3'] },
      'pod-rule-missing',
      'app/db-0',
    ],
    ['route missing', { routes: goodRoutes.slice(1) }, 'pod-route-missing', 'app/web-1'],
    [
      'route to a stale veth',
      { routes: ['10.0.80.10 dev eni00000000000 scope link', goodRoutes[1] as string] },
      'pod-route-missing',
      'app/web-1',
    ],
  ])('%s', (_n, change, code, who) => {
    const f = diffPodNetworks(exp, {
      rules: rulesFor(change.rules ?? goodRules),
      routes: routesFor(change.routes ?? goodRoutes),
    });
    expect(f.map((x) => x.code)).toEqual([code]);
    expect(f[0]?.subjects).toEqual([{ kind: 'pod', name: who }]);
  });

  it('reports missing veths and Calico chains', () => {
    const f = diffPodNetworks(
      exp,
      { links: [{ ifname: v('db-0'), flags: [] }], filterChains: new Set() },
      { calico: true },
    );
    expect(f.map((x) => x.code).sort()).toEqual(['calico-endpoint-chains-missing', 'pod-veth-missing']);
  });
});

describe('checkRoutedPodConsistency (no pod list)', () => {
  it('pairs eni routes with 512 rules both ways', () => {
    const rules = rulesFor([
      '512:\tfrom all to 10.0.0.1 lookup main',
      '512:\tfrom all to 10.0.0.3 lookup main',
    ]);
    const routes = routesFor([
      '10.0.0.1 dev eniaaaaaaaaaaa scope link',
      '10.0.0.2 dev enibbbbbbbbbbb scope link',
      'default via 10.0.0.254 dev eth0',
    ]);
    const f = checkRoutedPodConsistency(rules, routes);
    expect(f.map((x) => [x.code, x.subjects.map((s) => s.name)])).toEqual([
      ['pod-rule-missing', ['10.0.0.2']],
      ['pod-route-missing', ['10.0.0.3']],
    ]);
  });
});
