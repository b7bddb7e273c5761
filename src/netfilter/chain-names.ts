/**
 * kube-proxy's per-service chain names, recomputed from Service data so the expected ruleset can be
 * compared with the kernel's by name. Both modes hash with sha256 and encode in RFC 4648 base32.
 */
import { hash } from 'node:crypto';

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

/** The first `chars` characters of base32(sha256(text)); only the bytes needed are encoded. */
function sha256Base32(text: string, chars: number): string {
  const digest = hash('sha256', text, 'buffer');
  return base32(digest.subarray(0, Math.ceil((chars * 5) / 8))).slice(0, chars);
}

/**
 * The name kube-proxy uses for a service port in logs, comments and hashes: `ns/name` or
 * `ns/name:portName` when the port is named.
 */
export function servicePortName(namespace: string, name: string, portName: string | undefined): string {
  return portName ? `${namespace}/${name}:${portName}` : `${namespace}/${name}`;
}

/** The 16-character hash of iptables mode; `protocol` must be lower case (`tcp`, `udp`, `sctp`). */
export function iptablesPortProtoHash(svcPortName: string, protocol: string): string {
  return sha256Base32(svcPortName + protocol, 16);
}

/** `KUBE-SVC-…`: the cluster-policy chain of a service port (iptables mode). */
export function iptablesServiceChain(svcPortName: string, protocol: string): string {
  return `KUBE-SVC-${iptablesPortProtoHash(svcPortName, protocol)}`;
}

/** `KUBE-SVL-…`: the local-policy chain of a service port (iptables mode). */
export function iptablesLocalServiceChain(svcPortName: string, protocol: string): string {
  return `KUBE-SVL-${iptablesPortProtoHash(svcPortName, protocol)}`;
}

/** `KUBE-SEP-…`: the chain of one endpoint (`ip:port`) of a service port (iptables mode). */
export function iptablesEndpointChain(svcPortName: string, protocol: string, endpoint: string): string {
  return `KUBE-SEP-${sha256Base32(svcPortName + protocol + endpoint, 16)}`;
}

// knftables.NameLengthMax (256) minus kube-proxy's longest prefix (16).
const NFT_CHAIN_BASE_MAX = 240;

/** `HASH8-name`, truncated with `...` as kube-proxy's nftables hashAndTruncate does. */
export function nftHashAndTruncate(name: string): string {
  const full = `${sha256Base32(name, 8)}-${name}`;
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
  return `service-${nftServiceChainBase(namespace, name, protocol, portName)}`;
}

/** `local-HASH8-…`: the local-policy chain (nftables mode). */
export function nftLocalServiceChain(
  namespace: string,
  name: string,
  protocol: string,
  portName: string,
): string {
  return `local-${nftServiceChainBase(namespace, name, protocol, portName)}`;
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
  return `endpoint-${nftHashAndTruncate(`${namespace}/${name}/${protocol}/${portName}__${safeIp}/${port}`)}`;
}

/** The host-side veth name the AWS VPC CNI gives a pod: prefix + sha1("ns.pod") hex, 11 characters. */
export function vpcCniVethName(namespace: string, podName: string, prefix = 'eni'): string {
  return `${prefix}${hash('sha1', `${namespace}.${podName}`, 'hex').slice(0, 11)}`;
}
