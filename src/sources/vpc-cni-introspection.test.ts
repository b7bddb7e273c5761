import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isNetwardenError } from '../errors.ts';
import {
  parseEnvSettings,
  parseIpamCheckpoint,
  parseIpamdEnis,
  parseIpamdPods,
  withDeviceNumbers,
} from './vpc-cni-introspection.ts';

const ENIS = JSON.stringify({
  TotalIPs: 10,
  AssignedIPs: 2,
  ENIs: {
    'eni-1': {
      ID: 'eni-1',
      IsPrimary: true,
      DeviceNumber: 0,
      AvailableIPv4Cidrs: {
        '10.0.0.5/32': {
          IPAddresses: {
            '10.0.0.5': {
              Address: '10.0.0.5',
              IPAMKey: { containerID: 'abc' },
              IPAMMetadata: { k8sPodNamespace: 'a', k8sPodName: 'p1' },
            },
          },
        },
        '10.0.0.6/32': { IPAddresses: { '10.0.0.6': { Address: '10.0.0.6', IPAMKey: { containerID: '' } } } },
      },
    },
    'eni-2': {
      ID: 'eni-2',
      DeviceNumber: 1,
      IPv4Addresses: { '10.0.1.7': { Address: '10.0.1.7', Assigned: true }, '10.0.1.8': { Assigned: false } },
    },
  },
});

describe('ipamd introspection', () => {
  it('reads ENIs in the prefix-era and legacy layouts, only assigned addresses', () => {
    const enis = parseIpamdEnis(ENIS);
    expect(enis.map((e) => [e.id, e.deviceNumber, e.primary, e.assigned.map((a) => a.ip)])).toEqual([
      ['eni-1', 0, true, ['10.0.0.5']],
      ['eni-2', 1, false, ['10.0.1.7']],
    ]);
  });

  it('reads /v1/pods keys and the checkpoint, and joins device numbers', () => {
    const pods = parseIpamdPods(
      JSON.stringify({
        p2_b_0123abcd: { IP: '10.0.1.7', DeviceNumber: 1 },
        'old/p3': { IPv4Addr: '10.0.0.9' },
      }),
    );
    expect(pods).toEqual([
      { namespace: 'b', name: 'p2', ip: '10.0.1.7', deviceNumber: 1 },
      { namespace: 'old', name: 'p3', ip: '10.0.0.9' },
    ]);
    const ckpt = parseIpamCheckpoint(
      '{"version":"vpc-cni-ipam/1","allocations":[{"containerID":"x","ipv4":"10.0.1.7","metadata":{"k8sPodNamespace":"b","k8sPodName":"p2"}}]}',
    );
    const joined = withDeviceNumbers(ckpt, parseIpamdEnis(ENIS));
    expect(joined).toEqual([
      { namespace: 'b', name: 'p2', ip: '10.0.1.7', deviceNumber: 1 },
      { namespace: 'a', name: 'p1', ip: '10.0.0.5', deviceNumber: 0 },
    ]);
    expect(parseEnvSettings('{"AWS_VPC_K8S_CNI_EXTERNALSNAT":"false","N":3}')).toEqual({
      AWS_VPC_K8S_CNI_EXTERNALSNAT: 'false',
      N: '3',
    });
  });

  it('throws only typed errors on arbitrary JSON (fuzz)', () => {
    fc.assert(
      fc.property(fc.oneof(fc.json(), fc.string()), (t) => {
        for (const fn of [parseIpamdEnis, parseIpamdPods, parseIpamCheckpoint, parseEnvSettings]) {
          try {
            fn(t);
          } catch (err) {
            expect(isNetwardenError(err, 'input-unreadable')).toBe(true);
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});
