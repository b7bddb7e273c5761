/**
 * Running CNI plugins the way a container runtime does (CNI spec 1.0): each plugin of a
 * conflist in order for ADD (each gets the previous plugin's result as `prevResult`), in reverse
 * for DEL; configuration on stdin, parameters in CNI_* environment variables, the result or a
 * `{code, msg}` error on stdout.
 */
import { NetwardenError } from '../errors.ts';
import { run } from '../host/exec.ts';

/** A network configuration list (`*.conflist`). */
export interface CniConfList {
  readonly cniVersion: string;
  readonly name: string;
  readonly plugins: readonly ({ readonly type: string } & Record<string, unknown>)[];
}

/**
 * The lab's pod network plugin: the real `ptp` with `host-local` IPAM (a veth and a /32 host
 * route per pod, the shape of the VPC CNI), addresses from `podCidr`, IPAM state in `dataDir`.
 */
export function ptpHostLocal(podCidr: string, dataDir: string): CniConfList['plugins'][number] {
  return {
    type: 'ptp',
    mtu: 1500,
    ipMasq: false,
    ipam: {
      type: 'host-local',
      ranges: [[{ subnet: podCidr }]],
      routes: [{ dst: '0.0.0.0/0' }],
      dataDir,
    },
  };
}

/** The parts of a CNI result the lab uses. */
export interface CniResult {
  readonly cniVersion?: string;
  readonly interfaces?: { name: string; mac?: string; sandbox?: string }[];
  readonly ips?: { address: string; gateway?: string; interface?: number }[];
  readonly routes?: { dst: string; gw?: string }[];
  readonly dns?: unknown;
}

/** Who the network is for. */
export interface CniRuntimeContext {
  readonly containerId: string;
  /** Path of the pod's network namespace, e.g. /var/run/netns/<name>. */
  readonly netnsPath: string;
  readonly ifName: string;
  /** Folder holding the plugin executables. */
  readonly cniPath: string;
  /** `K8S_POD_NAMESPACE=…;K8S_POD_NAME=…` and the like. */
  readonly args?: Record<string, string>;
  readonly timeoutMs?: number;
}

/** A plugin's failure, with the CNI error code it returned (undefined when it printed none). */
export class CniPluginError extends NetwardenError {
  readonly plugin: string;
  readonly cniCode: number | undefined;

  constructor(plugin: string, cniCode: number | undefined, message: string) {
    super('exec-failed', message);
    this.name = 'CniPluginError';
    this.plugin = plugin;
    this.cniCode = cniCode;
  }
}

/** Adds the pod to every network of the list; returns the last plugin's result. */
export async function cniAdd(conf: CniConfList, ctx: CniRuntimeContext): Promise<CniResult> {
  let prev: CniResult | undefined;
  for (const plugin of conf.plugins) {
    const input = {
      ...plugin,
      name: conf.name,
      cniVersion: conf.cniVersion,
      ...(prev ? { prevResult: prev } : {}),
    };
    prev = (await invoke('ADD', plugin.type, input, ctx)) as CniResult;
  }
  return prev ?? {};
}

/**
 * Removes the pod from every network of the list, last plugin first. `cached` is the result of
 * the ADD, passed as prevResult as runtimes do. DEL of something already gone succeeds (spec).
 */
export async function cniDel(conf: CniConfList, ctx: CniRuntimeContext, cached?: CniResult): Promise<void> {
  for (const plugin of [...conf.plugins].reverse()) {
    const input = {
      ...plugin,
      name: conf.name,
      cniVersion: conf.cniVersion,
      ...(cached ? { prevResult: cached } : {}),
    };
    await invoke('DEL', plugin.type, input, ctx);
  }
}

async function invoke(
  command: 'ADD' | 'DEL',
  type: string,
  config: unknown,
  ctx: CniRuntimeContext,
): Promise<unknown> {
  const args = Object.entries(ctx.args ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(';');
  const res = await run(`${ctx.cniPath}/${type}`, [], {
    input: JSON.stringify(config),
    timeoutMs: ctx.timeoutMs ?? 30_000,
    env: {
      PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
      CNI_COMMAND: command,
      CNI_CONTAINERID: ctx.containerId,
      CNI_NETNS: ctx.netnsPath,
      CNI_IFNAME: ctx.ifName,
      CNI_PATH: ctx.cniPath,
      ...(args ? { CNI_ARGS: args } : {}),
      ...(process.env.NETWARDEN_LAB_RUN ? { NETWARDEN_LAB_RUN: process.env.NETWARDEN_LAB_RUN } : {}),
    },
  });
  if (res.code !== 0) {
    let msg = res.stderr.trim() || res.stdout.trim();
    let cniCode: number | undefined;
    try {
      const err = JSON.parse(res.stdout) as { code?: number; msg?: string; details?: string };
      cniCode = typeof err.code === 'number' ? err.code : undefined;
      msg = `code ${err.code}: ${err.msg ?? ''}${err.details ? ` (${err.details})` : ''}`;
    } catch {
      // not JSON: keep the raw text
    }
    throw new CniPluginError(
      type,
      cniCode,
      `CNI ${command} with plugin ${type} failed: ${msg || `exit ${res.code ?? res.signal}`}`,
    );
  }
  if (command === 'DEL' || res.stdout.trim() === '') return {};
  try {
    return JSON.parse(res.stdout);
  } catch (err) {
    throw new NetwardenError('exec-failed', `CNI ${command} with plugin ${type} printed no JSON result`, {
      cause: err,
    });
  }
}
