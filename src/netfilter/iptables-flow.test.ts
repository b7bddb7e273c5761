/**
 * What the iptables state keeps for the field cases, read from recorded real dumps
 * (fixtures/field/README.md): chain policies with their counters, what filter chains do with new
 * packets, the VPC CNI's connmark rules, Calico's eBPF drop and tables iptables could not print.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { readIptablesState } from './iptables-state.ts';

const field = (n: string): string => readFileSync(new URL(`./fixtures/field/${n}`, import.meta.url), 'utf8');
const verbatim = (code: string, n: string): string =>
  readFileSync(new URL(`../sources/fixtures/field-cases/${code}/${n}`, import.meta.url), 'utf8');

describe('chain policies', () => {
  it('keeps a legacy FORWARD DROP with the packets it dropped', () => {
    const s = readIptablesState(field('legacy-save-forward-drop.txt'));
    expect(s.summary.backend).toBe('legacy');
    expect(s.policies.get('filter FORWARD')).toEqual({ policy: 'DROP', packets: 3, bytes: 180 });
    expect(s.policies.get('filter INPUT')?.policy).toBe('ACCEPT');
    expect(s.filterFlow.size).toBe(0);
  });

  it('keeps the ACCEPT policy and the open ACCEPT of the nft side', () => {
    const s = readIptablesState(field('nft-save-beside-legacy.txt'));
    expect(s.policies.get('filter FORWARD')?.policy).toBe('ACCEPT');
    expect(s.filterFlow.get('FORWARD')?.accepts).toEqual([{ rule: '-A FORWARD -j ACCEPT' }]);
    expect(s.forwardRules).toEqual(['-A FORWARD -j ACCEPT']);
  });
});

describe('filter flow', () => {
  it("follows FORWARD into kube-proxy's KUBE-FORWARD, whose ACCEPTs take only marked or established traffic", () => {
    const s = readIptablesState(field('nft-save-forward-drop-kube-forward.txt'));
    expect(s.policies.get('filter FORWARD')?.policy).toBe('DROP');
    expect(s.filterFlow.get('FORWARD')).toEqual({ accepts: [], jumps: ['KUBE-FORWARD'], otherTargets: [] });
    expect(s.filterFlow.get('KUBE-FORWARD')).toEqual({ accepts: [], jumps: [], otherTargets: [] });
  });

  it('reads the verbatim KUBE-FORWARD rules of kubernetes#80462 the same way', () => {
    const lines = verbatim('forward-policy-drop', 'kube-forward-rules-80462.txt')
      .split('\n')
      .filter((l) => l.startsWith('-A ') && l.endsWith('-j ACCEPT'));
    const s = readIptablesState(
      `*filter\n:FORWARD DROP [3:188]\n:KUBE-FORWARD - [0:0]\n-A FORWARD -j KUBE-FORWARD\n${lines.join('\n')}\nCOMMIT\n`,
    );
    expect(lines).toHaveLength(2);
    expect(s.filterFlow.get('KUBE-FORWARD')?.accepts).toEqual([]);
  });

  it.each([
    [
      '-A FORWARD -i eni+ -j ACCEPT',
      [{ rule: '-A FORWARD -i eni+ -j ACCEPT', inInterface: { value: 'eni+', negated: false } }],
    ],
    ['-A FORWARD -s 10.0.0.0/16 -j ACCEPT', [{ rule: '-A FORWARD -s 10.0.0.0/16 -j ACCEPT' }]],
    [
      '-A FORWARD -m conntrack --ctstate NEW,ESTABLISHED -j ACCEPT',
      [{ rule: '-A FORWARD -m conntrack --ctstate NEW,ESTABLISHED -j ACCEPT' }],
    ],
    [
      '-A FORWARD -m conntrack ! --ctstate INVALID -j ACCEPT',
      [{ rule: '-A FORWARD -m conntrack ! --ctstate INVALID -j ACCEPT' }],
    ],
    ['-A FORWARD -m state --state RELATED,ESTABLISHED -j ACCEPT', []],
    ['-A FORWARD -m mark --mark 0x4000/0x4000 -j ACCEPT', []],
  ])('%s', (rule, accepts) => {
    expect(
      readIptablesState(`*filter\n:FORWARD DROP [0:0]\n${rule}\nCOMMIT\n`).filterFlow.get('FORWARD')?.accepts,
    ).toEqual(accepts);
  });

  it('counts a jump into Calico and keeps unknown targets, but not verdicts that only drop or mark', () => {
    const s = readIptablesState(
      '*filter\n:FORWARD DROP [0:0]\n:cali-FORWARD - [0:0]\n-A FORWARD -j cali-FORWARD\n-A FORWARD -j NFQUEUE --queue-num 1\n-A FORWARD -j LOG\n-A FORWARD -j DROP\n-A cali-FORWARD -j ACCEPT\nCOMMIT\n',
    );
    expect(s.filterFlow.get('FORWARD')).toEqual({
      accepts: [],
      jumps: ['cali-FORWARD'],
      otherTargets: ['NFQUEUE'],
    });
    expect(s.filterFlow.has('cali-FORWARD')).toBe(false);
  });

  it("keeps Calico's eBPF-mode drop with its counter", () => {
    const s = readIptablesState(
      '*filter\n:FORWARD ACCEPT [0:0]\n[159:9648] -A FORWARD -m comment --comment "cali:NnQ109Z-tVFkJGc1" -m comment --comment "From workload without BPF seen mark" -m mark ! --mark 0x1000000/0x1000000 -j DROP\nCOMMIT\n',
    );
    expect(s.calicoBpfDrops).toEqual([
      {
        rule: '-A FORWARD -m comment --comment cali:NnQ109Z-tVFkJGc1 -m comment --comment "From workload without BPF seen mark" -m mark ! --mark 0x1000000/0x1000000 -j DROP',
        packets: 159,
      },
    ]);
  });
});

describe('the VPC CNI connmark rules', () => {
  it('keeps the PREROUTING jump and the CIDRs AWS-CONNMARK-CHAIN-0 leaves alone', () => {
    const s = readIptablesState(field('nft-save-aws-connmark.txt'));
    expect(s.aws.connmarkJump).toBe(
      '-A PREROUTING -i eni+ -m comment --comment "AWS, outbound connections" -j AWS-CONNMARK-CHAIN-0',
    );
    expect(s.aws.connmarkReturns).toEqual(['10.0.0.0/16']);
    expect(s.aws.connmarkRules).toBe(3);
    expect(s.aws.present).toBe(true);
  });
});

describe('tables iptables could not print', () => {
  it('names the incompatible table and reads the rest of the dump', () => {
    const s = readIptablesState(field('nft-save-filter-incompatible.txt'));
    expect(s.summary.incompatibleTables).toEqual(['filter']);
    expect(s.summary.tables.map((t) => t.name)).toEqual(['nat']);
    expect(s.hooks.natPrerouting).toBeDefined();
  });

  it("reads the line of calico#8403's dump", () => {
    const text = verbatim('iptables-table-incompatible', 'felix-log-incompatible-raw-8403.txt')
      .split('\n')
      .filter((l) => l.startsWith('# Table'))
      .join('\n');
    expect(readIptablesState(text).summary.incompatibleTables).toEqual(['raw']);
  });
});
