/** `netwarden doctor`: explain a node's data path from a support bundle or the live node. */
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import type { Command } from 'commander';
import { hasProblems } from '../core/findings.ts';
import type { EndpointSlice, Pod, Service } from '../core/objects.ts';
import { analyzeNode } from '../doctor/analyze.ts';
import { readBundle } from '../doctor/bundle.ts';
import type { NodeInputs } from '../doctor/inputs.ts';
import { collectLive } from '../doctor/live.ts';
import { render } from '../doctor/render.ts';
import { NetwardenError } from '../errors.ts';
import { type ClusterState, parseClusterState } from '../netfilter/cluster-state.ts';

/** The parsed flags of `doctor` (as commander gives them). */
export interface DoctorFlags {
  bundle?: string;
  live?: boolean;
  clusterState?: string;
  kubeconfig?: string;
  node?: string;
  proxyMode: string;
  iptablesBackend?: string;
  output: string;
}

const FORMATS = ['text', 'json', 'markdown'] as const;
const MODES = ['auto', 'iptables', 'nftables'] as const;
const MAX_CLUSTER_STATE_BYTES = 512 * 1024 * 1024;

function oneOf<T extends string>(flag: string, value: string, allowed: readonly T[]): T {
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new NetwardenError('usage', `${flag}: "${value}" is not one of ${allowed.join(', ')}`);
}

async function readClusterState(path: string): Promise<ClusterState> {
  let text: string;
  try {
    const buf = await readFile(path);
    if (buf.length > MAX_CLUSTER_STATE_BYTES)
      throw new NetwardenError('input-unreadable', `--cluster-state ${path}: larger than 512 MiB`);
    text = buf.toString('utf8');
  } catch (err) {
    if (err instanceof NetwardenError) throw err;
    throw new NetwardenError(
      'input-unreadable',
      `--cluster-state ${path}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`,
    );
  }
  const read = parseClusterState(text, `--cluster-state ${path}`);
  for (const w of read.warnings) process.stderr.write(`netwarden: --cluster-state: ${w}\n`);
  return read.state;
}

async function clusterFromApi(kubeconfigPath: string | undefined): Promise<ClusterState> {
  // Loaded on demand: the Kubernetes client is heavy, and --bundle never needs it.
  const { connect } = await import('../kube/connect.ts');
  const apis = connect(kubeconfigPath !== undefined ? { kubeconfigPath } : {});
  const [services, endpointSlices, pods] = await Promise.all([
    apis.objects.list('v1', 'Service'),
    apis.objects.list('discovery.k8s.io/v1', 'EndpointSlice'),
    apis.objects.list('v1', 'Pod'),
  ]);
  return {
    services: services as unknown as Service[],
    endpointSlices: endpointSlices as unknown as EndpointSlice[],
    pods: pods as unknown as Pod[],
  };
}

/**
 * Runs the doctor for parsed flags: returns the rendered report and exit code 0 (no critical or
 * warning finding) or 1; throws `usage` / `input-unreadable` NetwardenErrors (exit 2 in main).
 */
export async function runDoctor(
  flags: DoctorFlags,
  opts: { stdoutIsTty?: boolean } = {},
): Promise<{ output: string; exitCode: 0 | 1 }> {
  const format = oneOf('--output', flags.output, FORMATS);
  const proxyMode = oneOf('--proxy-mode', flags.proxyMode, MODES);
  const backend =
    flags.iptablesBackend !== undefined
      ? oneOf('--iptables-backend', flags.iptablesBackend, ['nft', 'legacy'] as const)
      : undefined;
  if ((flags.bundle === undefined) === (flags.live !== true)) {
    throw new NetwardenError('usage', 'give exactly one of --bundle <path> or --live');
  }
  if (flags.kubeconfig !== undefined && !flags.live)
    throw new NetwardenError('usage', '--kubeconfig only applies with --live');
  const cluster = flags.clusterState !== undefined ? await readClusterState(flags.clusterState) : undefined;
  let inputs: NodeInputs;
  let liveCluster: ClusterState | undefined;
  if (flags.bundle !== undefined) inputs = await readBundle(flags.bundle);
  else {
    if (process.getuid?.() !== 0)
      process.stderr.write('netwarden: doctor --live: not root; iptables and nft output will be missing\n');
    inputs = await collectLive();
    if (!cluster && (flags.kubeconfig !== undefined || process.env.KUBECONFIG))
      liveCluster = await clusterFromApi(flags.kubeconfig);
  }
  const clusterState = cluster ?? liveCluster;
  const report = analyzeNode(inputs, {
    ...(clusterState ? { cluster: clusterState } : {}),
    ...(flags.node !== undefined ? { nodeName: flags.node } : {}),
    ...(flags.live ? { fallbackNodeName: hostname() } : {}),
    proxyMode,
    ...(backend ? { kubeProxyBackend: backend } : {}),
  });
  return {
    output: render(report, format, { color: format === 'text' && opts.stdoutIsTty === true }),
    exitCode: hasProblems(report.findings) ? 1 : 0,
  };
}

/** Adds `doctor` to the program. */
export function registerDoctorCommand(program: Command): void {
  program
    .command('doctor')
    .description(
      "explain a node's data path (kube-proxy rules, CNI config, pod routes and rules, ipamd) from a support bundle or the live node",
    )
    .option('--bundle <dir|file.tar.gz>', 'an EKS log collector bundle (directory or archive)')
    .option('--live', 'inspect this node (needs root)')
    .option(
      '--cluster-state <file>',
      'kubectl get services,endpointslices,pods -A -o json output: enables expected-vs-actual checks',
    )
    .option('--kubeconfig <path>', 'with --live: read the cluster state from the API')
    .option('--node <name>', 'the node name in the cluster (default: inferred)')
    .option('--proxy-mode <mode>', `kube-proxy mode: ${MODES.join(', ')}`, 'auto')
    .option('--iptables-backend <nft|legacy>', 'the iptables backend kube-proxy uses (default: inferred)')
    .option('-o, --output <format>', `output format: ${FORMATS.join(', ')}`, 'text')
    .addHelpText(
      'after',
      `
Exit codes: 0 no critical or warning finding, 1 findings, 2 bad usage or unreadable input.
Finding codes and the JSON format: docs/doctor.md.

Examples:
  netwarden doctor --bundle examples/rebooted-node-broken
  netwarden doctor --bundle eks_i-0abc_2024-01-01.tar.gz --cluster-state cluster.json -o markdown
  netwarden doctor --live --kubeconfig /etc/kubernetes/kubelet.conf`,
    )
    .action(async (flags: DoctorFlags) => {
      const result = await runDoctor(flags, {
        stdoutIsTty: process.stdout.isTTY === true && !process.env.NO_COLOR,
      });
      process.stdout.write(result.output);
      if (result.exitCode !== 0) process.exitCode = result.exitCode;
    });
}
