/**
 * The field-case fixtures (src/sources/fixtures/field-cases/<code>/) are verbatim excerpts of public
 * threads. These tests keep their provenance checkable — every file names its source URL, every
 * folder's README lists every file with that URL — and read the versions they quote with the same
 * parsers the field-case rules use (docs/field-cases.md).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseImageRef } from '../core/components.ts';
import { formatVersion, parseIptablesVersion } from '../core/versions.ts';

const ROOT = join(import.meta.dirname, 'fixtures', 'field-cases');
const read = (...parts: string[]): string => readFileSync(join(ROOT, ...parts), 'utf8');
const cases = readdirSync(ROOT, { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name)
  .sort();

describe('field-case fixtures: provenance', () => {
  it('has a folder per documented case code', () => {
    const doc = readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'field-cases.md'), 'utf8');
    expect(cases.length).toBeGreaterThanOrEqual(10);
    for (const code of cases) expect(doc, `docs/field-cases.md names ${code}`).toContain(`\`${code}\``);
  });

  it.each(cases)('%s: every file names its source, and the README lists it with that source', (code) => {
    const files = readdirSync(join(ROOT, code)).filter((f) => f !== 'README.md');
    const readme = read(code, 'README.md');
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) {
      const first = read(code, file).split('\n')[0] ?? '';
      const url = /^# source: (https:\/\/github\.com\/\S+)$/.exec(first)?.[1];
      expect(url, `${code}/${file} starts with "# source: <url>"`).toBeDefined();
      const row = readme.split('\n').find((l) => l.includes(`\`${file}\``));
      expect(row, `README lists ${file}`).toBeDefined();
      expect(row).toContain(url);
    }
  });
});

describe('field-case fixtures: the versions they quote', () => {
  const firstVersion = (code: string, file: string): string | undefined => {
    for (const line of read(code, file).split('\n')) {
      if (line.startsWith('#')) continue;
      const v = parseIptablesVersion(line);
      if (v) return `${formatVersion(v.version)} ${v.backend ?? '?'}`;
    }
    return undefined;
  };

  it.each([
    // The VPC CNI image's iptables-legacy on an nf_tables-only host (amazon-vpc-cni-k8s#1847).
    ['vpc-cni-rules-in-legacy-backend', 'ipamd-log-legacy-on-nft-host-1847.jsonl', '1.8.4 legacy'],
    // The aws-node image's iptables-nft 1.8.4 on RHEL 10 (test-infra#36372), portmap's 1.8.8 at boot (eks-ami#2605).
    ['iptables-match-unavailable', 'ipamd-log-comment-match-36372.jsonl', '1.8.4 nft'],
    ['iptables-match-unavailable', 'kubelet-event-portmap-comment-2605.txt', '1.8.8 nft'],
  ])('%s/%s names iptables %s', (code, file, want) => {
    expect(firstVersion(code, file)).toBe(want);
  });

  it('reads the calico/node image of calico#7741 from its kubelet event', () => {
    const text = read('calico-iptables-backend-autodetect', 'calico-node-readiness-7741.txt');
    const image = /image "([^"]+)"/.exec(text)?.[1] ?? '';
    const ref = parseImageRef(image);
    expect(ref.repository).toBe('****.dkr.ecr.ap-southeast-2.amazonaws.com/calico/node');
    expect(ref.version && formatVersion(ref.version)).toBe('3.24.1');
  });

  it('reads the UDP conntrack entry of kubernetes#126468 as a ClusterIP flow that was never DNATed', () => {
    const line =
      read('kube-proxy-first-sync-race', 'conntrack-unreplied-126468.txt')
        .split('\n')
        .find((l) => l.startsWith('udp')) ?? '';
    const [orig, reply] = [...line.matchAll(/src=(\S+) dst=(\S+)/g)].map((m) => ({ src: m[1], dst: m[2] }));
    expect(line).toContain('[UNREPLIED]');
    // The reply comes from the address the client dialled: no endpoint was substituted.
    expect(reply?.src).toBe(orig?.dst);
  });
});
