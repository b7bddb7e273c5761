import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isNetwardenError } from '../errors.ts';
import {
  parseIpAddrJson,
  parseIpLinkJson,
  parseIpRouteJson,
  parseIpRoutes,
  parseIpRuleJson,
  parseIpRules,
  parseIpRuleText,
} from './ip.ts';

const fixture = (n: string): string => readFileSync(new URL(`./fixtures/${n}`, import.meta.url), 'utf8');

const ROUTE_TYPES_FOR_TEST: ReadonlySet<string> = new Set([
  'unicast',
  'local',
  'broadcast',
  'multicast',
  'throw',
  'unreachable',
  'prohibit',
  'blackhole',
  'nat',
  'anycast',
]);

describe('ip rule', () => {
  it('gives the same rules from `ip -j rule` and `ip rule show` (real iproute2 6.1 output)', () => {
    const j = parseIpRuleJson(fixture('ip-rule.json'));
    const t = parseIpRuleText(fixture('ip-rule.txt'));
    expect(j.warnings).toEqual([]);
    expect(t.warnings).toEqual([]);
    const strip = (r: { priority: number; from: string; to?: string; table: string; fwmark?: string }) => [
      r.priority,
      r.from,
      r.to,
      r.table,
      r.fwmark,
    ];
    expect(j.items.map(strip)).toEqual(t.items.map(strip));
    expect(j.items.find((r) => r.priority === 512)).toMatchObject({
      from: 'all',
      to: '10.0.80.65',
      table: 'main',
    });
    expect(j.items.find((r) => r.priority === 1536)).toMatchObject({ from: '10.0.80.65', table: '2' });
    expect(j.items.find((r) => r.priority === 1024)?.fwmark).toBe('0x80/0x80');
  });

  it.each([
    ['tab after priority', '512:\tfrom all to 10.0.0.1 lookup main', '10.0.0.1'],
    ['spaces (older dumps)', '512:    from all to 10.0.0.1 lookup main', '10.0.0.1'],
    ['old VPC CNI format with a /32', '1536:\tfrom 10.0.0.1 to 10.0.0.0/16 lookup 2', '10.0.0.0/16'],
  ])('%s', (_n, line, to) => {
    expect(parseIpRuleText(line).items[0]?.to).toBe(to);
  });

  it('reads the Bottlerocket sample (rules, blank line, routes in one file)', () => {
    const text = fixture('bottlerocket-ip-rule-route.txt');
    const rules = parseIpRules(text).items;
    expect(rules.filter((r) => r.priority === 512)).toHaveLength(6);
    const routes = parseIpRoutes(text).items.filter((r) => r.dev?.startsWith('eni'));
    // The copy read cut the last route ("… dev eni0d30c966d98 s"): it still yields dst and dev.
    expect(routes.map((r) => r.dst)).toContain('10.0.87.240');
    expect(routes).toHaveLength(6);
  });
});

describe('ip route', () => {
  it('gives the same routes from JSON and text (real output, table all)', () => {
    const j = parseIpRouteJson(fixture('ip-route.json')).items;
    const t = parseIpRoutes(fixture('ip-route.txt')).items;
    const key = (r: { dst: string; table: string; dev?: string }) => `${r.dst} ${r.table} ${r.dev}`;
    expect(j.map(key).sort()).toEqual(t.map(key).sort());
    expect(j.find((r) => r.dst === '10.0.80.65')).toMatchObject({
      table: 'main',
      dev: 'eni1234567890',
      scope: 'link',
    });
    expect(j.find((r) => r.table === '2')?.gateway).toBe('10.0.0.1');
  });
});

describe('ip link and addr', () => {
  it('reads names, flags and addresses', () => {
    const links = parseIpLinkJson(fixture('ip-link.json')).items;
    expect(links.map((l) => l.ifname)).toContain('eni1234567890');
    const addrs = parseIpAddrJson(fixture('ip-addr.json')).items;
    expect(addrs.find((a) => a.ifname === 'lo')?.addrs.map((a) => a.local)).toContain('10.0.0.5');
  });
});

describe('hostile input', () => {
  it.each([
    ['rule json', () => parseIpRuleJson('{"not":"an array"}')],
    ['route json', () => parseIpRouteJson('garbage')],
    ['link json', () => parseIpLinkJson('[')],
  ])('%s: typed error', (_n, fn) => {
    try {
      fn();
      expect.unreachable();
    } catch (err) {
      expect(isNetwardenError(err, 'input-unreadable')).toBe(true);
    }
  });

  it('text parsers read every valid line whatever garbage surrounds it, one warning per garbage line (fuzz)', () => {
    // Garbage starts with a letter g-z: never a priority ("512:"), an address, `default` or a route type.
    const garbage = fc
      .stringMatching(/^[g-z][^\n]{0,40}$/)
      .filter((g) => !ROUTE_TYPES_FOR_TEST.has(g.split(/\s+/)[0] as string));
    const line = fc.oneof(
      fc.record({ good: fc.constant(true), n: fc.nat(32_000), t: fc.nat(300) }),
      fc.record({ good: fc.constant(false), text: garbage }),
    );
    fc.assert(
      fc.property(fc.array(line, { maxLength: 40 }), (lines) => {
        const rules = lines.map((l) => ('text' in l ? l.text : `${l.n}:\tfrom all lookup ${l.t}`));
        const routes = lines.map((l) =>
          'text' in l ? l.text : `10.${l.t % 256}.0.0/16 dev eth${l.n} table ${l.t}`,
        );
        const good = lines.filter((l): l is { good: true; n: number; t: number } => !('text' in l));
        const bad = Math.min(50, lines.length - good.length);
        const r = parseIpRules(`x\n${rules.join('\n')}`);
        expect(r.items.map((i) => [i.priority, i.table])).toEqual(good.map((g) => [g.n, String(g.t)]));
        expect(r.warnings).toHaveLength(Math.min(50, bad + 1));
        const t = parseIpRoutes(`x\n${routes.join('\n')}`);
        expect(t.items.map((i) => [i.dst, i.dev, i.table])).toEqual(
          good.map((g) => [`10.${g.t % 256}.0.0/16`, `eth${g.n}`, String(g.t)]),
        );
        expect(t.warnings).toHaveLength(Math.min(50, bad + 1));
      }),
      { numRuns: 300 },
    );
  });

  it('JSON parsers throw only typed errors on arbitrary JSON (fuzz)', () => {
    fc.assert(
      fc.property(fc.json(), (s) => {
        for (const fn of [parseIpRuleJson, parseIpRouteJson, parseIpLinkJson, parseIpAddrJson]) {
          try {
            fn(s);
          } catch (err) {
            expect(isNetwardenError(err, 'input-unreadable')).toBe(true);
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});
