/**
 * `netwarden cleanup`: removes everything netwarden placed on Nodes (its taint and the gated label
 * that follows it, its condition, its netwarden.dev/* annotations). Run by the chart's post-delete hook Job once the agents are
 * gone, under an identity that may change nothing else (deploy/chart/netwarden/templates/cleanup.yaml).
 */
import type { Command } from 'commander';
import { CONDITION_TYPE, GATED_LABEL, TAINT_EFFECT, TAINT_KEY } from '../core/gate.ts';
import { isClean, type NetwardenKeys, netwardenKeys } from '../core/node-state.ts';
import { NetwardenError } from '../errors.ts';
import type { NodeApi } from '../kube/nodes.ts';
import { choiceFlag, durationFlag } from './flags.ts';

/** What was removed from one node. */
export interface CleanedNode {
  readonly node: string;
  readonly removed: NetwardenKeys;
}

/**
 * Removes netwarden's keys from every Node (or, with `dryRun`, only reports them). Each write is
 * idempotent (no request for a key that is already gone), so a retried Job is harmless.
 */
export async function cleanupNodes(nodes: NodeApi, opts: { dryRun?: boolean } = {}): Promise<CleanedNode[]> {
  const out: CleanedNode[] = [];
  for (const node of await nodes.list()) {
    const name = node.metadata?.name ?? '';
    const keys = netwardenKeys(node);
    if (isClean(keys)) continue;
    if (!opts.dryRun) {
      if (keys.taint || keys.label)
        await nodes.setTaint(name, { key: TAINT_KEY, effect: TAINT_EFFECT }, 'absent', {
          label: GATED_LABEL,
        });
      if (keys.condition) await nodes.removeCondition(name, CONDITION_TYPE);
      if (keys.annotations.length > 0)
        await nodes.setAnnotations(name, Object.fromEntries(keys.annotations.map((k) => [k, null])));
    }
    out.push({ node: name, removed: keys });
  }
  return out;
}

/** One line per cleaned node, for people. */
export function formatCleaned(cleaned: readonly CleanedNode[], dryRun: boolean): string {
  if (cleaned.length === 0) return 'no node carries netwarden state\n';
  const verb = dryRun ? 'would remove' : 'removed';
  return `${cleaned
    .map((c) => {
      const what = [
        ...(c.removed.taint ? [`taint ${TAINT_KEY}`] : []),
        ...(c.removed.label ? [`label ${GATED_LABEL}`] : []),
        ...(c.removed.condition ? [`condition ${CONDITION_TYPE}`] : []),
        ...(c.removed.annotations.length > 0 ? [`annotations ${c.removed.annotations.join(', ')}`] : []),
      ];
      return `${c.node}: ${verb} ${what.join('; ')}`;
    })
    .join('\n')}\n`;
}

interface CleanupFlags {
  kubeconfig?: string;
  waitForPods?: string;
  namespace?: string;
  waitTimeout: string;
  dryRun?: boolean;
  output: string;
}

/** Adds `cleanup` to the program. */
export function registerCleanupCommand(program: Command): void {
  program
    .command('cleanup')
    .description("remove netwarden's taint, label, condition and annotations from every node (uninstall)")
    .option('--kubeconfig <file>', 'kubeconfig; default: KUBECONFIG, in-cluster, ~/.kube/config')
    .option(
      '--wait-for-pods <selector>',
      'first wait until no pod matches this label selector in --namespace (the agents), so none re-adds a key',
    )
    .option('--namespace <ns>', 'namespace of --wait-for-pods')
    .option('--wait-timeout <duration>', 'give up waiting after this long and clean anyway', '2m')
    .option('--dry-run', 'list what would be removed, change nothing')
    .option('--output <format>', 'text or json', 'text')
    .addHelpText(
      'after',
      `
The chart runs this as a post-delete hook Job after \`helm uninstall\`:
  netwarden cleanup --wait-for-pods app.kubernetes.io/component=agent,app.kubernetes.io/instance=netwarden \\
    --namespace netwarden
Needs: nodes get/list/patch, nodes/status patch (and pods list in --namespace for --wait-for-pods).
Exit codes: 0 cleaned (or nothing to clean), 1 a write failed, 2 bad usage.`,
    )
    .action(async (flags: CleanupFlags) => {
      const output = choiceFlag('--output', flags.output, ['text', 'json'] as const);
      const waitMs = durationFlag('--wait-timeout', flags.waitTimeout);
      if (flags.waitForPods && !flags.namespace)
        throw new NetwardenError('usage', '--wait-for-pods needs --namespace');
      const { connect } = await import('../kube/connect.ts');
      const apis = connect({ kubeconfigPath: flags.kubeconfig });
      if (flags.waitForPods) {
        const left = await waitForNoPods(
          () =>
            apis.objects.list('v1', 'Pod', {
              namespace: flags.namespace ?? '',
              labelSelector: flags.waitForPods ?? '',
            }),
          waitMs,
        );
        if (left > 0)
          process.stderr.write(
            `netwarden cleanup: ${left} pod(s) matching ${flags.waitForPods} still there after ${flags.waitTimeout}; cleaning anyway\n`,
          );
      }
      const cleaned = await cleanupNodes(apis.nodes, { dryRun: flags.dryRun === true });
      process.stdout.write(
        output === 'json'
          ? `${JSON.stringify({ dryRun: flags.dryRun === true, nodes: cleaned }, null, 2)}\n`
          : formatCleaned(cleaned, flags.dryRun === true),
      );
    });
}

/** Polls `list` every second until it is empty or `timeoutMs` passes; returns how many are left. */
async function waitForNoPods(list: () => Promise<unknown[]>, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = (await list()).length;
    if (left === 0 || Date.now() >= deadline) return left;
    await new Promise((r) => setTimeout(r, Math.min(1_000, Math.max(0, deadline - Date.now()))));
  }
}
