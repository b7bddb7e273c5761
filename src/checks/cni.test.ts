import { describe, expect, it } from 'vitest';
import type { Node } from '../core/objects.ts';
import { cniCheck } from './cni.ts';
import { fakeContext } from './testing.ts';

const DIR = '/etc/cni/net.d';
const AWS = JSON.stringify({
  cniVersion: '0.4.0',
  name: 'aws-cni',
  plugins: [{ name: 'aws-cni', type: 'aws-cni', vethPrefix: 'eni' }, { type: 'portmap' }],
});
const CALICO = JSON.stringify({
  name: 'k8s-pod-network',
  cniVersion: '0.3.1',
  plugins: [{ type: 'calico' }],
});
const PTP = JSON.stringify({ name: 'lab', cniVersion: '1.0.0', plugins: [{ type: 'ptp' }] });
const opts = { confDir: DIR, ipamdUrl: 'http://127.0.0.1:61679', healthUrl: '', iptablesSave: 'auto' };
const ready = (status: 'True' | 'False'): Node => ({
  metadata: { name: 'node-a' },
  status: { conditions: [{ type: 'Ready', status }] },
});
const ENIS = { status: 200, body: JSON.stringify({ ENIs: {} }) };

describe('cni check', () => {
  it.each([
    [
      'VPC CNI config + ipamd answering',
      { [DIR]: [{ name: '10-aws.conflist', text: AWS }] },
      { 'http://127.0.0.1:61679/v1/enis': ENIS },
      undefined,
      'Ok',
      'CniConfigValid',
    ],
    [
      'VPC CNI config, ipamd refusing',
      { [DIR]: [{ name: '10-aws.conflist', text: AWS }] },
      {},
      undefined,
      'Failing',
      'IpamdUnreachable',
    ],
    [
      'VPC CNI config, ipamd timing out',
      { [DIR]: [{ name: '10-aws.conflist', text: AWS }] },
      { 'http://127.0.0.1:61679/v1/enis': { error: 'timed out after 3000 ms' } },
      undefined,
      'Unknown',
      'IpamdUnanswered',
    ],
    // the doctor calls this critical: so must the agent (Calico's config sorts first and takes over)
    [
      'Calico config sorting before the VPC CNI',
      {
        [DIR]: [
          { name: '10-aws.conflist', text: AWS },
          { name: '05-calico.conflist', text: CALICO },
        ],
      },
      { 'http://127.0.0.1:61679/v1/enis': ENIS },
      undefined,
      'Failing',
      'CniConfigConflict',
    ],
    ['no folder, kubelet not ready', {}, {}, ready('False'), 'Failing', 'CniConfigMissing'],
    [
      'no folder, kubelet Ready (the runtime found a config elsewhere)',
      {},
      {},
      ready('True'),
      'Unknown',
      'CniConfigNotFound',
    ],
    ['folder unreadable', { [DIR]: 'EACCES' }, {}, undefined, 'Unknown', 'CniConfigUnreadable'],
    [
      'another CNI: ipamd not asked',
      { [DIR]: [{ name: '10-lab.conflist', text: PTP }] },
      {},
      undefined,
      'Ok',
      'CniConfigValid',
    ],
  ] as const)('%s', async (_name, dirs, http, node, status, reason) => {
    const r = await cniCheck(opts).run(fakeContext({ dirs, http, ...(node ? { node } : {}) }));
    expect(r).toMatchObject({ status, reason });
  });

  it('a configured CNI daemon readiness URL decides once the config is fine', async () => {
    const dirs = { [DIR]: [{ name: '10-lab.conflist', text: PTP }] };
    const url = 'http://127.0.0.1:9099/readiness';
    const check = cniCheck({ ...opts, healthUrl: url });
    expect(
      await check.run(fakeContext({ dirs, http: { [url]: { status: 503, body: 'not ready\n' } } })),
    ).toMatchObject({
      status: 'Failing',
      reason: 'CniDaemonNotReady',
      message: `CNI daemon ${url}: HTTP 503: not ready`,
    });
    expect(
      await check.run(fakeContext({ dirs, http: { [url]: { status: 200, body: 'ok' } } })),
    ).toMatchObject({ status: 'Ok' });
    expect(
      await check.run(fakeContext({ dirs, http: { [url]: { error: 'socket hang up' } } })),
    ).toMatchObject({
      status: 'Unknown',
    });
  });

  it('checks the VPC CNI SNAT rules when ipamd says SNAT is the node’s job', async () => {
    const dirs = { [DIR]: [{ name: '10-aws.conflist', text: AWS }] };
    const http = {
      'http://127.0.0.1:61679/v1/enis': ENIS,
      'http://127.0.0.1:61679/v1/ipamd-env-settings': {
        status: 200,
        body: JSON.stringify({ AWS_VPC_K8S_CNI_EXTERNALSNAT: 'false' }),
      },
    };
    // the SNAT chain listing comes back empty: the rules are missing
    const listing =
      '#netwarden-chain nat POSTROUTING\n-P POSTROUTING ACCEPT\n#netwarden-exit 0\n#netwarden-chain nat AWS-SNAT-CHAIN-0\n#netwarden-exit 1\n';
    const r = await cniCheck(opts).run(fakeContext({ dirs, http, exec: { sh: { stdout: listing } } }));
    expect(r).toMatchObject({ status: 'Failing', reason: 'AwsSnatRulesMissing' });
  });
  it("the VPC CNI's rules as the only sign of it, beside another CNI's config: a warning with its code, never Failing", async () => {
    const dirs = { [DIR]: [{ name: '10-lab.conflist', text: PTP }] };
    const listing = [
      '#netwarden-chain filter FORWARD',
      '-P FORWARD ACCEPT',
      '#netwarden-exit 0',
      '#netwarden-chain nat PREROUTING',
      '-P PREROUTING ACCEPT',
      '-A PREROUTING -i eni+ -m comment --comment "AWS, outbound connections" -j AWS-CONNMARK-CHAIN-0',
      '#netwarden-exit 0',
      '#netwarden-chain nat AWS-CONNMARK-CHAIN-0',
      '-N AWS-CONNMARK-CHAIN-0',
      '-A AWS-CONNMARK-CHAIN-0 -d 10.0.0.0/16 -m comment --comment "AWS CONNMARK CHAIN, VPC CIDR" -j RETURN',
      '#netwarden-exit 0',
      '',
    ].join('\n');
    const r = await cniCheck(opts).run(
      fakeContext({ dirs, exec: { sh: { stdout: listing }, cat: { stdout: 'nat\n' } } }),
    );
    expect(r.status).toBe('Ok');
    expect(r.findings).toContainEqual({ code: 'cni-config-conflict', severity: 'warning' });
    expect(r.findings?.filter((f) => f.severity === 'critical')).toEqual([]);
  });
});
