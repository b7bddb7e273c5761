import { describe, expect, it } from 'vitest';
import { ipv4InCidr, ipv4Number } from './ipv4.ts';

describe('ipv4InCidr', () => {
  it.each([
    ['172.20.0.1', '172.20.0.0/16', true],
    ['172.21.0.1', '172.20.0.0/16', false],
    ['10.0.0.5', '10.0.0.5', true],
    ['10.0.0.5', '0.0.0.0/0', true],
    ['10.0.0.5', '10.0.0.4/31', true],
    ['10.0.0.6', '10.0.0.4/31', false],
    ['10.0.0.5', '10.0.0.0/33', false],
    ['fd00::1', '10.0.0.0/8', false],
    ['10.0.0.256', '10.0.0.0/8', false],
  ])('%s in %s → %s', (ip, cidr, want) => {
    expect(ipv4InCidr(ip, cidr)).toBe(want);
  });
  it('reads dotted quads only', () => {
    expect(ipv4Number('255.255.255.255')).toBe(2 ** 32 - 1);
    expect(ipv4Number('1.2.3')).toBeUndefined();
  });
});
