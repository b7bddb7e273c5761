/**
 * A throwaway "node" for running a real CNI chain (the lab's ptp + host-local, plus whatever is
 * chained after them) from the calling process, as a runtime would, without touching the host's
 * network: the node is a network namespace of a lab run, and the bin folder's `ptp` enters it
 * (nsenter --net) before running the real plugin, so the veth's host side, the pod's /32 route and
 * the forwarding sysctl land in the node namespace, never in the root one. Chained plugins that
 * touch no network (the boot gate) run as they are. Pods get their own namespaces of the run.
 * Everything carries the run id and goes with {@link CniNode.close} (or the next run's clean-up).
 */
import { chmodSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runOk } from '../host/exec.ts';
import type { LabBinary, ResolvedBinaries } from './binaries.ts';
import { type CniConfList, ptpHostLocal } from './cni.ts';
import { deleteNetns } from './network.ts';
import { LabRun } from './run-dir.ts';

/** A node namespace with its CNI bin folder. */
export interface CniNode {
  readonly run: LabRun;
  readonly netns: string;
  /** CNI_PATH for the chain. */
  readonly cniBin: string;
  /** The conflist's ptp + host-local part (host-local's data in the run folder). */
  readonly ptpPlugin: CniConfList['plugins'][number];
  /** Creates a pod namespace; returns its path (CNI_NETNS). */
  podNetns(name: string): Promise<string>;
  /** Deletes a pod namespace. */
  deletePodNetns(name: string): Promise<void>;
  /** Removes everything of the run; returns what could not be removed. */
  close(): Promise<string[]>;
}

/**
 * Creates the node. `extra` names lab programs to put into the bin folder as they are (e.g.
 * `netwarden-cni-gate`). The pod CIDR is private to the node namespace.
 */
export async function createCniNode(
  binaries: ResolvedBinaries,
  extra: readonly LabBinary[] = [],
  podCidr = '10.244.7.0/24',
): Promise<CniNode> {
  const run = await LabRun.create();
  const netns = `${run.id}-node`;
  try {
    // run.close() deletes every namespace named <run id>-…: the node's and the pods'.
    await runOk('ip', ['netns', 'add', netns], { timeoutMs: 10_000 });
    await runOk('ip', ['-n', netns, 'link', 'set', 'lo', 'up'], { timeoutMs: 10_000 });
    const cniBin = join(run.dir, 'cni-bin');
    mkdirSync(cniBin, { recursive: true });
    const ptp = join(cniBin, 'ptp');
    writeFileSync(ptp, `#!/bin/sh\nexec nsenter --net=/var/run/netns/${netns} "${binaries.paths.ptp}"\n`);
    chmodSync(ptp, 0o755);
    for (const name of ['host-local', ...extra] as const)
      symlinkSync(binaries.paths[name], join(cniBin, name));
    return {
      run,
      netns,
      cniBin,
      ptpPlugin: ptpHostLocal(podCidr, join(run.dir, 'ipam')),
      async podNetns(name) {
        await runOk('ip', ['netns', 'add', `${run.id}-${name}`], { timeoutMs: 10_000 });
        return `/var/run/netns/${run.id}-${name}`;
      },
      async deletePodNetns(name) {
        await deleteNetns(`${run.id}-${name}`);
      },
      close: () => run.close(),
    };
  } catch (err) {
    await run.close();
    throw err;
  }
}
