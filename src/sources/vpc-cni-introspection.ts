/**
 * ipamd introspection (`/v1/enis`, `/v1/pods`, env settings) and checkpoint (`ipam.json`) parsers.
 * They tell which pod IPs ipamd assigned on this node and on which ENI device — the input of the
 * per-pod rule expectations (device number > 0 ⇒ a `1536: from <ip> lookup N+1` rule).
 */

import { isObj } from '../core/json.ts';
import { NetwardenError } from '../errors.ts';
import type { PodAssignment } from '../netfilter/pods.ts';

function json(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new NetwardenError('input-unreadable', `${what}: not JSON`);
  }
}

/** One ENI as ipamd reports it. */
export interface IpamdEni {
  readonly id: string;
  readonly deviceNumber: number;
  readonly primary: boolean;
  /** Assigned pod addresses with the pod they belong to when known. */
  readonly assigned: readonly { readonly ip: string; readonly namespace?: string; readonly name?: string }[];
}

/**
 * Parses `/v1/enis`: `{"ENIs": {"eni-…": {"ID","IsPrimary","DeviceNumber", "AvailableIPv4Cidrs" | "IPv4Addresses"}}}`
 * (prefix-era and pre-prefix layouts).
 */
export function parseIpamdEnis(text: string): IpamdEni[] {
  const doc = json(text, 'ipamd /v1/enis');
  if (!isObj(doc)) throw new NetwardenError('input-unreadable', 'ipamd /v1/enis: not an object');
  const enis = isObj(doc.ENIs) ? doc.ENIs : isObj(doc.ENIIPPools) ? doc.ENIIPPools : undefined;
  if (!enis) throw new NetwardenError('input-unreadable', 'ipamd /v1/enis: no "ENIs" object');
  const out: IpamdEni[] = [];
  for (const [id, v] of Object.entries(enis)) {
    if (!isObj(v)) continue;
    const assigned: { ip: string; namespace?: string; name?: string }[] = [];
    const cidrs = isObj(v.AvailableIPv4Cidrs) ? v.AvailableIPv4Cidrs : {};
    for (const c of Object.values(cidrs)) {
      if (!isObj(c) || !isObj(c.IPAddresses)) continue;
      for (const [ip, a] of Object.entries(c.IPAddresses)) {
        if (!isObj(a)) continue;
        const key = isObj(a.IPAMKey) ? a.IPAMKey : {};
        if (typeof key.containerID !== 'string' || key.containerID === '') continue;
        const meta = isObj(a.IPAMMetadata) ? a.IPAMMetadata : {};
        assigned.push({
          ip,
          ...(typeof meta.k8sPodNamespace === 'string' ? { namespace: meta.k8sPodNamespace } : {}),
          ...(typeof meta.k8sPodName === 'string' ? { name: meta.k8sPodName } : {}),
        });
      }
    }
    const legacy = isObj(v.IPv4Addresses) ? v.IPv4Addresses : {};
    for (const [ip, a] of Object.entries(legacy)) if (isObj(a) && a.Assigned === true) assigned.push({ ip });
    out.push({
      id: typeof v.ID === 'string' ? v.ID : id,
      deviceNumber: typeof v.DeviceNumber === 'number' ? v.DeviceNumber : 0,
      primary: v.IsPrimary === true,
      assigned,
    });
  }
  return out;
}

/**
 * Parses `/v1/pods`: keys `<pod>_<ns>_<containerID>` (or `<ns>/<pod>` in old releases) with
 * `{"IP"|"IPv4Addr", "DeviceNumber"}`.
 */
export function parseIpamdPods(text: string): PodAssignment[] {
  const doc = json(text, 'ipamd /v1/pods');
  if (!isObj(doc)) throw new NetwardenError('input-unreadable', 'ipamd /v1/pods: not an object');
  const out: PodAssignment[] = [];
  for (const [key, v] of Object.entries(doc)) {
    if (!isObj(v)) continue;
    const ip = typeof v.IP === 'string' ? v.IP : typeof v.IPv4Addr === 'string' ? v.IPv4Addr : undefined;
    if (!ip) continue;
    let namespace = '';
    let name = '';
    const us = key.split('_');
    if (us.length >= 3) {
      name = us[0] as string;
      namespace = us[1] as string;
    } else if (key.includes('/')) [namespace, name] = key.split('/', 2) as [string, string];
    else name = key;
    out.push({
      namespace,
      name,
      ip,
      ...(typeof v.DeviceNumber === 'number' ? { deviceNumber: v.DeviceNumber } : {}),
    });
  }
  return out;
}

/** Parses the ipamd checkpoint `/var/run/aws-node/ipam.json` (`vpc-cni-ipam/1`). */
export function parseIpamCheckpoint(text: string): PodAssignment[] {
  const doc = json(text, 'ipam.json');
  if (!isObj(doc) || !Array.isArray(doc.allocations)) {
    throw new NetwardenError('input-unreadable', 'ipam.json: no "allocations" array');
  }
  const out: PodAssignment[] = [];
  for (const a of doc.allocations) {
    if (!isObj(a) || typeof a.ipv4 !== 'string') continue;
    const m = isObj(a.metadata) ? a.metadata : {};
    out.push({
      namespace: typeof m.k8sPodNamespace === 'string' ? m.k8sPodNamespace : '',
      name: typeof m.k8sPodName === 'string' ? m.k8sPodName : '',
      ip: a.ipv4,
    });
  }
  return out;
}

/** Joins pod assignments with ENI device numbers (an IP's ENI decides its 1536 rule). */
export function withDeviceNumbers(
  assignments: readonly PodAssignment[],
  enis: readonly IpamdEni[],
): PodAssignment[] {
  const dev = new Map<string, number>();
  for (const e of enis) for (const a of e.assigned) dev.set(a.ip, e.deviceNumber);
  const seen = new Set(assignments.map((a) => a.ip));
  const out: PodAssignment[] = assignments.map((a) => {
    const d = a.deviceNumber ?? dev.get(a.ip);
    return { ...a, ...(d !== undefined ? { deviceNumber: d } : {}) };
  });
  for (const e of enis) {
    for (const a of e.assigned) {
      if (seen.has(a.ip) || a.name === undefined || a.namespace === undefined) continue;
      out.push({ namespace: a.namespace, name: a.name, ip: a.ip, deviceNumber: e.deviceNumber });
    }
  }
  return out;
}

/** Parses an env-settings dump (`/v1/ipamd-env-settings`, `/v1/networkutils-env-settings`): a flat string map. */
export function parseEnvSettings(text: string): Record<string, string> {
  const doc = json(text, 'ipamd env settings');
  if (!isObj(doc)) throw new NetwardenError('input-unreadable', 'ipamd env settings: not an object');
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(doc))
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out[k] = String(v);
  return out;
}
