/** `netwarden lab up|status|reboot|down` (and the hidden `serve`): a lab that outlives one command. */
import { spawn } from 'node:child_process';
import { mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import type { Pod } from '../core/objects.ts';
import { formatAge, formatTable } from '../core/table.ts';
import { NetwardenError } from '../errors.ts';
import { connect } from '../kube/connect.ts';
import { ensureBinaries } from '../lab/binaries.ts';
import { currentLab, type LabState, sendCommand, serveLab } from '../lab/daemon.ts';
import { checkFaults, LAB_FAULTS } from '../lab/lab.ts';
import { cleanStaleRuns, labRoot, waitUntil } from '../lab/run-dir.ts';
import { choiceFlag, durationFlag, intFlag, listFlag } from './flags.ts';

const say = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

/** Adds up/status/reboot/down/serve to the `lab` command. */
export function registerLabSessionCommands(lab: Command, requireRoot: (what: string) => void): void {
  lab
    .command('up')
    .description('start a lab (control plane, nodes, CoreDNS) in the background and print how to use it')
    .option('--nodes <n>', 'number of nodes', '2')
    .option('--proxy-mode <mode>', 'kube-proxy mode: iptables or nftables', 'iptables')
    .option('--faults <list>', `faults to inject at every boot (${LAB_FAULTS.join(', ')})`)
    .action(async (o: { nodes: string; proxyMode: string; faults?: string }) => {
      intFlag('--nodes', o.nodes, 1, 6);
      choiceFlag('--proxy-mode', o.proxyMode, ['iptables', 'nftables'] as const);
      checkFaults(listFlag('--faults', o.faults, LAB_FAULTS));
      requireRoot('lab up');
      const running = currentLab();
      if (running)
        throw new NetwardenError(
          'usage',
          `a lab is already up (run ${running.runId ?? '?'}, pid ${running.pid}); run \`netwarden lab down\` first`,
        );
      await cleanStaleRuns();
      await ensureBinaries({ log: say });
      const root = labRoot();
      mkdirSync(root, { recursive: true });
      const logFile = join(root, 'serve.log');
      const fd = openSync(logFile, 'w');
      const args = [process.argv[1] ?? '', 'lab', 'serve', '--nodes', o.nodes, '--proxy-mode', o.proxyMode];
      if (o.faults) args.push('--faults', o.faults);
      const child = spawn(process.execPath, args, { detached: true, stdio: ['ignore', fd, fd] });
      child.unref();
      say(`starting the lab in the background (pid ${child.pid}, log ${logFile}) ...`);
      let state: LabState | undefined;
      await waitUntil(
        () => {
          state = currentLab();
          return state?.state === 'ready' || (state === undefined && child.exitCode !== null);
        },
        300_000,
        500,
      );
      if (state?.state !== 'ready')
        throw new NetwardenError('lab-start-failed', `the lab did not come up; see ${logFile}`);
      process.stdout.write(
        [
          `lab ${state.runId} is up in ${state.upSeconds} s: ${state.nodes?.join(', ')} at ${state.server}`,
          '',
          `  export KUBECONFIG=${state.kubeconfig}`,
          '  netwarden lab status                      # nodes and pods',
          '  netwarden lab reboot node-2 --kube-proxy-delay 20s',
          `  ip netns exec ${state.runId}-node-2 iptables-save -t nat   # kube-proxy's real rules`,
          '  netwarden lab down                        # remove everything',
          '',
        ].join('\n'),
      );
    });

  lab
    .command('serve', { hidden: true })
    .option('--nodes <n>', '', '2')
    .option('--proxy-mode <mode>', '', 'iptables')
    .option('--faults <list>')
    .action(async (o: { nodes: string; proxyMode: string; faults?: string }) => {
      await serveLab({
        nodes: Number(o.nodes),
        proxyMode: o.proxyMode === 'nftables' ? 'nftables' : 'iptables',
        faults: listFlag('--faults', o.faults, LAB_FAULTS),
        log: say,
      });
    });

  lab
    .command('status')
    .description('show the running lab: nodes (with bootID and taints) and pods')
    .action(async () => {
      const state = currentLab();
      if (!state) {
        const removed = await cleanStaleRuns();
        process.stdout.write(
          `no lab is running${removed.length ? ` (removed leftovers of ${removed.join(', ')})` : ''}\n`,
        );
        return;
      }
      if (state.state !== 'ready' || !state.kubeconfig) {
        process.stdout.write(
          `lab is ${state.state} (pid ${state.pid})${state.error ? `: ${state.error}` : ''}\n`,
        );
        return;
      }
      const apis = connect({ kubeconfigPath: state.kubeconfig });
      const now = Date.now();
      const nodes = await apis.nodes.list();
      const pods = await apis.objects.list<Pod>('v1', 'Pod');
      process.stdout.write(
        `${[
          `lab ${state.runId} (pid ${state.pid}), API ${state.server}, KUBECONFIG=${state.kubeconfig}`,
          '',
          formatTable(
            ['node', 'status', 'boot-id', 'pod-cidr', 'taints'],
            nodes.map((n) => [
              n.metadata?.name ?? '',
              n.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True' ? 'Ready' : 'NotReady',
              (n.status?.nodeInfo?.bootID ?? '').slice(0, 8),
              n.spec?.podCIDR ?? '',
              (n.spec?.taints ?? []).map((t) => `${t.key}:${t.effect}`).join(',') || '<none>',
            ]),
          ),
          '',
          formatTable(
            ['namespace', 'name', 'ready', 'status', 'restarts', 'ip', 'node', 'age'],
            pods.map((p) => {
              const cs = p.status?.containerStatuses ?? [];
              const waiting = cs.find((c) => c.state?.waiting)?.state?.waiting?.reason;
              return [
                p.metadata?.namespace ?? '',
                p.metadata?.name ?? '',
                `${cs.filter((c) => c.ready).length}/${p.spec?.containers.length ?? 0}`,
                p.metadata?.deletionTimestamp ? 'Terminating' : (waiting ?? p.status?.phase ?? ''),
                String(cs.reduce((n, c) => n + c.restartCount, 0)),
                p.status?.podIP ?? '',
                p.spec?.nodeName ?? '',
                formatAge(now - new Date(p.metadata?.creationTimestamp ?? now).getTime()),
              ];
            }),
          ),
        ].join('\n')}\n`,
      );
    });

  lab
    .command('reboot <node>')
    .description('hard-reboot a lab node: every process and all its network state go, bootID changes')
    .option('--kube-proxy-delay <duration>', 'kube-proxy starts this long after boot', '0')
    .option('--cni-ready-delay <duration>', 'the CNI counts as ready this long after boot', '0')
    .option('--downtime <duration>', 'how long the node stays off', '2s')
    .action(async (node: string, o: { kubeProxyDelay: string; cniReadyDelay: string; downtime: string }) => {
      const state = currentLab();
      if (!state) throw new NetwardenError('usage', 'no lab is running; start one with `netwarden lab up`');
      const out = await sendCommand(state, {
        cmd: 'reboot',
        node,
        kubeProxyDelayMs: durationFlag('--kube-proxy-delay', o.kubeProxyDelay, 600_000),
        cniReadyDelayMs: durationFlag('--cni-ready-delay', o.cniReadyDelay, 600_000),
        downtimeMs: durationFlag('--downtime', o.downtime, 300_000),
      });
      process.stdout.write(`${out}\n`);
    });

  lab
    .command('down')
    .description('remove the lab and every leftover of earlier lab runs (processes, namespaces, files)')
    .action(async () => {
      requireRoot('lab down');
      const state = currentLab();
      if (state) {
        process.kill(state.pid, 'SIGTERM');
        const gone = await waitUntil(() => currentLab() === undefined, 60_000, 250);
        if (!gone) say(`the lab (pid ${state.pid}) did not stop within 60 s; removing its objects directly`);
      }
      const removed = await cleanStaleRuns();
      process.stdout.write(
        `${state ? `lab ${state.runId ?? ''} removed` : 'no lab was running'}${removed.length ? `; cleaned leftovers of ${removed.join(', ')}` : ''}\n`,
      );
    });
}
