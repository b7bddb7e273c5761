import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { vpcCniLogFindings } from '../assess/logs.ts';
import { groupErrors, isIpamdUnreachable, messageTemplate, parseVpcCniLog } from './vpc-cni-logs.ts';

const fixture = (n: string): string =>
  readFileSync(new URL(`./fixtures/${n}`, import.meta.url), 'utf8')
    .split('\n')
    .filter((l) => !l.startsWith('# '))
    .join('\n');

describe('parseVpcCniLog', () => {
  it('reads JSON lines and counts the rest (real ipamd.log at boot, third line cut)', () => {
    const log = parseVpcCniLog(fixture('ipamd-log-startup-node-boot.jsonl'));
    expect(log.entries.map((e) => e.msg)).toEqual([
      'Starting L-IPAMD v1.6.2  ...',
      'Testing communication with server',
    ]);
    expect(log.entries[0]?.timeMs).toBe(Date.UTC(2020, 5, 23, 9, 15, 15, 675));
    // "*** START ***", the cut JSON line, and the three entrypoint lines
    expect(log.otherLines).toBe(5);
  });

  it('reads the legacy seelog format and mixed files', () => {
    const log = parseVpcCniLog(
      '2018-05-12T00:59:59Z [INFO] DataStore has no available IP addresses\n{"level":"error","ts":"2021-01-01T00:00:00Z","msg":"x"}\n',
    );
    expect(log.entries.map((e) => [e.format, e.level, e.msg])).toEqual([
      ['seelog', 'info', 'DataStore has no available IP addresses'],
      ['json', 'error', 'x'],
    ]);
  });

  it('never throws (fuzz)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 500 }), (t) => void parseVpcCniLog(t)),
      { numRuns: 300 },
    );
  });
});

describe('templates and groups', () => {
  it('replaces ids, IPs, numbers and pod arguments', () => {
    expect(
      messageTemplate(
        'Error received from DelNetwork gRPC call for container b85a01e25479f7c87024a621ed5d05c56780c37886fe47e841f58e6a7b0da527: dial tcp 127.0.0.1:50051: connect: connection refused',
      ),
    ).toBe(
      'Error received from DelNetwork gRPC call for container <id>: dial tcp <ip>: connect: connection refused',
    );
    expect(messageTemplate('Args(K8S_POD_NAMESPACE=prod;K8S_POD_NAME=redis-0) eni-0abc12 took 31ms')).toBe(
      'Args(K8S_POD_NAMESPACE=<…>;K8S_POD_NAME=<…>) <eni> took <n>',
    );
  });

  it('groups errors by template with count, first and last time', () => {
    const log = parseVpcCniLog(
      [
        '{"level":"error","ts":"2024-01-01T00:00:01Z","msg":"Failed to call ec2:AssignPrivateIpAddresses eni-1: throttled"}',
        '{"level":"info","ts":"2024-01-01T00:00:02Z","msg":"ok"}',
        '{"level":"error","ts":"2024-01-01T00:00:03Z","msg":"Failed to call ec2:AssignPrivateIpAddresses eni-2: throttled"}',
        '{"level":"error","ts":"2024-01-01T00:00:04Z","msg":"other"}',
      ].join('\n'),
    );
    expect(groupErrors(log.entries).map((g) => [g.count, g.first, g.last, g.template])).toEqual([
      [
        2,
        '2024-01-01T00:00:01Z',
        '2024-01-01T00:00:03Z',
        'Failed to call ec2:AssignPrivateIpAddresses <eni>: throttled',
      ],
      [1, '2024-01-01T00:00:04Z', '2024-01-01T00:00:04Z', 'other'],
    ]);
  });
});

describe('findings', () => {
  it('reports ipamd-unreachable from the real plugin.log sample', () => {
    const plugin = parseVpcCniLog(fixture('plugin-log-ipamd-unreachable.jsonl'));
    const f = vpcCniLogFindings({ plugin });
    expect(f.map((x) => x.code)).toEqual(['ipamd-unreachable']);
    expect(f[0]?.evidence.join('\n')).toContain('127.0.0.1:50051');
  });

  it('is quiet for a healthy log', () => {
    const ipamd = parseVpcCniLog(
      '{"level":"info","ts":"2024-01-01T00:00:01Z","msg":"Serving RPC Handler on 127.0.0.1:50051"}',
    );
    expect(vpcCniLogFindings({ ipamd, plugin: ipamd })).toEqual([]);
    expect(isIpamdUnreachable('Serving RPC Handler on 127.0.0.1:50051')).toBe(false);
  });
});
