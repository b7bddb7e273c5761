import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type ClusterState, parseClusterState } from './cluster-state.ts';
import { checkKubeProxyStructure, diffKubeProxy } from './diff-kube-proxy.ts';
import { expectedServicePorts } from './expected.ts';
import { readIptablesState } from './iptables-state.ts';
import { kubeProxyNftState, parseNftJson } from './nft.ts';
import { manyServicesCluster, service, slice, smallCluster } from './testing.ts';

/** A file of fixtures/: the kube-proxy-1.36-* ones are recorded from the real kube-proxy (examples/record-kube-proxy.ts). */
const fixture = (n: string): string => readFileSync(new URL(`./fixtures/${n}`, import.meta.url), 'utf8');

/** The dump without the lines that contain any of `needles` (a variation made of real lines only). */
function without(dump: string, ...needles: string[]): string {
  return dump
    .split('\n')
    .filter((l) => !needles.some((n) => l.includes(n)))
    .join('\n');
}

function codes(cluster: ClusterState, save: string, node = 'node-a'): string[] {
  const state = readIptablesState(save);
  return diffKubeProxy({ mode: 'iptables', state }, expectedServicePorts(cluster, { nodeName: node })).map(
    (f) => f.code,
  );
}

describe('iptables diff (rules recorded from the real kube-proxy 1.36)', () => {
  const cluster = smallCluster();
  const expected = expectedServicePorts(cluster, { nodeName: 'node-a' });
  const good = fixture('kube-proxy-1.36-iptables-small.txt');

  it('is clean on what kube-proxy wrote: with comments, in large-cluster mode, and on a node without local endpoints', () => {
    expect(codes(cluster, good)).toEqual([]);
    expect(codes(cluster, fixture('kube-proxy-1.36-iptables-small-large-cluster.txt'))).toEqual([]);
    // node-c has no endpoint of the Local-policy app/local: kube-proxy wrote a DROP, which is right there
    expect(codes(cluster, fixture('kube-proxy-1.36-iptables-small-node-c.txt'), 'node-c')).toEqual([]);
    expect(checkKubeProxyStructure({ mode: 'iptables', state: readIptablesState(good) })).toEqual([]);
  });

  it('reports the DROP kube-proxy writes on a node without local endpoints when this node has one', () => {
    const f = diffKubeProxy(
      { mode: 'iptables', state: readIptablesState(fixture('kube-proxy-1.36-iptables-small-node-c.txt')) },
      expected,
    );
    expect(f.map((x) => [x.code, x.subjects.map((s) => s.name)])).toEqual([
      ['kube-proxy-rules-missing', ['app/local']],
      ['kube-proxy-unexpected-reject', ['app/local']],
    ]);
  });

  it('reports a missing ClusterIP rule with the exact expected rule as evidence', () => {
    const broken = without(good, '"kube-system/kube-dns:dns cluster IP"');
    const f = diffKubeProxy({ mode: 'iptables', state: readIptablesState(broken) }, expected);
    expect(f.map((x) => x.code)).toEqual(['kube-proxy-rules-missing']);
    expect(f[0]?.severity).toBe('critical');
    expect(f[0]?.evidence[0]).toContain(
      '-A KUBE-SERVICES -d 10.96.0.10/32 -p udp -m udp --dport 53 -j KUBE-SVC-TCOU7JCQXEZGVUNU',
    );
    expect(f[0]?.subjects).toEqual([{ kind: 'service', name: 'kube-system/kube-dns:dns' }]);
  });

  it('reports a REJECT for a service that has endpoints (kube-proxy had not seen its slice)', () => {
    // The real kube-proxy shown the example cluster without web's EndpointSlice (and without
    // rabbitmq and vault), judged against the whole example cluster.
    const example = parseClusterState(
      readFileSync(new URL('../../examples/cluster-state.json', import.meta.url), 'utf8'),
    ).state;
    const stale = fixture('kube-proxy-1.36-iptables-example-stale.txt');
    const f = diffKubeProxy(
      { mode: 'iptables', state: readIptablesState(stale) },
      expectedServicePorts(example, { nodeName: 'ip-10-0-81-194.ec2.internal' }),
    );
    expect(f.map((x) => x.code).sort()).toEqual(['kube-proxy-rules-missing', 'kube-proxy-unexpected-reject']);
    expect(f.find((x) => x.code === 'kube-proxy-unexpected-reject')?.subjects).toEqual([
      { kind: 'service', name: 'app/web' },
    ]);
    expect(
      f
        .find((x) => x.code === 'kube-proxy-rules-missing')
        ?.subjects.map((s) => s.name)
        .sort(),
    ).toEqual(['app/rabbitmq:amqp', 'app/vault:http', 'app/web']);
    expect(
      codes(example, fixture('kube-proxy-1.36-iptables-example.txt'), 'ip-10-0-81-194.ec2.internal'),
    ).toEqual([]);
  });

  it('reports endpoint chains that differ from the slices', () => {
    const sep = expected.ports.find((p) => p.name === 'kube-dns')?.endpoints()[0]?.iptablesChain as string;
    expect(good).toContain(`-j ${sep}`);
    expect(codes(cluster, without(good, `-j ${sep}`))).toEqual(['kube-proxy-endpoints-mismatch']);
  });

  it('reports a missing REJECT rule for a service without endpoints as a warning', () => {
    const broken = without(good, 'app/nothing:http has no endpoints');
    expect(broken).not.toEqual(good);
    const f = diffKubeProxy({ mode: 'iptables', state: readIptablesState(broken) }, expected);
    expect(f.map((x) => [x.code, x.severity])).toEqual([['kube-proxy-rules-missing', 'warning']]);
  });

  it('reports missing hooks and an empty ruleset', () => {
    const unhooked = good
      .split('\n')
      .filter((l) => !/^-A (PREROUTING|OUTPUT) .*KUBE-SERVICES/.test(l) || l.includes('ctstate'))
      .join('\n');
    expect(
      checkKubeProxyStructure({ mode: 'iptables', state: readIptablesState(unhooked) }).map((f) => f.code),
    ).toEqual(['kube-proxy-jump-missing']);
    const empty = '*nat\n:PREROUTING ACCEPT [0:0]\nCOMMIT\n';
    expect(
      checkKubeProxyStructure({ mode: 'iptables', state: readIptablesState(empty) }).map((f) => f.code),
    ).toEqual(['kube-proxy-rules-missing']);
  });

  it("warns when no ClusterIP rule is commented as the kubernetes Service's, other Services' rules in place", () => {
    const state = readIptablesState(good);
    expect(state.kubernetesServiceRule).toBe(true);
    expect(checkKubeProxyStructure({ mode: 'iptables', state })).toEqual([]);
    const renamed = good.replaceAll('"default/kubernetes:https', '"default/other:https');
    expect(renamed).not.toEqual(good);
    const f = checkKubeProxyStructure({ mode: 'iptables', state: readIptablesState(renamed) });
    expect(f.map((x) => [x.code, x.severity, x.title])).toEqual([
      ['kube-proxy-rules-missing', 'warning', 'No ClusterIP rule for the default/kubernetes Service'],
    ]);
  });

  it('finds every removed ClusterIP rule and nothing else (property)', () => {
    const exp = expectedServicePorts(manyServicesCluster());
    const dump = fixture('kube-proxy-1.36-iptables-many.txt');
    expect(diffKubeProxy({ mode: 'iptables', state: readIptablesState(dump) }, exp)).toEqual([]);
    fc.assert(
      fc.property(fc.uniqueArray(fc.nat(29), { maxLength: 10 }), (drop) => {
        const text = without(dump, ...drop.map((i) => `"p/s${i}:web cluster IP"`));
        const f = diffKubeProxy({ mode: 'iptables', state: readIptablesState(text) }, exp);
        const subjects = f.flatMap((x) => x.subjects.map((s) => s.name)).sort();
        expect(subjects).toEqual(drop.map((i) => `p/s${i}:web`).sort());
      }),
      { numRuns: 50 },
    );
  });
});

describe('nftables diff (kube-proxy 1.36 recorded on the same small cluster)', () => {
  const state = kubeProxyNftState(parseNftJson(fixture('kube-proxy-1.36-nftables-small.json')));
  const expected = expectedServicePorts(smallCluster(), { nodeName: 'node-a' });

  it('is clean: service-ips elements, service chains, DNAT destinations and the no-endpoint element', () => {
    expect(diffKubeProxy({ mode: 'nftables', state }, expected)).toEqual([]);
    expect(checkKubeProxyStructure({ mode: 'nftables', state })).toEqual([]);
  });

  it('reports a ClusterIP whose service-ips element is gone', () => {
    const json = JSON.parse(fixture('kube-proxy-1.36-nftables-small.json')) as {
      nftables: { map?: { name: string; elem?: [{ concat: unknown[] }, unknown][] } }[];
    };
    const map = json.nftables.find((o) => o.map?.name === 'service-ips')?.map;
    if (!map?.elem) throw new Error('fixture has no service-ips map');
    const before = map.elem.length;
    map.elem = map.elem.filter(([k]) => !(k.concat[0] === '10.96.0.10' && k.concat[1] === 'udp'));
    expect(map.elem).toHaveLength(before - 1);
    const f = diffKubeProxy(
      { mode: 'nftables', state: kubeProxyNftState(parseNftJson(JSON.stringify(json))) },
      expected,
    );
    expect(f.map((x) => [x.code, x.subjects.map((s) => s.name)])).toEqual([
      ['kube-proxy-rules-missing', ['kube-system/kube-dns:dns']],
    ]);
  });
});

describe('nftables diff (real `nft -j` output)', () => {
  const json = readFileSync(new URL('./fixtures/nft-kube-proxy.json', import.meta.url), 'utf8');
  const state = kubeProxyNftState(parseNftJson(json));
  const cluster: ClusterState = {
    services: [
      service('default', 'kubernetes', '10.96.0.1', [{ name: 'https', port: 443 }]),
      service('ns', 'svc', '10.43.21.102', [{ name: 'port', port: 4317 }]),
    ],
    endpointSlices: [
      slice(
        'default',
        'kubernetes',
        [{ name: 'https', port: 443, targetPort: 6443 }],
        [{ ip: '172.18.0.2' }],
      ),
    ],
    pods: [],
  };

  it('is clean when map elements, chains and endpoints match', () => {
    expect(diffKubeProxy({ mode: 'nftables', state }, expectedServicePorts(cluster))).toEqual([]);
    expect(checkKubeProxyStructure({ mode: 'nftables', state })).toEqual([]);
  });

  it('reports a service missing from service-ips and an endpoint mismatch', () => {
    const more: ClusterState = {
      ...cluster,
      services: [...cluster.services, service('a', 'b', '10.96.3.3', [{ port: 80 }])],
      endpointSlices: [
        slice(
          'default',
          'kubernetes',
          [{ name: 'https', port: 443, targetPort: 6443 }],
          [{ ip: '172.18.0.2' }, { ip: '172.18.0.3' }],
        ),
        slice('a', 'b', [{ port: 80 }], [{ ip: '10.0.0.1' }]),
      ],
    };
    const f = diffKubeProxy({ mode: 'nftables', state }, expectedServicePorts(more));
    expect(f.map((x) => x.code).sort()).toEqual([
      'kube-proxy-endpoints-mismatch',
      'kube-proxy-rules-missing',
    ]);
  });

  it('reports an unexpected no-endpoint element', () => {
    const c: ClusterState = {
      ...cluster,
      endpointSlices: [
        ...cluster.endpointSlices,
        slice('ns', 'svc', [{ name: 'port', port: 4317 }], [{ ip: '10.0.0.9' }]),
      ],
    };
    expect(diffKubeProxy({ mode: 'nftables', state }, expectedServicePorts(c)).map((x) => x.code)).toContain(
      'kube-proxy-unexpected-reject',
    );
  });
});

describe('nftables diff (kube-proxy 1.36, recorded from the lab: DNAT maps, no endpoint chains)', () => {
  const json = readFileSync(new URL('./fixtures/nft-kube-proxy-1.36-lab.json', import.meta.url), 'utf8');
  const state = kubeProxyNftState(parseNftJson(json));
  const cluster = JSON.parse(
    readFileSync(new URL('./fixtures/cluster-state-1.36-lab-nft.json', import.meta.url), 'utf8'),
  ) as ClusterState;

  it('reads the DNAT destinations straight from the service chains', () => {
    expect(state.serviceDnat.get('service-2QRHZV4L-default/kubernetes/tcp/https')).toEqual([
      '10.251.0.1:33547',
    ]);
    expect(state.serviceDnat.has('service-endpoints-check')).toBe(false);
  });

  it('is clean against the cluster state of the same moment', () => {
    expect(
      diffKubeProxy({ mode: 'nftables', state }, expectedServicePorts(cluster, { nodeName: 'node-1' })),
    ).toEqual([]);
    expect(checkKubeProxyStructure({ mode: 'nftables', state })).toEqual([]);
  });

  it('notices when the endpoints moved and kube-proxy has not caught up', () => {
    const moved = structuredClone(cluster) as unknown as {
      endpointSlices: { metadata?: { name?: string }; endpoints: { addresses: string[] }[] }[];
    };
    const dns = moved.endpointSlices.find((s) => s.metadata?.name?.startsWith('kube-dns'));
    if (!dns?.endpoints[0]) throw new Error('fixture has no kube-dns slice');
    dns.endpoints[0].addresses = ['10.244.0.99'];
    const f = diffKubeProxy(
      { mode: 'nftables', state },
      expectedServicePorts(moved as unknown as ClusterState, { nodeName: 'node-1' }),
    );
    expect(f.map((x) => x.code)).toEqual(['kube-proxy-endpoints-mismatch']);
    expect(f[0]?.evidence.join('\n')).toContain('10.244.0.99:53');
  });
});
