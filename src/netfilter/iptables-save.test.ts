import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  formatRule,
  type IptablesRule,
  IptablesSaveParser,
  LineSplitter,
  matchOption,
  parseIptablesSave,
  targetOption,
} from './iptables-save.ts';

const fixture = (n: string): string => readFileSync(new URL(`./fixtures/${n}`, import.meta.url), 'utf8');

function onlyRule(line: string, table = 'nat'): IptablesRule {
  const r = parseIptablesSave(`*${table}\n${line}\nCOMMIT\n`);
  expect(r.warnings).toEqual([]);
  expect(r.ruleList).toHaveLength(1);
  return r.ruleList[0] as IptablesRule;
}

describe('quoted words', () => {
  it.each([
    ['--comment "a b"', 'a b'],
    ['--comment "\\"ns/s:p has no endpoints\\""', '"ns/s:p has no endpoints"'],
    ['--comment "weird \\\\ back"', 'weird \\ back'],
    ['--comment ""', ''],
    ['--comment plain', 'plain'],
    ['--comment -dash', '-dash'],
  ])('%s', (input, comment) => {
    expect(onlyRule(`-A X -m comment ${input} -j Y`).comments).toEqual([comment]);
  });

  it('refuses an unterminated quote', () => {
    const d = parseIptablesSave('*nat\n-A X -m comment --comment "abc\nCOMMIT\n');
    expect(d.rules).toBe(0);
    expect(d.warnings[0]?.message).toBe('unterminated quote');
  });
});

describe('rules as structures', () => {
  it('parses a KUBE-SERVICES ClusterIP rule from a real dump', () => {
    const r = onlyRule(
      '-A KUBE-SERVICES -d 10.96.115.88/32 -p tcp -m comment --comment "default/test-svc cluster IP" -m tcp --dport 80 -j KUBE-SVC-QKNQQNIN727HO3XU',
    );
    expect(r.chain).toBe('KUBE-SERVICES');
    expect(r.destination).toEqual({ value: '10.96.115.88/32', negated: false });
    expect(r.protocol?.value).toBe('tcp');
    expect(r.comments).toEqual(['default/test-svc cluster IP']);
    expect(matchOption(r, 'tcp', '--dport')?.values).toEqual(['80']);
    expect(r.target).toBe('KUBE-SVC-QKNQQNIN727HO3XU');
    expect(r.goto).toBe(false);
  });

  it('keeps negations on addresses and module options', () => {
    const r = onlyRule('-A KUBE-POSTROUTING ! -s 10.0.0.0/8 -m mark ! --mark 0x4000/0x4000 -j RETURN');
    expect(r.source).toEqual({ value: '10.0.0.0/8', negated: true });
    expect(matchOption(r, 'mark', '--mark')).toEqual({
      name: '--mark',
      values: ['0x4000/0x4000'],
      negated: true,
    });
  });

  it('reads target options, flags and gotos', () => {
    const r = onlyRule('-A KUBE-POSTROUTING -m comment --comment "x" -j MASQUERADE --random-fully');
    expect(r.targetOptions).toEqual([{ name: '--random-fully', values: [], negated: false }]);
    const d = onlyRule('-A KUBE-SEP-X -p tcp -m tcp -j DNAT --to-destination 10.0.0.1:80');
    expect(targetOption(d, '--to-destination')?.values).toEqual(['10.0.0.1:80']);
    const g = onlyRule('-A cali-from-wl-dispatch -i eni1 -g cali-fw-eni1', 'filter');
    expect(g.goto).toBe(true);
    expect(g.inInterface?.value).toBe('eni1');
  });

  it('takes several comments and multi-value options', () => {
    const r = onlyRule(
      '-A cali-tw-x -m comment --comment "cali:EP4Xjt9Ii2oJU6GQ" -m comment --comment "Return if profile accepted" -m mark --mark 0x10000/0x10000 -j RETURN',
      'filter',
    );
    expect(r.comments).toEqual(['cali:EP4Xjt9Ii2oJU6GQ', 'Return if profile accepted']);
    const c = onlyRule('-A POSTROUTING -j CONNMARK --restore-mark --nfmask 0x80 --ctmask 0x80');
    expect(c.targetOptions.map((o) => o.name)).toEqual(['--restore-mark', '--nfmask', '--ctmask']);
  });

  it('reads counters in both forms', () => {
    const legacy = parseIptablesSave(fixture('legacy-save-counters.txt'));
    expect(legacy.backend).toBe('legacy');
    expect(legacy.ruleList.every((r) => r.counters?.packets === 0)).toBe(true);
    expect(legacy.ruleList.length).toBeGreaterThan(10);
    const c = onlyRule('-A X -c 5 600 -j ACCEPT', 'filter');
    expect(c.counters).toEqual({ packets: 5, bytes: 600 });
  });
});

describe('whole dumps', () => {
  it('reads the nft backend header, every table, chains with policies and the legacy warning', () => {
    const d = parseIptablesSave(fixture('nft-save-small.txt'));
    expect(d.backend).toBe('nft');
    expect(d.legacyTablesPresent).toBe(true);
    expect(d.tables.map((t) => [t.name, t.committed])).toEqual([
      ['filter', true],
      ['nat', true],
    ]);
    expect(d.chains.find((c) => c.name === 'PREROUTING')?.policy).toBe('ACCEPT');
    expect(d.chains.find((c) => c.name === 'KUBE-SERVICES' && c.table === 'nat')?.policy).toBe('-');
    const reject = d.ruleList.find((r) => r.target === 'REJECT');
    expect(reject?.comments).toEqual(['"default/nothing:http has no endpoints"']);
    expect(targetOption(reject as IptablesRule, '--reject-with')?.values).toEqual(['icmp-port-unreachable']);
    expect(d.ruleList.find((r) => r.target === 'ACCEPT')?.comments).toEqual(['weird \\ back']);
  });

  it('parses the kind excerpt, whose last line was cut, with a warning for the missing COMMIT', () => {
    const text = `*nat\n${fixture(
      'iptables-save-nat-kube-proxy-kind-modern-excerpt.txt'.replace(
        'iptables-save-nat-kube-proxy-kind-modern-excerpt',
        'kind-nat-excerpt',
      ),
    )
      .split('\n')
      .filter((l) => !l.startsWith('# '))
      .join('\n')}`;
    const d = parseIptablesSave(text);
    expect(d.rules).toBe(12);
    expect(d.ruleList.filter((r) => r.target === 'DNAT')).toHaveLength(1);
    expect(d.warnings.some((w) => w.message.includes('no COMMIT'))).toBe(true);
  });

  it('formats rules back in iptables-save order', () => {
    const line =
      '-A KUBE-SERVICES -d 10.96.0.1/32 -p tcp -m comment --comment "default/kubernetes:https cluster IP" -m tcp --dport 443 -j KUBE-SVC-NPX46M4PTMTKRN6Y';
    expect(formatRule(onlyRule(line))).toBe(line);
  });
});

describe('hostile input', () => {
  it.each([
    ['rule outside a table', '-A X -j Y\n'],
    ['unterminated quote', '*nat\n-A X -m comment --comment "abc\nCOMMIT\n'],
    ['garbage word', '*nat\n-A X hello -j Y\nCOMMIT\n'],
    ['option before module', '*nat\n-A X --dport 80 -j Y\nCOMMIT\n'],
    ['text file', 'root:x:0:0:root:/root:/bin/bash\n'],
    ['bad table', '*Nat Table\n'],
  ])('%s → warnings, no throw', (_name, text) => {
    const d = parseIptablesSave(text);
    expect(d.warnings.length + d.unrecognizedLines).toBeGreaterThan(0);
  });

  it('skips huge lines', () => {
    const d = parseIptablesSave(`*nat\n-A X -m comment --comment "${'a'.repeat(200_000)}" -j Y\nCOMMIT\n`);
    expect(d.rules).toBe(0);
    expect(d.warnings[0]?.message).toMatch(/longer than/);
  });

  it('stays linear on hostile dumps (a quadratic scan would hit the test timeout)', () => {
    const unterminated = `*nat\n${'-A X -m comment --comment "abc\n'.repeat(50_000)}COMMIT\n`;
    expect(parseIptablesSave(unterminated).rules).toBe(0);
    const spaceless = `*nat\n${`-A ${'x'.repeat(60)}\n${'y'.repeat(200)}\n`.repeat(20_000)}COMMIT\n`;
    expect(parseIptablesSave(spaceless).rules).toBe(20_000);
  });

  it('never throws on arbitrary text (fuzz)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 400, unit: 'binary' }), (s) => {
        const d = parseIptablesSave(`*nat\n${s}\nCOMMIT\n`);
        expect(d.lines).toBeGreaterThan(0);
      }),
      { numRuns: 400 },
    );
  });

  it('never throws on mutated real dumps (fuzz)', () => {
    const base = fixture('nft-save-small.txt');
    fc.assert(
      fc.property(fc.nat(base.length), fc.nat(base.length), fc.string({ maxLength: 20 }), (a, b, ins) => {
        const text = base.slice(0, Math.min(a, b)) + ins + base.slice(Math.max(a, b));
        parseIptablesSave(text);
      }),
      { numRuns: 300 },
    );
  });
});

describe('streaming', () => {
  it('gives the same rules whatever the chunk boundaries (property)', () => {
    const text = fixture('legacy-save-counters.txt');
    const whole = parseIptablesSave(text).ruleList;
    fc.assert(
      fc.property(fc.array(fc.nat(text.length), { maxLength: 20 }), (cuts) => {
        const rules: IptablesRule[] = [];
        const parser = new IptablesSaveParser({ rule: (r) => rules.push(r) });
        const split = new LineSplitter((t, s, e) => parser.lineRange(t, s, e));
        const points = [...new Set(cuts)].sort((x, y) => x - y);
        let prev = 0;
        for (const p of [...points, text.length]) {
          split.push(text.slice(prev, p));
          prev = p;
        }
        split.end();
        parser.end();
        expect(rules).toEqual(whole);
      }),
      { numRuns: 100 },
    );
  });

  it('round-trips generated rules through format and parse (property)', () => {
    const word = fc.stringMatching(/^[A-Za-z0-9_.:/-]{1,12}$/).filter((w) => !w.startsWith('-'));
    const comment = fc.string({ maxLength: 30 }).filter((s) => !s.includes('\n') && !s.includes('\r'));
    fc.assert(
      fc.property(word, fc.option(word), fc.boolean(), comment, word, (chain, dst, neg, c, target) => {
        const rule: IptablesRule = {
          table: 'nat',
          chain,
          line: 2,
          protocol: undefined,
          source: undefined,
          destination: dst === null ? undefined : { value: dst, negated: neg },
          inInterface: undefined,
          outInterface: undefined,
          fragment: undefined,
          matches: [{ module: 'comment', options: [{ name: '--comment', values: [c], negated: false }] }],
          comments: [c],
          target,
          goto: false,
          targetOptions: [],
          counters: undefined,
        };
        const back = parseIptablesSave(`*nat\n${formatRule(rule)}\nCOMMIT\n`).ruleList[0];
        expect(back).toEqual(rule);
      }),
      { numRuns: 200 },
    );
  });
});
