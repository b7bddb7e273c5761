/** `netwarden lab …`: the real test cluster on this machine. */
import type { Command } from 'commander';
import { formatDuration } from '../core/duration.ts';
import { formatAge, formatTable } from '../core/table.ts';
import { NetwardenError } from '../errors.ts';
import { httpGet } from '../host/http.ts';
import { connect } from '../kube/connect.ts';
import { ensureBinaries } from '../lab/binaries.ts';
import { ControlPlane } from '../lab/control-plane.ts';
import { checkFaults, LAB_FAULTS } from '../lab/lab.ts';
import { LabRun } from '../lab/run-dir.ts';
import { REBOOT_RACE_DEFAULTS, type RebootRaceParams, runRebootRace } from '../lab/scenarios/reboot-race.ts';
import { renderText } from '../lab/scenarios/render.ts';
import { choiceFlag, durationFlag, intFlag, listFlag } from './flags.ts';
import { registerLabSessionCommands } from './lab-session.ts';

const say = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

/** Adds the `lab` command group to the program. */
export function registerLabCommands(program: Command): void {
  const lab = program
    .command('lab')
    .description(
      "run a real Kubernetes cluster (control plane, nodes with the real kubelet and containerd) in this machine's namespaces",
    )
    .addHelpText(
      'after',
      `
The lab runs real components built from pinned Go modules (tools/lab-binaries/go.mod):
kube-apiserver, kube-controller-manager, kube-scheduler, kube-proxy, kubelet, etcd and the CNI
plugins, with Debian's containerd and runc on every node.
Binaries are cached under $NETWARDEN_CACHE_DIR (default ~/.cache/netwarden); set NETWARDEN_KUBE_BIN
or KUBEBUILDER_ASSETS to a folder of prebuilt binaries to skip building. Needs root.`,
    );

  lab
    .command('build')
    .description(
      'build the pinned Kubernetes, etcd and CNI binaries into the cache (or find them) and print where',
    )
    .action(async () => {
      const bins = await ensureBinaries({ log: say });
      process.stdout.write(
        `${formatTable(
          ['binary', 'path'],
          Object.entries(bins.paths).map(([n, p]) => [n, p]),
        )}\n`,
      );
    });

  registerLabSessionCommands(lab, requireRoot);

  const runCmd = lab.command('run').description('run a scenario on a fresh lab and report what happened');
  runCmd
    .command('reboot-race')
    .description('reboot a node and show pods that got their network before the data path was ready')
    .option('--nodes <n>', 'lab nodes (the last one is rebooted; CoreDNS runs on node-1)', '2')
    .option(
      '--kube-proxy-delay <duration>',
      'kube-proxy starts this long after the reboot',
      formatDuration(REBOOT_RACE_DEFAULTS.kubeProxyDelayMs),
    )
    .option(
      '--cni-ready-delay <duration>',
      "the node's CNI counts as ready this long after the reboot",
      formatDuration(REBOOT_RACE_DEFAULTS.cniReadyDelayMs),
    )
    .option('--faults <list>', `comma-separated faults to inject: ${LAB_FAULTS.join(', ')}`)
    .option(
      '--seed <n>',
      "seed for the runner's choices (which broken pod the control experiment deletes)",
      String(REBOOT_RACE_DEFAULTS.seed),
    )
    .option(
      '--observe <duration>',
      'how long to watch after the reboot',
      formatDuration(REBOOT_RACE_DEFAULTS.observeMs),
    )
    .option(
      '--downtime <duration>',
      'how long the node stays off',
      formatDuration(REBOOT_RACE_DEFAULTS.downtimeMs),
    )
    .option('--proxy-mode <mode>', 'kube-proxy mode: iptables or nftables', 'iptables')
    .option(
      '--netwarden <on|off>',
      'run the netwarden agent on every node (gate closes at boot, opens when verified)',
      'off',
    )
    .option(
      '--boot-gate <on|off>',
      "with --netwarden on: the agents also run the boot gate CNI plugin (pods' network set-ups wait until the boot is verified)",
      'off',
    )
    .option(
      '--boot-gate-deadline <duration>',
      'the boot gate passes every pod this long after the boot was first seen (fail-open)',
      formatDuration(REBOOT_RACE_DEFAULTS.bootGateDeadlineMs),
    )
    .option(
      '--boot-gate-agent-start-grace <duration>',
      "the boot gate waits this long for the agent's first heartbeat, then passes pods (fail-open)",
      formatDuration(REBOOT_RACE_DEFAULTS.bootGateAgentStartGraceMs),
    )
    .option(
      '--agent-after-reboot <on|off>',
      "start the rebooted node's agent on its new boot (off: the agent is absent after the reboot)",
      'on',
    )
    .option(
      '--agent-deploy <helm|process>',
      'with --netwarden on: helm installs the chart (the image built from this checkout, imported into every node) and the kubelet runs the agents as DaemonSet pods; process runs each agent as a program inside its node. Default: helm, or process with --boot-gate on or --agent-after-reboot off (which need a program the lab controls)',
    )
    .option('--output <format>', 'text or json', 'text')
    .addHelpText(
      'after',
      `
Faults:
  cni-config-persisted    the CNI config of the previous boot stays on the node's disk: containerd
                          uses it at once, so pods get their network before the CNI daemon is
                          ready (without it, the daemon writes the config when it is ready).
  early-pods-lose-route   pods whose network is set up before the node's CNI is ready get no
                          "from <podIP>" policy rule (priority 1536): DNS still resolves, TCP to
                          the API server fails, container restarts do not help, a new pod does.
                          Needs cni-config-persisted.
  stale-iptables-restore  the ruleset saved before the reboot is restored with FORWARD DROP
                          shortly after kube-proxy starts (the EKS AMI's boot race).
  forward-drop-restored   the node image's saved ruleset (FORWARD policy DROP, no rules) is
                          restored without --noflush shortly after kube-proxy starts: forwarded
                          pod connections are dropped (awslabs/amazon-eks-ami#526).
  vpc-rules-in-legacy     the CNI daemon writes the VPC CNI's SNAT and connmark chains with
                          iptables-legacy while kube-proxy uses iptables-nft: a backend mix
                          (amazon-vpc-cni-k8s#2103); lab traffic itself is unchanged.

Example:
  netwarden lab run reboot-race --faults cni-config-persisted,early-pods-lose-route --output json
  netwarden lab run reboot-race --faults cni-config-persisted,early-pods-lose-route --netwarden on --boot-gate on`,
    )
    .action(async (flags: RebootRaceFlags) => {
      const output = choiceFlag('--output', flags.output, ['text', 'json'] as const);
      const params = rebootRaceParams(flags);
      requireRoot('lab run reboot-race');
      const report = await runRebootRace(params, say);
      process.stdout.write(
        output === 'json' ? `${JSON.stringify(report, null, 2)}\n` : `${renderText(report)}\n`,
      );
    });

  lab
    .command('control-plane')
    .description(
      'start etcd, kube-apiserver, kube-controller-manager and kube-scheduler, print a summary, tear down',
    )
    .option('--keep-seconds <n>', 'keep the control plane up this long before tearing it down', '0')
    .action(async (opts: { keepSeconds: string }) => {
      const keep = Number(opts.keepSeconds);
      if (!Number.isFinite(keep) || keep < 0 || keep > 3600) {
        throw new NetwardenError(
          'usage',
          `--keep-seconds: "${opts.keepSeconds}" is not a number of seconds between 0 and 3600`,
        );
      }
      requireRoot('lab control-plane');
      const bins = await ensureBinaries({ log: say });
      const run = await LabRun.create();
      const stop = (): void => {
        void run.close().finally(() => process.exit(130));
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      try {
        const cp = await ControlPlane.start({
          run,
          binaries: bins.paths,
          controllerManager: true,
          scheduler: true,
          log: say,
        });
        process.stdout.write(`${await summary(cp)}\n`);
        if (keep > 0) {
          say(`admin kubeconfig: ${cp.adminKubeconfig} (kept for ${keep} s)`);
          await new Promise((r) => setTimeout(r, keep * 1000));
        }
      } finally {
        const problems = await run.close();
        for (const p of problems) say(`clean-up: ${p}`);
        say(`lab run ${run.id} torn down`);
      }
    });
}

interface RebootRaceFlags {
  nodes: string;
  kubeProxyDelay: string;
  cniReadyDelay: string;
  faults?: string;
  seed: string;
  observe: string;
  downtime: string;
  proxyMode: string;
  netwarden: string;
  bootGate: string;
  bootGateDeadline: string;
  bootGateAgentStartGrace: string;
  agentAfterReboot: string;
  agentDeploy?: string;
  output: string;
}

/** Validates the `lab run reboot-race` flags into scenario parameters. */
export function rebootRaceParams(f: RebootRaceFlags): RebootRaceParams {
  return {
    ...REBOOT_RACE_DEFAULTS,
    nodes: intFlag('--nodes', f.nodes, 2, 6),
    kubeProxyDelayMs: durationFlag('--kube-proxy-delay', f.kubeProxyDelay, 600_000),
    cniReadyDelayMs: durationFlag('--cni-ready-delay', f.cniReadyDelay, 600_000),
    faults: checkFaults(listFlag('--faults', f.faults, LAB_FAULTS)),
    seed: intFlag('--seed', f.seed, 0, 2 ** 31 - 1),
    observeMs: durationFlag('--observe', f.observe, 1_800_000),
    downtimeMs: durationFlag('--downtime', f.downtime, 300_000),
    proxyMode: choiceFlag('--proxy-mode', f.proxyMode, ['iptables', 'nftables'] as const),
    netwarden: choiceFlag('--netwarden', f.netwarden, ['on', 'off'] as const) === 'on',
    bootGate: choiceFlag('--boot-gate', f.bootGate, ['on', 'off'] as const) === 'on',
    bootGateDeadlineMs: durationFlag('--boot-gate-deadline', f.bootGateDeadline, 900_000),
    bootGateAgentStartGraceMs: durationFlag(
      '--boot-gate-agent-start-grace',
      f.bootGateAgentStartGrace,
      3_600_000,
    ),
    agentAfterReboot: choiceFlag('--agent-after-reboot', f.agentAfterReboot, ['on', 'off'] as const) === 'on',
    agentDeploy: agentDeployOf(f),
  };
}

/** Fails with a clear message when not root (network namespaces need it). */
export function requireRoot(what: string): void {
  if (process.getuid?.() !== 0) {
    throw new NetwardenError('usage', `${what} needs root (network namespaces, netfilter); run it as root`);
  }
}

async function summary(cp: ControlPlane): Promise<string> {
  const version = await httpGet(`${cp.server}/version`, { tls: cp.adminTls() });
  const gitVersion = version.ok
    ? ((JSON.parse(version.body) as { gitVersion?: string }).gitVersion ?? '?')
    : '?';
  const apis = connect({ kubeconfigPath: cp.adminKubeconfig });
  const now = Date.now();
  const namespaces = await apis.objects.list('v1', 'Namespace');
  const services = await apis.objects.list<{
    metadata: { namespace?: string; name?: string };
    spec?: { clusterIP?: string; ports?: { port: number; protocol?: string }[] };
  }>('v1', 'Service');
  const nodes = await apis.nodes.list();
  const t = cp.timings;
  return [
    `Kubernetes control plane ${gitVersion} at ${cp.server} (run ${cp.run.id})`,
    `ready in ${(t.apiServerReadyMs / 1000).toFixed(1)} s (etcd ${(t.etcdReadyMs / 1000).toFixed(1)} s), all components in ${(t.totalMs / 1000).toFixed(1)} s`,
    '',
    formatTable(
      ['component', 'pid', 'status', 'log'],
      cp
        .processes()
        .map((p) => [
          p.spec.name,
          String(p.pid),
          p.running ? 'Running' : (p.exitStatus ?? '?'),
          p.spec.logFile,
        ]),
    ),
    '',
    formatTable(
      ['namespace', 'status', 'age'],
      namespaces.map((n) => [
        n.metadata?.name ?? '',
        String((n as { status?: { phase?: string } }).status?.phase ?? ''),
        formatAge(now - Date.parse(String(n.metadata?.creationTimestamp ?? now))),
      ]),
    ),
    '',
    formatTable(
      ['namespace', 'name', 'cluster-ip', 'port(s)'],
      services.map((s) => [
        s.metadata.namespace ?? '',
        s.metadata.name ?? '',
        s.spec?.clusterIP ?? '',
        (s.spec?.ports ?? []).map((p) => `${p.port}/${p.protocol ?? 'TCP'}`).join(','),
      ]),
    ),
    '',
    nodes.length === 0
      ? 'No nodes yet (the lab adds them: see `netwarden lab --help`).'
      : `${nodes.length} node(s)`,
  ].join('\n');
}

/**
 * `--agent-deploy`, defaulting to helm (the chart as operators install it) except where the lab
 * must control the agent program itself: the boot gate (the lab's helm mode does not install the
 * plugin) and an agent absent after the reboot (the kubelet would restart a DaemonSet pod).
 */
function agentDeployOf(f: RebootRaceFlags): 'helm' | 'process' {
  const needsProcess = f.bootGate === 'on' || f.agentAfterReboot === 'off';
  if (f.agentDeploy === undefined) return needsProcess ? 'process' : REBOOT_RACE_DEFAULTS.agentDeploy;
  const deploy = choiceFlag('--agent-deploy', f.agentDeploy, ['helm', 'process'] as const);
  if (deploy === 'helm' && needsProcess)
    throw new NetwardenError(
      'usage',
      '--agent-deploy helm cannot be combined with --boot-gate on or --agent-after-reboot off: those run the agents as lab programs (--agent-deploy process)',
    );
  return deploy;
}
