/**
 * The agent's configuration: one zod schema, defaults in one place, every flag mapped
 * mechanically to an environment variable (`--check-interval` → `NETWARDEN_CHECK_INTERVAL`).
 * Invalid configuration fails closed with a message naming the flag, its env name and the problem.
 */
import { z } from 'zod';
import { DEFAULT_GATE_SETTINGS, type GateSettings } from '../core/boot-gate.ts';
import { formatDuration, parseDuration } from '../core/duration.ts';
import { NetwardenError } from '../errors.ts';

const duration = (max: number) =>
  z.union([z.number(), z.string()]).transform((v, ctx) => {
    const ms = typeof v === 'number' ? v : parseDuration(v);
    if (typeof ms !== 'number') {
      ctx.addIssue({ code: 'custom', message: ms.error });
      return z.NEVER;
    }
    if (ms <= 0 || ms > max) {
      ctx.addIssue({ code: 'custom', message: `must be between 1ms and ${formatDuration(max)}` });
      return z.NEVER;
    }
    return ms;
  });

const bool = z
  .union([z.boolean(), z.enum(['true', 'false', '1', '0'])])
  .transform((v) => v === true || v === 'true' || v === '1');
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const absolutePath = z.string().regex(/^\//, 'must be an absolute path');
/** A comma-separated list of namespace names (empty: none). */
const namespaces = z
  .string()
  .transform((v) =>
    v
      .split(',')
      .map((n) => n.trim())
      .filter((n) => n !== ''),
  )
  .refine((list) => list.every((n) => /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(n)), {
    message: 'must be comma-separated namespace names',
  });

/** One option: its schema, default and help. The flag and env names derive from the key. */
interface Option {
  readonly schema: z.ZodType;
  readonly default?: string;
  readonly help: string;
}

/** Every agent option, in --help order. */
export const AGENT_OPTIONS = {
  nodeName: {
    schema: z.string().min(1),
    help: 'the Node this agent runs on (usually from the downward API: spec.nodeName)',
  },
  kubeconfig: {
    schema: z.string().optional(),
    help: 'kubeconfig file; default: in-cluster service account, then KUBECONFIG, then ~/.kube/config',
  },
  mode: {
    schema: z.enum(['continuous', 'bootstrap']),
    default: 'continuous',
    help: 'continuous: a later failure re-closes the gate; bootstrap: only each boot is gated',
  },
  taint: {
    schema: bool,
    default: 'true',
    help: `add/remove the NoSchedule taint (false: only the condition, for another controller to act on)`,
  },
  checkInterval: {
    schema: duration(60_000),
    default: '250ms',
    help: 'pause between rounds while the gate is closed (fast, so it opens within a second of the data path coming back)',
  },
  steadyInterval: {
    schema: duration(3_600_000),
    default: '30s',
    help: 'pause between rounds while the gate is open: how soon a later breakage is noticed (a Service or EndpointSlice change triggers a round once it has settled)',
  },
  checkTimeout: {
    schema: duration(120_000),
    default: '10s',
    help: 'deadline of each check; a check that exceeds it is Unknown',
  },
  syncGrace: {
    schema: duration(600_000),
    default: '10s',
    help: "a Service or EndpointSlice changed less than this ago is not expected in the kernel yet (kube-proxy's sync latency)",
  },
  openAfterPasses: {
    schema: int(1, 100),
    default: '2',
    help: 'consecutive passing rounds before a closed gate opens',
  },
  closeAfterFailures: {
    schema: int(1, 100),
    default: '3',
    help: 'consecutive failing rounds before an open gate closes (continuous mode)',
  },
  maxGatedFraction: {
    schema: z.coerce.number().gt(0).max(1),
    default: '0.334',
    help: 'breaker: never taint more than this share of the selected nodes for non-boot reasons',
  },
  nodeSelector: {
    schema: z.string(),
    default: '',
    help: 'label selector of the nodes the breaker counts (default: all nodes)',
  },
  listen: {
    schema: z.string().regex(/^[^:]*:\d+$/, 'must be host:port'),
    default: '0.0.0.0:9746',
    help: 'address of /metrics, /healthz, /readyz and /status',
  },
  dryRun: { schema: bool, default: 'false', help: 'decide and log, write nothing to the cluster' },
  proxyMode: {
    schema: z.enum(['auto', 'iptables', 'nftables']),
    default: 'auto',
    help: 'kube-proxy mode; auto asks kube-proxy (:10249/proxyMode) and falls back to what is in the kernel',
  },
  iptablesSave: {
    schema: z.string().min(1),
    default: 'auto',
    help: 'iptables-save binary; auto picks the backend kube-proxy writes to (nft or legacy)',
  },
  kubeProxyMetrics: {
    schema: z.string().url(),
    default: 'http://127.0.0.1:10249/metrics',
    help: 'kube-proxy metrics URL (sync timestamps)',
  },
  cniConfDir: {
    schema: z.string().min(1),
    default: '/etc/cni/net.d',
    help: 'the node CNI configuration folder',
  },
  ipamdUrl: {
    schema: z.string(),
    default: 'http://127.0.0.1:61679',
    help: 'AWS VPC CNI ipamd introspection (checked only when the CNI config is the VPC CNI); empty disables',
  },
  cniHealthUrl: {
    schema: z.union([z.literal(''), z.string().url()]),
    default: '',
    help: "an HTTP endpoint that answers 200 once this node's CNI daemon is ready (e.g. calico-node's felix http://localhost:9099/readiness); checked when set",
  },
  clusterDnsCheck: {
    schema: bool,
    default: 'true',
    help: 'resolve kubernetes.default through the cluster DNS (advisory: never gates)',
  },
  recycle: {
    schema: bool,
    default: 'true',
    help: "evict pods that got their network before this boot's data path was verified and are broken (PDB-safe)",
  },
  recycleMaxConcurrent: {
    schema: int(1, 100),
    default: '2',
    help: 'recycles in flight at once on this node',
  },
  recyclePerMinute: { schema: int(1, 1000), default: '10', help: 'recycles per minute on this node' },
  recyclePerBoot: { schema: int(1, 10000), default: '50', help: 'recycles per boot of this node' },
  notReadyGrace: {
    schema: duration(3_600_000),
    default: '2m',
    help: 'a pod not Ready this long after the data path was verified counts as broken',
  },
  podNetnsLocator: {
    schema: z.string().regex(/^(proc|lab:nw[0-9a-f]{6})$/, 'must be proc or lab:<run id>'),
    default: 'proc',
    help: "how to find a pod's network namespace: proc (a container process's /proc/<pid>/ns/net via its cgroup; needs hostPID) or lab:<run id>",
  },
  bootGate: {
    schema: bool,
    default: 'false',
    help: "install the boot gate CNI plugin last in this node's active conflist: pod network set-ups wait until this boot's data path is verified, failing open (docs/cni-gate.md)",
  },
  bootGatePlugin: {
    schema: absolutePath,
    default: '/opt/netwarden/bin/netwarden-cni-gate',
    help: 'the netwarden-cni-gate executable to copy into --cni-bin-dir (shipped in the agent image)',
  },
  cniBinDir: { schema: absolutePath, default: '/opt/cni/bin', help: "the node's CNI plugin folder" },
  bootGateStateDir: {
    schema: absolutePath,
    default: DEFAULT_GATE_SETTINGS.stateDir,
    help: 'node-local state shared with the plugin (a tmpfs: a reboot clears it)',
  },
  bootGateDeadline: {
    schema: duration(3_600_000),
    default: formatDuration(DEFAULT_GATE_SETTINGS.bootGateDeadlineMs),
    help: 'past this since the boot was first seen, the plugin lets every pod through',
  },
  bootGateMaxWait: {
    schema: duration(180_000),
    default: formatDuration(DEFAULT_GATE_SETTINGS.maxWaitMs),
    help: "longest hold of one pod's CNI ADD before it fails with code 11 and the kubelet retries (above ~20 s a conflist reload queued behind containerd's CNI lock can delay the runtime's Status past the kubelet's 30 s)",
  },
  bootGateAgentStartGrace: {
    schema: duration(3_600_000),
    default: formatDuration(DEFAULT_GATE_SETTINGS.agentStartGraceMs),
    help: "how long after the boot was first seen the plugin waits for this agent's first heartbeat before failing open",
  },
  bootGateExemptNamespaces: {
    schema: namespaces,
    default: DEFAULT_GATE_SETTINGS.exemptNamespaces.join(','),
    help: 'comma-separated namespaces whose pods the boot gate never holds (empty: none)',
  },
  bootGateBootIdFile: {
    schema: absolutePath,
    default: DEFAULT_GATE_SETTINGS.bootIdFile,
    help: "the file holding this node's boot id, as the plugin reads it (labs whose nodes share one kernel point it elsewhere)",
  },
} as const satisfies Record<string, Option>;

/** Option names. */
export type AgentOptionName = keyof typeof AGENT_OPTIONS;

/** The validated configuration. */
export interface AgentConfig {
  readonly nodeName: string;
  readonly kubeconfig: string | undefined;
  readonly mode: 'continuous' | 'bootstrap';
  readonly taint: boolean;
  readonly checkIntervalMs: number;
  readonly steadyIntervalMs: number;
  readonly checkTimeoutMs: number;
  readonly syncGraceMs: number;
  readonly openAfterPasses: number;
  readonly closeAfterFailures: number;
  readonly maxGatedFraction: number;
  readonly nodeSelector: string;
  readonly listen: string;
  readonly dryRun: boolean;
  readonly proxyMode: 'auto' | 'iptables' | 'nftables';
  readonly iptablesSave: string;
  readonly kubeProxyMetrics: string;
  readonly cniConfDir: string;
  readonly ipamdUrl: string;
  readonly cniHealthUrl: string;
  readonly clusterDnsCheck: boolean;
  readonly recycle: boolean;
  readonly recycleMaxConcurrent: number;
  readonly recyclePerMinute: number;
  readonly recyclePerBoot: number;
  readonly notReadyGraceMs: number;
  readonly podNetnsLocator: string;
  readonly bootGate: boolean;
  readonly bootGatePlugin: string;
  readonly cniBinDir: string;
  readonly bootGateSettings: GateSettings;
}

/** `checkInterval` → `--check-interval`. */
export function flagName(key: string): string {
  return `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/** `checkInterval` → `NETWARDEN_CHECK_INTERVAL` (kubeconfig also honours KUBECONFIG). */
export function envName(key: string): string {
  return `NETWARDEN_${key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;
}

/**
 * Builds the configuration from flags (already parsed, by key) over environment over defaults.
 * Throws a `config-invalid` NetwardenError naming the flag and env variable of the first problem.
 */
export function loadAgentConfig(
  flags: Partial<Record<AgentOptionName, string | boolean>>,
  env: NodeJS.ProcessEnv,
): AgentConfig {
  const raw = parseOptions(Object.keys(AGENT_OPTIONS) as AgentOptionName[], flags, env, (r) =>
    r.bootGate === true && r.dryRun === true
      ? [
          "--boot-gate (NETWARDEN_BOOT_GATE) cannot be combined with --dry-run: the boot gate writes the node's CNI configuration",
        ]
      : [],
  );
  return {
    nodeName: raw.nodeName as string,
    kubeconfig: raw.kubeconfig as string | undefined,
    mode: raw.mode as AgentConfig['mode'],
    taint: raw.taint as boolean,
    checkIntervalMs: raw.checkInterval as number,
    steadyIntervalMs: raw.steadyInterval as number,
    checkTimeoutMs: raw.checkTimeout as number,
    syncGraceMs: raw.syncGrace as number,
    openAfterPasses: raw.openAfterPasses as number,
    closeAfterFailures: raw.closeAfterFailures as number,
    maxGatedFraction: raw.maxGatedFraction as number,
    nodeSelector: raw.nodeSelector as string,
    listen: raw.listen as string,
    dryRun: raw.dryRun as boolean,
    proxyMode: raw.proxyMode as AgentConfig['proxyMode'],
    iptablesSave: raw.iptablesSave as string,
    kubeProxyMetrics: raw.kubeProxyMetrics as string,
    cniConfDir: raw.cniConfDir as string,
    ipamdUrl: raw.ipamdUrl as string,
    cniHealthUrl: raw.cniHealthUrl as string,
    clusterDnsCheck: raw.clusterDnsCheck as boolean,
    recycle: raw.recycle as boolean,
    recycleMaxConcurrent: raw.recycleMaxConcurrent as number,
    recyclePerMinute: raw.recyclePerMinute as number,
    recyclePerBoot: raw.recyclePerBoot as number,
    notReadyGraceMs: raw.notReadyGrace as number,
    podNetnsLocator: raw.podNetnsLocator as string,
    bootGate: raw.bootGate as boolean,
    bootGatePlugin: raw.bootGatePlugin as string,
    cniBinDir: raw.cniBinDir as string,
    bootGateSettings: bootGateSettingsOf(raw),
  };
}

/** The boot gate options (`netwarden cni-gate install` takes the same flags as the agent). */
export const BOOT_GATE_OPTIONS = [
  'cniConfDir',
  'cniBinDir',
  'bootGatePlugin',
  'bootGateStateDir',
  'bootGateDeadline',
  'bootGateMaxWait',
  'bootGateAgentStartGrace',
  'bootGateExemptNamespaces',
  'bootGateBootIdFile',
] as const satisfies readonly AgentOptionName[];

/** The boot gate's part of the configuration. */
export interface BootGateConfig {
  readonly cniConfDir: string;
  readonly cniBinDir: string;
  readonly bootGatePlugin: string;
  readonly settings: GateSettings;
}

/** Like {@link loadAgentConfig}, for the boot gate options only. */
export function loadBootGateConfig(
  flags: Partial<Record<AgentOptionName, string | boolean>>,
  env: NodeJS.ProcessEnv,
): BootGateConfig {
  const raw = parseOptions(BOOT_GATE_OPTIONS, flags, env);
  return {
    cniConfDir: raw.cniConfDir as string,
    cniBinDir: raw.cniBinDir as string,
    bootGatePlugin: raw.bootGatePlugin as string,
    settings: bootGateSettingsOf(raw),
  };
}

function bootGateSettingsOf(raw: Record<string, unknown>): GateSettings {
  return {
    ...DEFAULT_GATE_SETTINGS,
    stateDir: raw.bootGateStateDir as string,
    bootIdFile: raw.bootGateBootIdFile as string,
    bootGateDeadlineMs: raw.bootGateDeadline as number,
    maxWaitMs: raw.bootGateMaxWait as number,
    agentStartGraceMs: raw.bootGateAgentStartGrace as number,
    exemptNamespaces: raw.bootGateExemptNamespaces as string[],
  };
}

/**
 * Parses `keys` from flags over env over defaults; throws a `config-invalid` NetwardenError
 * naming every problem (`cross` adds checks across options, given the values that parsed).
 */
function parseOptions(
  keys: readonly AgentOptionName[],
  flags: Partial<Record<AgentOptionName, string | boolean>>,
  env: NodeJS.ProcessEnv,
  cross: (raw: Record<string, unknown>) => string[] = () => [],
): Record<string, unknown> {
  const raw: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const key of keys) {
    const opt: Option = AGENT_OPTIONS[key];
    const value = flags[key] ?? env[envName(key)] ?? opt.default;
    if (value === undefined) {
      if (!opt.schema.safeParse(undefined).success)
        problems.push(`${flagName(key)} (${envName(key)}) is required: ${opt.help}`);
      continue;
    }
    const parsed = opt.schema.safeParse(value);
    if (!parsed.success) {
      problems.push(
        `${flagName(key)} (${envName(key)}) = "${String(value)}": ${parsed.error.issues[0]?.message ?? 'invalid'}`,
      );
      continue;
    }
    raw[key] = parsed.data;
  }
  problems.push(...cross(raw));
  if (problems.length > 0) throw new NetwardenError('config-invalid', problems.join('; '));
  return raw;
}
