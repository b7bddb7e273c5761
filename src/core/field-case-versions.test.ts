import { describe, expect, it } from 'vitest';
import { FIELD_CASE_VERSIONS, type FieldCaseComponent, fieldCasesForVersion } from './field-case-versions.ts';
import { parseKernelVersion, parseVersion } from './versions.ts';

const codes = (component: FieldCaseComponent, text: string): string[] => {
  const v = component === 'kernel' ? parseKernelVersion(text) : parseVersion(text);
  if (!v) throw new Error(`test setup: ${text}`);
  return fieldCasesForVersion(component, v).map((c) => c.code);
};

describe('fieldCasesForVersion', () => {
  // Versions quoted in the field-case threads (docs/field-cases.md), and their neighbours across each bound.
  it.each([
    ['vpc-cni', 'v1.22.3-eksbuild.1', ['kube-proxy-nftables-vpc-cni-connmark']], // amazon-vpc-cni-k8s#3800
    ['vpc-cni', 'v1.22.4', ['kube-proxy-nftables-vpc-cni-connmark']], // #3872: the last good release
    ['vpc-cni', 'v1.23.0', ['vpc-cni-nft-connmark-clears-marks']], // #3872
    ['vpc-cni', 'v1.18.2-eksbuild.1', ['kube-proxy-nftables-vpc-cni-connmark']], // #2982
    ['vpc-cni', 'v1.11.0', ['kube-proxy-nftables-vpc-cni-connmark', 'vpc-cni-rules-in-legacy-backend']], // #1847
    ['vpc-cni', 'v1.13.2', ['kube-proxy-nftables-vpc-cni-connmark']],
    ['kube-proxy', 'v1.30.0-eksbuild.3', ['kube-proxy-first-sync-race']], // #2982
    ['kube-proxy', 'v1.29.3-minimal-eksbuild.2', ['kube-proxy-first-sync-race']],
    ['kube-proxy', 'v1.30.5-eksbuild.2', []],
    ['kube-proxy', 'v1.36.5', []], // the lab's kube-proxy
    ['calico-node-oss', 'v3.24.6', ['calico-iptables-backend-autodetect', 'iptables-table-incompatible']], // calico#8243
    ['calico-node-oss', 'v3.27.0', ['iptables-table-incompatible']],
    ['calico-node-oss', 'v3.27.2', []],
    ['kernel', '5.10.186-179.751.amzn2.x86_64', ['kube-proxy-nftables-kernel-too-old']],
    ['kernel', '6.1.115-126.197.amzn2023.x86_64', []],
  ] as const)('%s %s → %j', (component, text, want) => {
    expect(codes(component, text)).toEqual(want);
  });

  it('cites a source for every range and names each case once per component', () => {
    for (const c of FIELD_CASE_VERSIONS) expect(c.source.length).toBeGreaterThan(10);
    const keys = FIELD_CASE_VERSIONS.map((c) => `${c.component} ${c.code}`);
    expect(new Set(keys).size).toBe(keys.length);
  });
});
