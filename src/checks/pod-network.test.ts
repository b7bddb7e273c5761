import { describe, expect, it } from 'vitest';
import type { Pod } from '../core/objects.ts';
import { podNetworkCheck } from './pod-network.ts';
import { fakeContext } from './testing.ts';

const DIR = '/etc/cni/net.d';
const PTP = JSON.stringify({
  name: 'lab-vpc',
  cniVersion: '1.0.0',
  plugins: [{ type: 'ptp' }, { type: 'lab-vpc-rules' }],
});
const IPAMD = 'http://127.0.0.1:61678';
const pod = (name: string, ip: string): Pod => ({
  metadata: { namespace: 'default', name, uid: `uid-${name}` },
  spec: { nodeName: 'node-a', containers: [] },
  status: { phase: 'Running', podIP: ip },
});
/** ipamd's /v1/enis: both pods on the secondary ENI (device 1: they need a 1536 rule to table 2). */
const enis = JSON.stringify({
  ENIs: {
    'eni-2': {
      ID: 'eni-2',
      IsPrimary: false,
      DeviceNumber: 1,
      AvailableIPv4Cidrs: {
        'x/28': {
          IPAddresses: {
            '10.244.1.5': {
              IPAMKey: { containerID: 'c5' },
              IPAMMetadata: { k8sPodNamespace: 'default', k8sPodName: 'ok' },
            },
            '10.244.1.6': {
              IPAMKey: { containerID: 'c6' },
              IPAMMetadata: { k8sPodNamespace: 'default', k8sPodName: 'early' },
            },
          },
        },
      },
    },
  },
});
// `ip -j` output as iproute2 prints it: the early pod lost its 1536 rule (sandboxed before the CNI was ready).
const rules = JSON.stringify([
  { priority: 0, src: 'all', table: 'local' },
  { priority: 512, src: 'all', dst: '10.244.1.5', table: 'main' },
  { priority: 512, src: 'all', dst: '10.244.1.6', table: 'main' },
  { priority: 1536, src: '10.244.1.5', table: '2' },
  { priority: 32766, src: 'all', table: 'main' },
]);
const routes = JSON.stringify([
  { dst: '10.244.1.5', dev: 'veth1a2b3c4d', protocol: 'kernel', scope: 'host', flags: [] },
  { dst: '10.244.1.6', dev: 'veth5e6f7a8b', protocol: 'kernel', scope: 'host', flags: [] },
]);
const links = JSON.stringify([{ ifindex: 1, ifname: 'lo' }]);
const node = {
  dirs: { [DIR]: [{ name: '10-lab.conflist', text: PTP }] },
  http: { [`${IPAMD}/v1/enis`]: { status: 200, body: enis } },
  exec: {
    'ip -j -4 rule show': { stdout: rules },
    'ip -j -4 route show table all': { stdout: routes },
    'ip -j link show': { stdout: links },
  },
  cluster: { services: [], endpointSlices: [], pods: [pod('ok', '10.244.1.5'), pod('early', '10.244.1.6')] },
};

describe('pod-network check', () => {
  it('finds the pod without its from-pod rule and hands it to repair; veth names of a non-VPC CNI are not judged', async () => {
    const check = podNetworkCheck({ confDir: DIR, ipamdUrl: IPAMD, iptablesSave: 'auto' });
    expect(check.gating).toBe(false);
    const r = await check.run(fakeContext(node));
    expect(r).toMatchObject({ status: 'Failing', reason: 'PodNetworkStateMissing' });
    expect([...check.problems().keys()]).toEqual(['default/early']);
    expect(check.problems().get('default/early')?.[0]).toContain('1536: from 10.244.1.6 lookup 2');
  });

  it('is Ok when every pod has its state, and Unknown when `ip` cannot be read', async () => {
    const check = podNetworkCheck({ confDir: DIR, ipamdUrl: IPAMD, iptablesSave: 'auto' });
    const healed = JSON.stringify([...JSON.parse(rules), { priority: 1536, src: '10.244.1.6', table: '2' }]);
    const ok = await check.run(
      fakeContext({ ...node, exec: { ...node.exec, 'ip -j -4 rule show': { stdout: healed } } }),
    );
    expect(ok).toMatchObject({ status: 'Ok', reason: 'PodNetworksComplete' });
    expect(check.problems().size).toBe(0);
    const blind = await check.run(
      fakeContext({ ...node, exec: { ...node.exec, 'ip -j -4 rule show': { timedOut: true, code: null } } }),
    );
    expect(blind).toMatchObject({ status: 'Unknown', reason: 'PodNetworkUnread' });
  });

  it('without ipamd device numbers the from-pod rule is not required (a missing route still is)', async () => {
    const check = podNetworkCheck({ confDir: DIR, ipamdUrl: '', iptablesSave: 'auto' });
    expect((await check.run(fakeContext(node))).status).toBe('Ok');
    const noRoute = JSON.stringify(JSON.parse(routes).slice(0, 1));
    const r = await check.run(
      fakeContext({ ...node, exec: { ...node.exec, 'ip -j -4 route show table all': { stdout: noRoute } } }),
    );
    expect(r).toMatchObject({ status: 'Failing', reason: 'PodNetworkStateMissing' });
    expect([...check.problems().keys()]).toEqual(['default/early']);
  });
});
