import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isNetwardenError } from '../errors.ts';
import { kubeProxyNftState, parseNftJson } from './nft.ts';

const json = readFileSync(new URL('./fixtures/nft-kube-proxy.json', import.meta.url), 'utf8');

describe('nft -j list table ip kube-proxy (real nft 1.0.6 output)', () => {
  const rs = parseNftJson(json);
  const s = kubeProxyNftState(rs);

  it('reads maps with concatenated keys, comments and goto verdicts', () => {
    expect(s.tablePresent).toBe(true);
    expect(s.serviceIps.get('10.96.0.1 tcp 443')).toEqual({
      verdict: { kind: 'goto', target: 'service-2QRHZV4L-default/kubernetes/tcp/https' },
      comment: 'default/kubernetes:https',
    });
    expect(s.noEndpointServices.get('10.43.21.102 tcp 4317')?.verdict).toEqual({
      kind: 'goto',
      target: 'reject-chain',
    });
    expect([...s.clusterIps].sort()).toEqual(['10.43.21.102', '10.96.0.1']);
  });

  it('finds endpoint chains through numgen vmaps and dnat destinations', () => {
    const eps = s.serviceEndpoints.get('service-2QRHZV4L-default/kubernetes/tcp/https');
    expect(eps).toEqual(['endpoint-KJBNWEXB-default/kubernetes/tcp/https__172.18.0.2/6443']);
    expect(s.endpointDnat.get(eps?.[0] as string)).toBe('172.18.0.2:6443');
    expect(s.servicesHookedFrom).toEqual(['nat-prerouting']);
  });

  it('reports a missing table', () => {
    expect(
      kubeProxyNftState(parseNftJson('{"nftables":[{"metainfo":{"version":"1.0.6"}}]}')).tablePresent,
    ).toBe(false);
  });
});

const withoutWarnings = <T extends { warnings: unknown }>(s: T): Omit<T, 'warnings'> => {
  const { warnings: _w, ...rest } = s;
  return rest;
};

describe('hostile input', () => {
  it.each(['', 'nope', '[]', '{"nftables": 3}'])('%j → input-unreadable', (text) => {
    try {
      parseNftJson(text);
      expect.unreachable();
    } catch (err) {
      expect(isNetwardenError(err, 'input-unreadable')).toBe(true);
    }
  });

  it('arbitrary items inside the nftables array change nothing of what the real ones say (fuzz)', () => {
    const real = (JSON.parse(json) as { nftables: unknown[] }).nftables;
    const want = kubeProxyNftState(parseNftJson(json));
    fc.assert(
      fc.property(fc.array(fc.jsonValue(), { maxLength: 10 }), fc.nat(real.length), (junk, at) => {
        const items = [...real.slice(0, at), ...junk, ...real.slice(at)];
        const { warnings, ...got } = kubeProxyNftState(parseNftJson(JSON.stringify({ nftables: items })));
        expect(got).toEqual(withoutWarnings(want));
        // Each item that is not an object is a warning; junk alone programs nothing.
        const notObjects = junk.filter((j) => j === null || typeof j !== 'object' || Array.isArray(j)).length;
        expect(warnings).toHaveLength(notObjects);
        const alone = kubeProxyNftState(parseNftJson(JSON.stringify({ nftables: junk })));
        expect([alone.tablePresent, alone.serviceIps.size, alone.clusterIps.size]).toEqual([false, 0, 0]);
      }),
      { numRuns: 300 },
    );
  });

  it('survives deeply nested expressions', () => {
    const depth = 5000;
    const expr = `${'{"a":['.repeat(depth)}{"goto":{"target":"x"}}${']}'.repeat(depth)}`;
    const rs = parseNftJson(
      `{"nftables":[{"rule":{"family":"ip","table":"kube-proxy","chain":"c","expr":[${expr}]}}]}`,
    );
    expect(rs.rules[0]?.targets).toEqual([]);
  });
});
