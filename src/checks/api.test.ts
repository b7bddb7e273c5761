import { describe, expect, it } from 'vitest';
import { service, slice } from '../netfilter/testing.ts';
import { apiDirectCheck, apiViaServiceCheck } from './api.ts';
import type { CheckContext } from './check.ts';
import { fakeContext } from './testing.ts';

const cluster = {
  services: [service('default', 'kubernetes', '10.96.0.1', [{ name: 'https', port: 443 }])],
  endpointSlices: [
    slice(
      'default',
      'kubernetes',
      [{ name: 'https', port: 6443 }],
      [{ ip: '10.251.0.1' }, { ip: '10.251.0.2' }],
    ),
  ],
  pods: [],
};
const withTcp = (answers: Record<string, string | undefined>): CheckContext => ({
  ...fakeContext({ cluster }),
  tcp: async (host, port) => {
    const err = answers[`${host}:${port}`];
    return err === undefined ? { ok: true, ms: 2 } : { ok: false, error: err, ms: 1 };
  },
});

describe('api checks', () => {
  it('via the Service: Ok when the ClusterIP connects, Failing with the error when not, Unknown without the Service', async () => {
    expect(await apiViaServiceCheck.run(withTcp({}))).toMatchObject({
      status: 'Ok',
      reason: 'ApiReachableViaService',
    });
    expect(await apiViaServiceCheck.run(withTcp({ '10.96.0.1:443': 'ETIMEDOUT' }))).toMatchObject({
      status: 'Failing',
      reason: 'ApiUnreachableViaService',
      message: 'kubernetes Service 10.96.0.1:443: ETIMEDOUT',
    });
    const empty = { ...withTcp({}), cluster: () => ({ services: [], endpointSlices: [], pods: [] }) };
    expect(await apiViaServiceCheck.run(empty)).toMatchObject({
      status: 'Unknown',
      reason: 'KubernetesServiceUnknown',
    });
  });

  it('direct: any endpoint answering is enough; all failing is Failing naming each', async () => {
    expect(await apiDirectCheck.run(withTcp({ '10.251.0.1:6443': 'ECONNREFUSED' }))).toMatchObject({
      status: 'Ok',
    });
    const r = await apiDirectCheck.run(
      withTcp({ '10.251.0.1:6443': 'ECONNREFUSED', '10.251.0.2:6443': 'EHOSTUNREACH' }),
    );
    expect(r).toMatchObject({ status: 'Failing', reason: 'ApiUnreachableDirect' });
    expect(r.message).toContain('10.251.0.1:6443: ECONNREFUSED; 10.251.0.2:6443: EHOSTUNREACH');
  });
});
