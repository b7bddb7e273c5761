/** `netwarden doctor`: explain a node's data path from a support bundle or the live node. */
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import type { Command } from 'commander';
import { hasProblems } from '../core/findings.ts';
import type { EndpointSlice, Pod, Service } from '../core/objects.ts';
import { analyzeNode } from '../doctor/analyze.ts';
import { DEFAULT_BUNDLE_LIMITS, readBundle } from '../doctor/bundle.ts';
import type { NodeInputs } from '../doctor/inputs.ts';
import { render, terminalSafe } from '../doctor/render.ts';
import { NetwardenError } from '../errors.ts';
import { type ClusterState, parseClusterState } from '../netfilter/cluster-state.ts';
import { intFlag } from './flags.ts';

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
  maxMemory?: string;
  cniHealthUrl?: string;
  bootTimeFile?: string;
}

const FORMATS = ['text', 'json', 'markdown'] as const;
const MODES = ['auto', 'iptables', 'nftables'] as const;
const MAX_CLUSTER_STATE_BYTES = 512 * 1024 * 1024;
/**
 * Memory the process takes besides the inputs' estimate: Node.js with the doctor's modules
 * (~100 MB measured), the report (~20 MB), and buffers already dropped that the garbage collector
 * has not freed yet — decompressed chunks, left-out entries — which V8 lets grow to ~50 MB.
 */
const PROCESS_RESERVE_MB = 170;
/** What a parsed `kubectl get … -o json` costs per byte (9.6 measured at 10,000 Services). */
const CLUSTER_STATE_COST_PER_BYTE = 10;
const DEFAULT_MAX_MEMORY_MB = 300;

function oneOf<T extends string>(flag: string, value: string, allowed: readonly T[]): T {
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new NetwardenError('usage', `${flag}: "${value}" is not one of ${allowed.join(', ')}`);
}

async function readClusterState(path: string): Promise<{ state: ClusterState; bytes: number }> {
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
  for (const w of read.warnings) process.stderr.write(`netwarden: --cluster-state: ${terminalSafe(w)}\n`);
  return { state: read.state, bytes: text.length };
}

/**
 * The bundle limits for `--max-memory`: what is left after the process itself and the cluster
 * state goes to the bundle's inputs; a note on an input left out says which value would admit it.
 */
function bundleLimits(maxMemoryMb: number, clusterStateBytes: number): typeof DEFAULT_BUNDLE_LIMITS {
  const budget = (maxMemoryMb - PROCESS_RESERVE_MB) * 1e6 - CLUSTER_STATE_COST_PER_BYTE * clusterStateBytes;
  return {
    ...DEFAULT_BUNDLE_LIMITS,
    memoryBudgetBytes: Math.max(0, budget),
    budgetHint: (extra, atLeast) => {
      const mb = Math.ceil((maxMemoryMb + Math.max(0, extra) / 1e6 + 1) / 10) * 10;
      return atLeast ? ` (it needs --max-memory ${mb} or more)` : ` (--max-memory ${mb} admits it)`;
    },
  };
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
  const maxMemoryMb = checkModes(flags);
  const read = flags.clusterState !== undefined ? await readClusterState(flags.clusterState) : undefined;
  const { inputs, cluster } =
    flags.bundle !== undefined
      ? {
          inputs: await readBundle(flags.bundle, bundleLimits(maxMemoryMb, read?.bytes ?? 0)),
          cluster: read?.state,
        }
      : await readLive(flags, read?.state);
  const report = analyzeNode(inputs, {
    ...(cluster ? { cluster } : {}),
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

/** Checks which flags go together; returns the --max-memory value (MB). */
function checkModes(flags: DoctorFlags): number {
  if ((flags.bundle === undefined) === (flags.live !== true)) {
    throw new NetwardenError('usage', 'give exactly one of --bundle <path> or --live');
  }
  for (const [flag, value] of [
    ['--kubeconfig', flags.kubeconfig],
    ['--cni-health-url', flags.cniHealthUrl],
    ['--boot-time-file', flags.bootTimeFile],
  ] as const)
    if (value !== undefined && !flags.live)
      throw new NetwardenError('usage', `${flag} only applies with --live`);
  if (flags.maxMemory === undefined) return DEFAULT_MAX_MEMORY_MB;
  if (flags.bundle === undefined)
    throw new NetwardenError('usage', '--max-memory only applies with --bundle');
  return intFlag('--max-memory', flags.maxMemory, PROCESS_RESERVE_MB + 10, 1_000_000);
}

/** This node's inputs, and the cluster state from the API when none was given and a kubeconfig is. */
async function readLive(
  flags: DoctorFlags,
  given: ClusterState | undefined,
): Promise<{ inputs: NodeInputs; cluster: ClusterState | undefined }> {
  const kubeconfig = flags.kubeconfig;
  if (process.getuid?.() !== 0)
    process.stderr.write('netwarden: doctor --live: not root; iptables and nft output will be missing\n');
  // Loaded on demand like the API client: --bundle never runs host commands.
  const { collectLive } = await import('../doctor/live.ts');
  const inputs = await collectLive({
    ...(flags.cniHealthUrl !== undefined ? { cniHealthUrl: flags.cniHealthUrl } : {}),
    ...(flags.bootTimeFile !== undefined ? { bootTimeFile: flags.bootTimeFile } : {}),
  });
  if (given || (kubeconfig === undefined && !process.env.KUBECONFIG)) return { inputs, cluster: given };
  return { inputs, cluster: await clusterFromApi(kubeconfig) };
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
    .option(
      '--cni-health-url <url>',
      "with --live: the CNI daemon's readiness URL (the agent's --cni-health-url): its answer joins the CNI judgement",
    )
    .option(
      '--boot-time-file <path>',
      'with --live: the file whose `btime` line is this boot (default /proc/stat; for nodes sharing one kernel, as in the lab)',
    )
    .option('-o, --output <format>', `output format: ${FORMATS.join(', ')}`, 'text')
    .option(
      '--max-memory <MB>',
      `with --bundle: the peak memory to stay within (default ${DEFAULT_MAX_MEMORY_MB}); inputs that would need more are left out, each with a note`,
    )
    .addHelpText(
      'after',
      `
Exit codes: 0 no critical or warning finding, 1 findings, 2 bad usage or unreadable input.
Bundles are untrusted: only known files are read, within size limits and --max-memory; links out
of a directory bundle are not followed; control characters in bundle text are shown escaped.
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
