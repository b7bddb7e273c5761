/**
 * The lab kubelet's pod namespaces, found by name: `<dir>/<runId>-<node>-<first 8 chars of the pod
 * uid>` (see podNetns in lab/kubelet/pod-worker.ts).
 */
import { join } from 'node:path';
import { type NetnsLocation, type NetnsLocator, netnsLocationAt } from '../host/netns-locator.ts';

/** The lab's pod namespaces by name. */
export class LabNetnsLocator implements NetnsLocator {
  readonly #prefix: string;
  readonly #dir: string;

  constructor(opts: { runId: string; nodeName: string; dir?: string }) {
    this.#prefix = `${opts.runId}-${opts.nodeName}`;
    this.#dir = opts.dir ?? '/var/run/netns';
  }

  async locate(podUids: readonly string[]): Promise<Map<string, NetnsLocation>> {
    const out = new Map<string, NetnsLocation>();
    for (const uid of podUids) {
      const name = `${this.#prefix}-${uid.slice(0, 8)}`;
      const loc = await netnsLocationAt(join(this.#dir, name), `lab netns ${name}`);
      if (loc) out.set(uid, loc);
    }
    return out;
  }
}
