import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isNetwardenError } from '../errors.ts';
import { parseClusterState, serializeClusterState, splitJsonDocuments } from './cluster-state.ts';
import { service, slice, smallCluster } from './testing.ts';

describe('parseClusterState', () => {
  const svc = service('a', 's', '10.96.0.5', [{ port: 80 }]);
  const sl = slice('a', 's', [{ port: 80 }], [{ ip: '10.0.0.1' }]);

  it.each([
    [
      'a List',
      JSON.stringify({ kind: 'List', items: [svc, sl, { kind: 'ConfigMap', metadata: { name: 'x' } }] }),
    ],
    [
      'concatenated documents',
      `${JSON.stringify({ kind: 'ServiceList', items: [svc] })}\n${JSON.stringify({ kind: 'EndpointSliceList', items: [sl] })}`,
    ],
    ['an array of lists', JSON.stringify([{ items: [svc] }, { items: [sl] }])],
    ['a plain object', JSON.stringify({ services: [svc], endpointSlices: [sl], pods: [] })],
  ])('reads %s', (_n, text) => {
    const r = parseClusterState(text);
    expect(r.state.services).toHaveLength(1);
    expect(r.state.endpointSlices).toHaveLength(1);
  });

  it('counts other kinds as warnings', () => {
    expect(
      parseClusterState(
        JSON.stringify({ kind: 'List', items: [svc, { kind: 'Secret', metadata: { name: 'x' } }] }),
      ).warnings,
    ).toEqual(['1 Secret object(s) ignored']);
  });

  it('keeps DaemonSets and ConfigMaps for the component reader', () => {
    const ds = { kind: 'DaemonSet', metadata: { namespace: 'kube-system', name: 'aws-node' } };
    const cm = { kind: 'ConfigMap', metadata: { namespace: 'kube-system', name: 'kube-proxy-config' } };
    const r = parseClusterState(JSON.stringify({ kind: 'List', items: [svc, ds, cm] }));
    expect(r.warnings).toEqual([]);
    expect(r.state.daemonSets).toEqual([ds]);
    expect(parseClusterState(serializeClusterState(r.state)).state.configMaps).toMatchObject([cm]);
  });

  it.each(['', 'hello', '{"kind":"List","items":[]} trailing', '[1,2,3]', '{"a":1}'])(
    '%j → input-unreadable',
    (text) => {
      try {
        parseClusterState(text);
        expect.unreachable();
      } catch (err) {
        expect(isNetwardenError(err, 'input-unreadable')).toBe(true);
      }
    },
  );

  it('throws only typed errors on arbitrary text (fuzz)', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 200 }), fc.json()), (text) => {
        try {
          parseClusterState(text);
        } catch (err) {
          expect(isNetwardenError(err, 'input-unreadable')).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('splits documents without being fooled by braces in strings', () => {
    expect(splitJsonDocuments('{"a":"}{"} {"b":[1]}')).toEqual(['{"a":"}{"}', '{"b":[1]}']);
  });
});

describe('serializeClusterState', () => {
  it('reads back as the same objects, even when they came without a kind', () => {
    const state = smallCluster('node-a');
    const strip = <T extends object>(objs: readonly T[]) =>
      objs.map(({ kind: _, ...o }: T & { kind?: unknown }) => o);
    const kindless = {
      services: strip(state.services),
      endpointSlices: strip(state.endpointSlices),
      pods: strip(state.pods),
    } as typeof state;
    const back = parseClusterState(serializeClusterState(kindless));
    expect(back.warnings).toEqual([]);
    expect(back.state.services.map((s) => s.metadata?.name)).toEqual(
      state.services.map((s) => s.metadata?.name),
    );
    expect(back.state.endpointSlices).toHaveLength(state.endpointSlices.length);
    expect(back.state.pods).toHaveLength(state.pods.length);
  });
});

describe('parseClusterState validates what the judgement reads', () => {
  it('skips objects whose read fields have the wrong shape, naming each, and keeps the rest', () => {
    const text = JSON.stringify({
      kind: 'List',
      items: [
        {
          kind: 'Service',
          metadata: { namespace: 'a', name: 'ok' },
          spec: { clusterIP: '10.96.0.5', ports: [{ port: 80 }] },
        },
        {
          kind: 'Service',
          metadata: { namespace: 'a', name: 'bad-port' },
          spec: { ports: [{ port: '80' }] },
        },
        {
          kind: 'EndpointSlice',
          metadata: { namespace: 'a', name: 's' },
          endpoints: [{ addresses: '10.0.0.1' }],
        },
        { kind: 'Pod', metadata: { namespace: 'a', name: 'p' }, spec: { nodeName: 7 } },
        {
          kind: 'Pod',
          metadata: { namespace: 'a', name: 'q' },
          spec: { nodeName: 'n1' },
          status: { podIP: '10.0.0.2' },
        },
      ],
    });
    const r = parseClusterState(text);
    expect(r.state.services.map((s) => s.metadata?.name)).toEqual(['ok']);
    expect(r.state.endpointSlices).toEqual([]);
    expect(r.state.pods.map((p) => p.metadata?.name)).toEqual(['q']);
    expect(r.warnings).toEqual([
      'Service a/bad-port skipped: spec.ports.0.port: Invalid input: expected number, received string',
      'EndpointSlice a/s skipped: endpoints.0.addresses: Invalid input: expected array, received string',
      'Pod a/p skipped: spec.nodeName: Invalid input: expected string, received number',
    ]);
  });
});
