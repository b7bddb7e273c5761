/**
 * kube-proxy's per-service chain names, recomputed from Service data so the expected ruleset can be
 * compared with the kernel's by name. Both modes hash with sha256 and encode in RFC 4648 base32.
 */
import { hash } from 'node:crypto';
import { flatString } from '../core/flat-string.ts';

const BASE32_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** RFC 4648 base32, standard alphabet, upper case, with `=` padding (as Go's base32.StdEncoding). */
export function base32(bytes: Uint8Array): string {
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += BASE32_ALPHABET[(buffer >>> bits) & 31];
    }
    buffer &= (1 << bits) - 1;
  }
  if (bits > 0) out += BASE32_ALPHABET[(buffer << (5 - bits)) & 31];
  while (out.length % 8 !== 0) out += '=';
  return out;
}

const ALPHABET_CODES = Array.from(BASE32_ALPHABET, (c) => c.charCodeAt(0));

/**
 * `prefix` and the first `chars` characters of base32(sha256(text)), built as one flat string
 * (see core/flat-string.ts); only the bytes needed are encoded. `chars` at most 51 (a digest's 256 bits).
 */
function hashed(prefix: string, text: string, chars: number): string {
  const digest = hash('sha256', text, 'buffer');
  const codes = new Array<number>(prefix.length + chars);
  for (let i = 0; i < prefix.length; i++) codes[i] = prefix.charCodeAt(i);
  let at = prefix.length;
  let buffer = 0;
  let bits = 0;
  for (const byte of digest) {
    buffer = ((buffer << 8) | byte) & 0xfff; // at most 12 bits are pending
    bits += 8;
    while (bits >= 5 && at < codes.length) {
      bits -= 5;
      codes[at++] = ALPHABET_CODES[(buffer >>> bits) & 31] as number;
    }
    if (at === codes.length) break;
  }
  return String.fromCharCode(...codes);
}

/**
 * The name kube-proxy uses for a service port in logs, comments and hashes: `ns/name` or
 * `ns/name:portName` when the port is named.
 */
export function servicePortName(namespace: string, name: string, portName: string | undefined): string {
  return flatString(portName ? `${namespace}/${name}:${portName}` : `${namespace}/${name}`);
}

/** The 16-character hash of iptables mode; `protocol` must be lower case (`tcp`, `udp`, `sctp`). */
export function iptablesPortProtoHash(svcPortName: string, protocol: string): string {
  return hashed('', svcPortName + protocol, 16);
}

/** `KUBE-SVC-…`: the cluster-policy chain of a service port (iptables mode). */
export function iptablesServiceChain(svcPortName: string, protocol: string): string {
  return hashed('KUBE-SVC-', svcPortName + protocol, 16);
}

/** `KUBE-SVL-…`: the local-policy chain of a service port (iptables mode). */
export function iptablesLocalServiceChain(svcPortName: string, protocol: string): string {
  return hashed('KUBE-SVL-', svcPortName + protocol, 16);
}

/** `KUBE-SEP-…`: the chain of one endpoint (`ip:port`) of a service port (iptables mode). */
export function iptablesEndpointChain(svcPortName: string, protocol: string, endpoint: string): string {
  return hashed('KUBE-SEP-', svcPortName + protocol + endpoint, 16);
}

// knftables.NameLengthMax (256) minus kube-proxy's longest prefix (16).
const NFT_CHAIN_BASE_MAX = 240;

/** `HASH8-name`, truncated with `...` as kube-proxy's nftables hashAndTruncate does. */
export function nftHashAndTruncate(name: string): string {
  const full = `${hashed('', name, 8)}-${name}`;
  return full.length > NFT_CHAIN_BASE_MAX ? `${full.slice(0, NFT_CHAIN_BASE_MAX - 3)}...` : full;
}

/** The nftables chain base of a service port: `HASH8-ns/name/proto/portName`. */
export function nftServiceChainBase(
  namespace: string,
  name: string,
  protocol: string,
  portName: string,
): string {
  return nftHashAndTruncate(`${namespace}/${name}/${protocol}/${portName}`);
}

/** `service-HASH8-ns/name/proto/portName`: the cluster-policy chain (nftables mode). */
export function nftServiceChain(namespace: string, name: string, protocol: string, portName: string): string {
  return flatString(`service-${nftServiceChainBase(namespace, name, protocol, portName)}`);
}

/** `local-HASH8-…`: the local-policy chain (nftables mode). */
export function nftLocalServiceChain(
  namespace: string,
  name: string,
  protocol: string,
  portName: string,
): string {
  return flatString(`local-${nftServiceChainBase(namespace, name, protocol, portName)}`);
}

/** `endpoint-HASH8-ns/name/proto/portName__ip/port` (IPv6 colons become dots, as kube-proxy does). */
export function nftEndpointChain(
  namespace: string,
  name: string,
  protocol: string,
  portName: string,
  ip: string,
  port: number,
): string {
  const safeIp = ip.includes(':') ? ip.replaceAll(':', '.') : ip;
  return flatString(
    `endpoint-${nftHashAndTruncate(`${namespace}/${name}/${protocol}/${portName}__${safeIp}/${port}`)}`,
  );
}

/** The host-side veth name the AWS VPC CNI gives a pod: prefix + sha1("ns.pod") hex, 11 characters. */
export function vpcCniVethName(namespace: string, podName: string, prefix = 'eni'): string {
  return `${prefix}${hash('sha1', `${namespace}.${podName}`, 'hex').slice(0, 11)}`;
}
