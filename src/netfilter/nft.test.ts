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

describe('hostile input', () => {
  it.each(['', 'nope', '[]', '{"nftables": 3}'])('%j → input-unreadable', (text) => {
    try {
      parseNftJson(text);
      expect.unreachable();
    } catch (err) {
      expect(isNetwardenError(err, 'input-unreadable')).toBe(true);
    }
  });

  it('never crashes on arbitrary items inside the nftables array (fuzz)', () => {
    fc.assert(
      fc.property(fc.array(fc.jsonValue(), { maxLength: 10 }), (items) => {
        const s = kubeProxyNftState(parseNftJson(JSON.stringify({ nftables: items })));
        expect(s.serviceIps.size).toBeGreaterThanOrEqual(0);
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
