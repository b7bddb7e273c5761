/**
 * Reading the CNI's state off a live node: the configuration folder, the VPC CNI's ipamd
 * introspection (ENIs with their pod addresses, its settings), a CNI daemon's readiness endpoint,
 * and the VPC CNI's SNAT rules. The judgement is assess/cni.ts.
 */
import { type Read, readAbsent, readOk, readUnknown } from '../core/read.ts';
import type { IptablesNodeState } from '../netfilter/iptables-state.ts';
import { type CniConfigDir, readCniConfigDir } from '../sources/cni-config.ts';
import { type IpamdEni, parseEnvSettings, parseIpamdEnis } from '../sources/vpc-cni-introspection.ts';
import { httpRead, type NodeIo } from './io.ts';
import { readChains } from './kube-proxy.ts';

/** The CNI configuration folder, parsed, with each file's mtime when the node says; `absent` when it does not exist. */
export async function readCniConfDir(
  io: NodeIo,
  path: string,
): Promise<Read<CniConfigDir & { readonly mtimes?: ReadonlyMap<string, number> }>> {
  try {
    const files = await io.readDir(path);
    const times = files.flatMap((f) => (f.mtimeMs !== undefined ? [[f.name, f.mtimeMs] as const] : []));
    return readOk(
      {
        ...readCniConfigDir(files.map((f) => ({ name: f.name, content: f.text }))),
        ...(times.length > 0 ? { mtimes: new Map(times) } : {}),
      },
      path,
    );
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return readAbsent(path, 'the folder does not exist');
    return readUnknown(path, 'CniConfigUnreadable', code ?? String(err));
  }
}

/** ipamd's `/v1/enis`: its HTTP status, and the ENIs when it answered 200. */
export function readIpamdEnis(
  io: NodeIo,
  ipamdUrl: string,
  timeoutMs: number,
): Promise<Read<{ status: number; enis: readonly IpamdEni[] }>> {
  return httpRead(io, `${ipamdUrl.replace(/\/$/, '')}/v1/enis`, timeoutMs, (status, body) => ({
    status,
    enis: status === 200 ? parseIpamdEnis(body) : [],
  }));
}

/** ipamd's settings (`/v1/ipamd-env-settings`); empty when it does not answer. */
export async function readIpamdEnv(
  io: NodeIo,
  ipamdUrl: string,
  timeoutMs: number,
): Promise<Record<string, string>> {
  const r = await httpRead(
    io,
    `${ipamdUrl.replace(/\/$/, '')}/v1/ipamd-env-settings`,
    timeoutMs,
    (status, body) => (status === 200 ? parseEnvSettings(body) : {}),
  );
  return r.status === 'ok' ? r.value : {};
}

/** A readiness endpoint's status and body. */
export function readHealth(
  io: NodeIo,
  url: string,
  timeoutMs: number,
): Promise<Read<{ status: number; body: string }>> {
  return httpRead(io, url, timeoutMs, (status, body) => ({ status, body }));
}

/** The VPC CNI's SNAT hook and chain (nat POSTROUTING, AWS-SNAT-CHAIN-0), through the cheap chain read. */
export function readAwsSnatChains(
  io: NodeIo,
  saveBin: string,
  timeoutMs: number,
): Promise<Read<IptablesNodeState>> {
  return readChains(
    io,
    saveBin,
    [
      ['nat', 'POSTROUTING'],
      ['nat', 'AWS-SNAT-CHAIN-0'],
    ],
    timeoutMs,
    new Set(['nat']),
  );
}
