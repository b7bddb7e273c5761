/** IPv4 addresses and prefixes as text (`10.0.0.0/16`), compared as numbers. Pure. */

/** The address as an unsigned 32-bit number, or undefined when it is not a dotted quad. */
export function ipv4Number(ip: string): number | undefined {
  const parts = ip.split('.');
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return undefined;
    n = n * 256 + Number(p);
  }
  return n;
}

/** True when `ip` lies in `cidr` (`10.0.0.0/16`; a bare address is a /32). False for anything unparsable. */
export function ipv4InCidr(ip: string, cidr: string): boolean {
  const [base, lenText] = cidr.split('/');
  const len = lenText === undefined ? 32 : Number(lenText);
  const a = ipv4Number(ip);
  const b = base === undefined ? undefined : ipv4Number(base);
  if (a === undefined || b === undefined || !Number.isInteger(len) || len < 0 || len > 32) return false;
  const size = 2 ** (32 - len);
  return Math.floor(a / size) === Math.floor(b / size);
}
