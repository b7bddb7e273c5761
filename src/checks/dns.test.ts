import { describe, expect, it } from 'vitest';
import { service } from '../netfilter/testing.ts';
import { clusterDnsCheck } from './dns.ts';
import { fakeContext } from './testing.ts';

const cluster = {
  services: [service('kube-system', 'kube-dns', '10.96.0.10', [{ name: 'dns', port: 53, protocol: 'UDP' }])],
  endpointSlices: [],
  pods: [],
};

describe('cluster-dns check (advisory)', () => {
  it('asks the kube-dns Service IP for kubernetes.default; answers Ok, a failure is Failing but never gates', async () => {
    const asked: string[] = [];
    const ok = clusterDnsCheck(async (server, name) => {
      asked.push(`${server} ${name}`);
      return '10.96.0.1';
    });
    expect(ok.gating).toBe(false);
    expect(await ok.run(fakeContext({ cluster }))).toMatchObject({
      status: 'Ok',
      reason: 'ClusterDnsAnswers',
    });
    expect(asked).toEqual(['10.96.0.10 kubernetes.default.svc.cluster.local']);
    const bad = clusterDnsCheck(async () => {
      throw new Error('no answer within 3000 ms');
    });
    expect(await bad.run(fakeContext({ cluster }))).toMatchObject({
      status: 'Failing',
      reason: 'ClusterDnsNotAnswering',
      message: expect.stringContaining('no answer within 3000 ms'),
    });
    expect(await ok.run(fakeContext({}))).toMatchObject({ status: 'Unknown', reason: 'ClusterDnsUnknown' });
  });
});
