import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cniConfigFindings } from '../assess/cni.ts';
import { parseCniConfig, readCniConfigDir } from './cni-config.ts';

const AWS = JSON.stringify({
  cniVersion: '0.4.0',
  name: 'aws-cni',
  disableCheck: true,
  plugins: [
    { name: 'aws-cni', type: 'aws-cni', vethPrefix: 'eni', mtu: '9001' },
    { type: 'portmap', capabilities: { portMappings: true }, snat: true },
  ],
});
const CALICO = JSON.stringify({
  name: 'k8s-pod-network',
  cniVersion: '0.3.1',
  plugins: [{ type: 'calico' }, { type: 'portmap' }],
});

const codes = (files: { name: string; content: string }[], intent = {}) =>
  cniConfigFindings(readCniConfigDir(files), intent).map((f) => `${f.code}/${f.severity}`);

describe('CNI config directory', () => {
  it('accepts a single valid 10-aws.conflist and ignores non-config files', () => {
    expect(
      codes([
        { name: '10-aws.conflist', content: AWS },
        { name: 'aws-cni-support.sh', content: '#!/bin/sh' },
      ]),
    ).toEqual([]);
    expect(parseCniConfig({ name: '10-aws.conflist', content: AWS })).toMatchObject({
      valid: true,
      types: ['aws-cni', 'portmap'],
      vethPrefix: 'eni',
    });
  });

  it.each([
    ['empty directory', [], ['cni-config-missing/critical']],
    ['only non-configs', [{ name: 'README', content: 'x' }], ['cni-config-missing/critical']],
    [
      'invalid JSON',
      [{ name: '10-aws.conflist', content: '{"cniVersion":' }],
      ['cni-config-invalid/critical', 'cni-config-missing/critical'],
    ],
    [
      'unrendered template',
      [{ name: '10-aws.conflist', content: AWS.replace('"eni"', '"__VETHPREFIX__"') }],
      ['cni-config-invalid/critical', 'cni-config-missing/critical'],
    ],
    [
      'Calico config sorting first',
      [
        { name: '10-aws.conflist', content: AWS },
        { name: '05-calico.conflist', content: CALICO },
      ],
      ['cni-config-conflict/critical'],
    ],
    [
      'Calico config sorting after',
      [
        { name: '10-aws.conflist', content: AWS },
        { name: '10-calico.conflist', content: CALICO },
      ],
      ['cni-config-conflict/warning'],
    ],
    [
      'broken file after the good one',
      [
        { name: '10-aws.conflist', content: AWS },
        { name: '99-x.conf', content: 'nope' },
      ],
      ['cni-config-invalid/warning'],
    ],
  ])('%s', (_n, files, want) => {
    expect(codes(files)).toEqual(want);
  });

  it('another CNI selected while only kernel rules say VPC CNI: a warning (leftovers), never critical', () => {
    const calicoOnly = [{ name: '10-calico.conflist', content: CALICO }];
    expect(codes(calicoOnly, { vpcCni: true, vpcCniFromRulesOnly: true })).toEqual([
      'cni-config-conflict/warning',
    ]);
    // With a signal besides the rules (ipamd, aws-node, its config) the conflict stays critical.
    expect(codes(calicoOnly, { vpcCni: true, vpcCniFromRulesOnly: false })).toEqual([
      'cni-config-conflict/critical',
    ]);
  });

  it('reports VPC CNI network policy alongside Calico', () => {
    expect(
      codes([{ name: '10-aws.conflist', content: AWS }], { vpcCniNetworkPolicy: true, calicoPresent: true }),
    ).toEqual(['cni-config-conflict/warning']);
  });

  it('never throws on arbitrary files (fuzz)', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            name: fc.string({ maxLength: 12 }).map((s) => `${s}.conf`),
            content: fc.oneof(fc.string(), fc.json()),
          }),
          { maxLength: 5 },
        ),
        (files) => {
          cniConfigFindings(readCniConfigDir(files));
        },
      ),
      { numRuns: 300 },
    );
  });
});
