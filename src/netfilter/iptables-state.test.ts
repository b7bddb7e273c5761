import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IptablesSaveParser, parseIptablesSave } from './iptables-save.ts';
import {
  type IptablesNodeState,
  IptablesStateCollector,
  readIptablesState,
  readIptablesStateStream,
  serviceKey,
} from './iptables-state.ts';

const fixture = (n: string): string => readFileSync(new URL(`./fixtures/${n}`, import.meta.url), 'utf8');

describe('readIptablesState', () => {
  it('collects hooks, ClusterIP rules, service and endpoint chains and no-endpoint rules (real kube-proxy 1.36)', () => {
    const s = readIptablesState(fixture('kube-proxy-1.36-iptables-small.txt'));
    expect(s.summary.backend).toBe('nft');
    expect(s.hooks.natPrerouting).toBe(
      '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
    );
    expect(s.hooks.natOutput).toBe(
      '-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
    );
    expect(s.clusterIpRules.get(serviceKey('10.96.0.1', 'tcp', 443))?.[0]?.target).toBe(
      'KUBE-SVC-NPX46M4PTMTKRN6Y',
    );
    // the Local-policy service goes to its KUBE-SVL chain
    expect(s.clusterIpRules.get(serviceKey('10.96.7.7', 'tcp', 80))?.[0]?.target).toBe(
      'KUBE-SVL-XJ3C4AN5JHLMADSZ',
    );
    expect(s.serviceChains.get('KUBE-SVC-TCOU7JCQXEZGVUNU')).toEqual([
      'KUBE-SEP-6E7XQMQ4RAYOWTTM',
      'KUBE-SEP-EJJ3L23ZA35VLW6X',
    ]);
    expect(s.endpointDnat.get('KUBE-SEP-V2PECCYPB6X2GSCW')).toBe('172.18.0.2:6443');
    expect(s.noEndpointRules.get(serviceKey('10.96.9.9', 'tcp', 80))?.[0]).toMatchObject({
      action: 'REJECT',
      comment: 'app/nothing:http has no endpoints',
    });
    const nodeC = readIptablesState(fixture('kube-proxy-1.36-iptables-small-node-c.txt'));
    expect(nodeC.noEndpointRules.get(serviceKey('10.96.7.7', 'tcp', 80))?.[0]).toMatchObject({
      action: 'DROP',
      comment: 'app/local has no local endpoints',
    });
    expect(nodeC.clusterIpRules.has(serviceKey('10.96.7.7', 'tcp', 80))).toBe(false);
  });

  it('reads the same rules from the iptables-legacy backend', () => {
    const nft = readIptablesState(fixture('kube-proxy-1.36-iptables-example.txt'));
    const legacy = readIptablesState(fixture('kube-proxy-1.36-iptables-legacy-example.txt'));
    expect(legacy.summary.backend).toBe('legacy');
    expect([...legacy.clusterIpRules.keys()].sort()).toEqual([...nft.clusterIpRules.keys()].sort());
    expect(legacy.clusterIpRules.size).toBe(7);
    expect(new Map([...legacy.endpointDnat].sort())).toEqual(new Map([...nft.endpointDnat].sort()));
  });

  it('also reads a no-endpoints comment wrapped in literal quotes (hand-written; kube-proxy 1.36 writes none)', () => {
    const s = readIptablesState(fixture('nft-save-small.txt'));
    expect(s.noEndpointRules.get(serviceKey('10.96.5.5', 'tcp', 80))?.[0]).toMatchObject({
      action: 'REJECT',
      comment: 'default/nothing:http has no endpoints',
    });
    expect(s.noEndpointRules.get(serviceKey('10.96.5.6', 'tcp', 80))?.[0]?.action).toBe('DROP');
  });

  it('recognises pre-1.14 KUBE-SERVICES (mark rule then jump) and IPVS mode', () => {
    const old = readIptablesState(
      '*nat\n:KUBE-SERVICES - [0:0]\n-A KUBE-SERVICES ! -s 10.244.0.0/16 -d 10.96.0.1/32 -p tcp -m comment --comment "default/kubernetes:https cluster IP" -m tcp --dport 443 -j KUBE-MARK-MASQ\n-A KUBE-SERVICES -d 10.96.0.1/32 -p tcp -m comment --comment "default/kubernetes:https cluster IP" -m tcp --dport 443 -j KUBE-SVC-NPX46M4PTMTKRN6Y\nCOMMIT\n',
    );
    expect(old.clusterIpRules.get('10.96.0.1 tcp 443')).toHaveLength(1);
    const ipvs = readIptablesState(
      '*nat\n-A KUBE-SERVICES -m comment --comment "Kubernetes service cluster ip + port for masquerade purpose" -m set --match-set KUBE-CLUSTER-IP dst,dst -j KUBE-MARK-MASQ\nCOMMIT\n',
    );
    expect(ipvs.ipvsClusterIpSet).toBe(true);
  });

  it('collects AWS VPC CNI and Calico state', () => {
    const s = readIptablesState(
      [
        '*nat',
        ':AWS-SNAT-CHAIN-0 - [0:0]',
        '-A POSTROUTING -m comment --comment "AWS SNAT CHAIN" -j AWS-SNAT-CHAIN-0',
        '-A AWS-SNAT-CHAIN-0 ! -o vlan+ -m comment --comment "AWS, SNAT" -m addrtype ! --dst-type LOCAL -j SNAT --to-source 10.0.81.194 --random-fully',
        'COMMIT',
        '*filter',
        ':cali-fw-enic72a72146bc - [0:0]',
        ':cali-tw-enic72a72146bc - [0:0]',
        'COMMIT',
      ].join('\n'),
    );
    expect(s.aws.present).toBe(true);
    expect(s.aws.snatJump).toContain('AWS-SNAT-CHAIN-0');
    expect(s.aws.snatRules).toHaveLength(1);
    expect(s.calicoPresent).toBe(true);
    expect([...s.calicoWorkloadChains].sort()).toEqual(['cali-fw-enic72a72146bc', 'cali-tw-enic72a72146bc']);
  });

  it('reads the real Calico excerpt (iptables-restore input embedded in a log string, long options)', () => {
    // The issue quoted the rules inside a log string: undo its "\\n" and "\\\"" escapes and the line the copy broke.
    const raw = fixture('calico-felix-excerpt.txt')
      .split('\n')
      .filter((l) => !l.startsWith('# '))
      .join('\n')
      .replace('--commen\nt', '--comment')
      .replaceAll('\\n', '\n')
      .replaceAll('\\"', '"');
    const rules = raw.split('\n').filter((l) => l.startsWith('-A '));
    const d = parseIptablesSave(`*filter\n${rules.slice(0, -1).join('\n')}\nCOMMIT\n`);
    expect(d.warnings).toEqual([]);
    expect(new Set(d.ruleList.map((r) => r.chain))).toEqual(
      new Set(['cali-tw-enic72a72146bc', 'cali-fw-enic72a72146bc']),
    );
    expect(d.ruleList.map((r) => r.target)).toContain('cali-pro-kns.toolbox');
    expect(readIptablesState(`*filter\n${rules.slice(0, -1).join('\n')}\nCOMMIT\n`).calicoPresent).toBe(true);
  });

  it('streams chunks to the same result', async () => {
    const text = fixture('legacy-save-counters.txt');
    async function* chunks() {
      for (let i = 0; i < text.length; i += 97) yield Buffer.from(text.slice(i, i + 97));
    }
    const a = readIptablesState(text);
    const b = await readIptablesStateStream(chunks());
    expect([...b.clusterIpRules.keys()]).toEqual([...a.clusterIpRules.keys()]);
    expect(b.summary.rules).toBe(a.summary.rules);
  });
});

describe('skimmed per-service and per-endpoint rules', () => {
  /** The same collector with the fast path off: every rule parsed in full. */
  class FullCollector extends IptablesStateCollector {
    override skim(): boolean {
      return false;
    }
  }
  const viaFull = (text: string) => {
    const c = new FullCollector();
    const p = new IptablesSaveParser(c);
    p.feed(text);
    return c.result(p.end());
  };
  const comparable = (s: IptablesNodeState) => ({
    summary: s.summary,
    serviceChains: [...s.serviceChains],
    endpointDnat: [...s.endpointDnat],
    kubeRules: s.kubeRules,
    clusterIpRules: [...s.clusterIpRules],
  });
  const sample = [
    '*nat',
    ':KUBE-SVC-AAAA - [0:0]',
    ':KUBE-SEP-BBBB - [0:0]',
    '-A KUBE-SVC-AAAA -m comment --comment "ns/a:http cluster IP" -m tcp -p tcp -d 10.96.0.9/32 --dport 80 ! -s 10.244.0.0/16 -j KUBE-MARK-MASQ',
    '-A KUBE-SVC-AAAA -m comment --comment "ns/a:http -> 10.1.0.1:80" -m statistic --mode random --probability 0.5000000000 -j KUBE-SEP-BBBB',
    '-A KUBE-SVC-AAAA -m comment --comment "ns/a:http -> 10.1.0.2:80" -j KUBE-SEP-CCCC',
    '-A KUBE-SEP-BBBB -m comment --comment "ns/a:http" -s 10.1.0.1/32 -j KUBE-MARK-MASQ',
    '-A KUBE-SEP-BBBB -m comment --comment "ns/a:http" -m tcp -p tcp -j DNAT --to-destination 10.1.0.1:80',
    '-A KUBE-SEP-CCCC -m comment --comment "quoted \\" -j DNAT --to-destination 6.6.6.6:1" -p tcp -j DNAT --to-destination 10.1.0.2:80',
    'COMMIT',
  ].join('\n');

  it('collect the same state as a full parse, on kube-proxy rules and on a real dump', () => {
    for (const text of [sample, fixture('nft-save-small.txt'), fixture('kind-nat-excerpt.txt')])
      expect(comparable(readIptablesState(text))).toEqual(comparable(viaFull(text)));
    expect(readIptablesState(sample).endpointDnat.get('KUBE-SEP-CCCC')).toBe('10.1.0.2:80');
  });

  it('collect the same state and warnings as a full parse on mangled lines (property)', () => {
    const lines = sample.split('\n');
    fc.assert(
      fc.property(
        fc.nat(lines.length - 1),
        fc.nat(200),
        fc.string({ maxLength: 12 }).filter((s) => !s.includes('\n')),
        (l, at, ins) => {
          const copy = [...lines];
          const line = copy[l] as string;
          const k = Math.min(at, line.length);
          copy[l] = line.slice(0, k) + ins + line.slice(k);
          const text = copy.join('\n');
          expect(comparable(readIptablesState(text))).toEqual(comparable(viaFull(text)));
        },
      ),
      { numRuns: 2_000 },
    );
  });
});
