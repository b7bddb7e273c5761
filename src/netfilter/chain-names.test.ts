import { describe, expect, it } from 'vitest';
import {
  base32,
  iptablesEndpointChain,
  iptablesPortProtoHash,
  iptablesServiceChain,
  nftEndpointChain,
  nftHashAndTruncate,
  nftServiceChain,
  servicePortName,
  vpcCniVethName,
} from './chain-names.ts';

describe('base32 (RFC 4648 test vectors)', () => {
  it.each([
    ['', ''],
    ['f', 'MY======'],
    ['fo', 'MZXQ===='],
    ['foo', 'MZXW6==='],
    ['foob', 'MZXW6YQ='],
    ['fooba', 'MZXW6YTB'],
    ['foobar', 'MZXW6YTBOI======'],
  ])('%j → %s', (input, want) => {
    expect(base32(new TextEncoder().encode(input))).toBe(want);
  });
});

describe('kube-proxy iptables chain hashes (verified against real dumps)', () => {
  it.each([
    ['default/kubernetes:https', 'tcp', 'NPX46M4PTMTKRN6Y'],
    ['kube-system/kube-dns:dns', 'udp', 'TCOU7JCQXEZGVUNU'],
    ['kube-system/kube-dns:dns-tcp', 'tcp', 'ERIFXISQEP7F7OF4'],
    ['kube-system/kube-dns:metrics', 'tcp', 'JD5MR3NA4I4DYORP'],
  ])('%s %s → %s', (spn, proto, want) => {
    expect(iptablesPortProtoHash(spn, proto)).toBe(want);
    expect(iptablesServiceChain(spn, proto)).toBe(`KUBE-SVC-${want}`);
  });

  it('depends on the lower-case protocol', () => {
    expect(iptablesPortProtoHash('default/kubernetes:https', 'TCP')).not.toBe('NPX46M4PTMTKRN6Y');
  });

  it('gives distinct endpoint chains per endpoint, 16 base32 characters', () => {
    const a = iptablesEndpointChain('ns/s:p', 'tcp', '10.0.0.1:80');
    const b = iptablesEndpointChain('ns/s:p', 'tcp', '10.0.0.2:80');
    expect(a).toMatch(/^KUBE-SEP-[A-Z2-7]{16}$/);
    expect(a).not.toBe(b);
  });

  it('names service ports as kube-proxy prints them', () => {
    expect(servicePortName('ns', 'svc', 'http')).toBe('ns/svc:http');
    expect(servicePortName('ns', 'svc', undefined)).toBe('ns/svc');
    expect(servicePortName('ns', 'svc', '')).toBe('ns/svc');
  });
});

describe('kube-proxy nftables chain names (verified against real dumps)', () => {
  it.each([
    ['default/kubernetes/tcp/https', '2QRHZV4L'],
    ['kube-system/kube-dns/udp/dns', 'FY5PMXPG'],
    ['riset/hellopod-np-svc/tcp/__10.42.4.201/8080', 'VGSZZXMZ'],
  ])('%s → %s', (name, hash) => {
    expect(nftHashAndTruncate(name)).toBe(`${hash}-${name}`);
  });

  it('builds service and endpoint chain names', () => {
    expect(nftServiceChain('default', 'kubernetes', 'tcp', 'https')).toBe(
      'service-2QRHZV4L-default/kubernetes/tcp/https',
    );
    expect(nftEndpointChain('riset', 'hellopod-np-svc', 'tcp', '', '10.42.4.201', 8080)).toBe(
      'endpoint-VGSZZXMZ-riset/hellopod-np-svc/tcp/__10.42.4.201/8080',
    );
  });

  it('replaces IPv6 colons and truncates to 240 characters', () => {
    expect(nftEndpointChain('a', 'b', 'tcp', 'p', 'fd00::1', 80)).toContain('__fd00..1/80');
    const long = nftHashAndTruncate('x'.repeat(300));
    expect(long).toHaveLength(240);
    expect(long.endsWith('...')).toBe(true);
  });
});

describe('VPC CNI veth names', () => {
  it('is the prefix plus 11 hex characters of sha1("ns.pod")', () => {
    // `echo -n default.nginx | sha1sum` → c440f455693b69cdd48a37aa5ecd78038f50413d
    expect(vpcCniVethName('default', 'nginx')).toBe('enic440f455693');
    expect(vpcCniVethName('default', 'nginx', 'abc')).toBe('abcc440f455693');
  });
});
