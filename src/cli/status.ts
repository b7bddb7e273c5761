/**
 * `netwarden status` (also `kubectl netwarden status`): every node's gate from the Node objects
 * and netwarden's Events. Reads only; needs nodes list and events list in `default`.
 */
import type { Command } from 'commander';
import { systemClock } from '../core/clock.ts';
import { AGENT_CONTROLLER } from '../core/gate.ts';
import { nodeGate } from '../core/node-state.ts';
import { buildStatus } from '../core/status.ts';
import { renderStatusJson, renderStatusText } from '../core/status-render.ts';
import { choiceFlag, durationFlag } from './flags.ts';

interface StatusFlags {
  kubeconfig?: string;
  output: string;
  recycleWindow: string;
  selector?: string;
}

/** Adds `status` to the program. */
export function registerStatusCommand(program: Command): void {
  program
    .command('status')
    .description("every node's data-path gate: state, reason, since when, boot→ready time, recent recycles")
    .option('--kubeconfig <file>', 'kubeconfig; default: KUBECONFIG, in-cluster, ~/.kube/config')
    .option('-l, --selector <labels>', 'only nodes matching this label selector')
    .option('--recycle-window <duration>', 'how far back recycles are counted', '1h')
    .option('-o, --output <format>', 'text or json', 'text')
    .addHelpText(
      'after',
      `
Columns:
  GATE         open: this node's data path is verified (condition netwarden.dev/DataPathReady=True);
               closed: not verified or failing, new pods are kept off by the taint
               netwarden.dev/datapath-unready:NoSchedule ("closed (untainted)": --taint=false or the
               cluster breaker); unknown: a check could not run; none: no agent has reported.
  REASON       the condition's reason, e.g. NewBootNotVerified (rebooted, checking), KubeProxyRulesMissing,
               BreakerOpen, RecyclingDidNotHeal. Gated nodes are listed below the table with the message.
  SINCE        how long the gate has been in this state (the condition's lastTransitionTime).
  BOOT→READY   from netwarden first seeing the current boot (netwarden.dev/boot-seen-at) to its
               data path being verified (netwarden.dev/datapath-ready-at); "pending" meanwhile.
  RECYCLES     pods netwarden evicted on this node within --recycle-window (they got their network
               before the data path was ready and were broken).

Whether each agent is running now is not shown: the agent writes its Node only when something
changes (no heartbeat), so the Node cannot tell; the NetwardenAgentAbsent alert (README, "Alerts")
and \`kubectl -n netwarden get pods -o wide\` do.

Examples:
  netwarden status                       the whole fleet
  kubectl netwarden status -o json       the same as JSON (kubectl plugin: kubectl-netwarden on PATH)
  netwarden status -l node.kubernetes.io/instance-type=m6i.large

Needs read access to nodes and to events in the default namespace. Exit codes: 0 ok, 1 the API
could not be read, 2 bad usage.`,
    )
    .action(async (flags: StatusFlags) => {
      const output = choiceFlag('--output', flags.output, ['text', 'json'] as const);
      const windowMs = durationFlag('--recycle-window', flags.recycleWindow, 30 * 24 * 3_600_000);
      const { connect } = await import('../kube/connect.ts');
      const apis = connect({ kubeconfigPath: flags.kubeconfig });
      const [nodes, events] = await Promise.all([
        apis.nodes.list(flags.selector),
        apis.events.listAboutNodes(AGENT_CONTROLLER),
      ]);
      const now = systemClock.now();
      const rows = buildStatus(nodes.map(nodeGate), events, { nowMs: now, recycleWindowMs: windowMs });
      process.stdout.write(output === 'json' ? renderStatusJson(rows, now) : renderStatusText(rows, now));
    });
}
