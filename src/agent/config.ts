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
  maxBootHold: {
    schema: duration(24 * 3_600_000),
    default: '15m',
    help: 'a new boot is held at most this long: past it the gate opens with reason BootHoldExpired (a Warning Event and netwarden_boot_hold_expired_total), whatever the checks say',
  },
  bootHoldGrace: {
    schema: duration(24 * 3_600_000),
    default: '5m',
    help: 'a boot hold lasting longer than this counts against --max-gated-fraction (so a full-cluster restart cannot leave most nodes tainted)',
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
    help: 'address of /metrics, /healthz and /readyz (no pod names or evidence are served here)',
  },
  statusListen: {
    schema: z.union([z.literal(''), z.string().regex(/^[^:]*:\d+$/, 'must be host:port or empty')]),
    default: '127.0.0.1:9747',
    help: "address of /status (this node's checks with evidence, pod names and repair decisions); localhost by default, empty disables",
  },
  dryRun: { schema: bool, default: 'false', help: 'decide and log, write nothing to the cluster' },
  kubeProxy: {
    schema: z.enum(['auto', 'expected', 'absent']),
    default: 'auto',
    help: 'whether kube-proxy serves this node; auto decides from evidence (a kube-proxy pod bound here, kube-proxy answering here, kube-proxy pods elsewhere while this node is new) and treats a cluster without kube-proxy as not applicable',
  },
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
  nftGenerationBin: {
    schema: z.union([z.literal(''), absolutePath]),
    default: '/opt/netwarden/bin/netwarden-nft-generation',
    help: 'the netwarden-nft-generation executable (shipped in the agent image): once per steady round it reads the nftables ruleset generation, which the kernel bumps on every change; while it stands, that round reuses the last listings of nftables state (iptables-nft, nft) instead of running them again. Legacy iptables is always listed. Empty: list everything every round',
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
  podReadinessGate: {
    schema: bool,
    default: 'true',
    help: "set the condition netwarden.dev/PodNetworkReady on this node's pods that list it in spec.readinessGates (True once their own-namespace probe passes on this boot)",
  },
  probeTargetsAllowSpecial: {
    schema: bool,
    default: 'false',
    help: "let pods' netwarden.dev/probe-targets name loopback, link-local or the instance metadata address (refused by default)",
  },
  podNetnsLocator: {
    schema: z.enum(['proc']),
    default: 'proc',
    help: "how to find a pod's network namespace: proc (a container process's /proc/<pid>/ns/net via its cgroup, whatever the runtime; needs hostPID)",
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
  bootTimeFile: {
    schema: absolutePath,
    default: '/proc/stat',
    help: 'the file whose `btime <epoch seconds>` line says when this node booted (labs whose nodes share one kernel point it elsewhere)',
  },
  heapTrim: {
    schema: bool,
    default: 'true',
    help: "after a round, at most once a minute, give the C heap's free memory back to the kernel (glibc's malloc_trim, called through Node.js's experimental node:ffi; ~7 MB less RSS at 10,000 Services); false: never",
  },
} as const satisfies Record<string, Option>;

/** Option names. */
export type AgentOptionName = keyof typeof AGENT_OPTIONS;

/** The schema of the whole configuration, one entry per option. */
export const AGENT_CONFIG_SCHEMA = z.object(
  Object.fromEntries(Object.entries(AGENT_OPTIONS).map(([k, o]) => [k, o.schema])) as {
    [K in AgentOptionName]: (typeof AGENT_OPTIONS)[K]['schema'];
  },
);

/** The validated configuration (durations in milliseconds). */
export type AgentConfig = z.infer<typeof AGENT_CONFIG_SCHEMA>;

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
 * Throws a `config-invalid` NetwardenError naming the flag and env variable of every problem.
 */
export function loadAgentConfig(
  flags: Partial<Record<AgentOptionName, string | boolean>>,
  env: NodeJS.ProcessEnv,
): AgentConfig {
  // Each value passes its own schema first (for messages naming the flag); the whole schema gives
  // the object its inferred type.
  const cfg = AGENT_CONFIG_SCHEMA.parse(
    validOptions(Object.keys(AGENT_OPTIONS) as AgentOptionName[], flags, env),
  );
  if (cfg.bootGate && cfg.dryRun)
    throw new NetwardenError(
      'config-invalid',
      "--boot-gate (NETWARDEN_BOOT_GATE) cannot be combined with --dry-run: the boot gate writes the node's CNI configuration",
    );
  // The boot gate must not hold pods after the node gate stopped holding the node unverified.
  if (cfg.bootGate && cfg.bootGateDeadline > cfg.maxBootHold)
    throw new NetwardenError(
      'config-invalid',
      `--boot-gate-deadline (${formatDuration(cfg.bootGateDeadline)}) must not exceed --max-boot-hold (${formatDuration(cfg.maxBootHold)})`,
    );
  return cfg;
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
export type BootGateConfig = Pick<AgentConfig, (typeof BOOT_GATE_OPTIONS)[number]>;

/** Like {@link loadAgentConfig}, for the boot gate options only. */
export function loadBootGateConfig(
  flags: Partial<Record<AgentOptionName, string | boolean>>,
  env: NodeJS.ProcessEnv,
): BootGateConfig {
  return AGENT_CONFIG_SCHEMA.pick(
    Object.fromEntries(BOOT_GATE_OPTIONS.map((k) => [k, true])) as {
      [K in (typeof BOOT_GATE_OPTIONS)[number]]: true;
    },
  ).parse(validOptions(BOOT_GATE_OPTIONS, flags, env));
}

/** The plugin's settings from the boot gate options. */
export function bootGateSettings(cfg: BootGateConfig): GateSettings {
  return {
    ...DEFAULT_GATE_SETTINGS,
    stateDir: cfg.bootGateStateDir,
    bootIdFile: cfg.bootGateBootIdFile,
    bootGateDeadlineMs: cfg.bootGateDeadline,
    maxWaitMs: cfg.bootGateMaxWait,
    agentStartGraceMs: cfg.bootGateAgentStartGrace,
    exemptNamespaces: cfg.bootGateExemptNamespaces,
  };
}

/**
 * The raw values of `keys` (flags over env over defaults), each checked against its option's
 * schema; throws a `config-invalid` NetwardenError naming every problem with flag and env name.
 */
function validOptions(
  keys: readonly AgentOptionName[],
  flags: Partial<Record<AgentOptionName, string | boolean>>,
  env: NodeJS.ProcessEnv,
): Record<string, string | boolean> {
  const given: Record<string, string | boolean> = {};
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
    given[key] = value;
  }
  if (problems.length > 0) throw new NetwardenError('config-invalid', problems.join('; '));
  return given;
}
