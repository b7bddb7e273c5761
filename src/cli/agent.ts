/** `netwarden agent`: the node agent (a DaemonSet with host networking; a process in the lab). */
import { open, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import pino, { type Logger } from 'pino';
import { Registry } from 'prom-client';
import { WatchCaches } from '../agent/caches.ts';
import {
  AGENT_OPTIONS,
  type AgentConfig,
  type AgentOptionName,
  bootGateSettings,
  envName,
  flagName,
  loadAgentConfig,
} from '../agent/config.ts';
import { Agent } from '../agent/loop.ts';
import { NodeTotal } from '../agent/node-total.ts';
import { ReadinessGate } from '../agent/readiness-gate.ts';
import { Recycler } from '../agent/recycler.ts';
import { agentChecks } from '../agent/registry.ts';
import { Repair } from '../agent/repair.ts';
import { startServer, startStatusServer } from '../agent/server.ts';
import { KUBE_PROXY_LABEL_SELECTOR } from '../assess/kube-proxy-presence.ts';
import { BootGate } from '../cni-gate/boot-gate.ts';
import { systemClock } from '../core/clock.ts';
import { AGENT_CONTROLLER, GATED_LABEL } from '../core/gate.ts';
import { DEFAULT_RECYCLE_LIMITS } from '../core/rate-limit.ts';
import { kernelBootTimeMs } from '../host/boot-time.ts';
import { run, runStream } from '../host/exec.ts';
import { openHeapTrimmer } from '../host/heap-trim.ts';
import { httpGet } from '../host/http.ts';
import { type NetnsLocator, netnsLocationAt, ProcNetnsLocator } from '../host/netns-locator.ts';
import { probeNetns } from '../host/netns-probe.ts';
import { tcpConnectStaggered } from '../host/tcp.ts';
import { connect, type KubeApis } from '../kube/connect.ts';

/** Reads the regular files of a folder (the CNI config dir) with their mtimes; throws ENOENT/EACCES as is. */
async function readDir(path: string): Promise<{ name: string; text: string; mtimeMs: number }[]> {
  const names = (await readdir(path, { withFileTypes: true })).filter((e) => e.isFile()).map((e) => e.name);
  return Promise.all(
    names.map(async (name) => ({
      name,
      text: await readFile(join(path, name), 'utf8'),
      mtimeMs: (await stat(join(path, name))).mtimeMs,
    })),
  );
}

/** A small file's text, at most `maxBytes` (one read: /proc files fit); throws ENOENT/EACCES as is, and past the cap. */
async function readSmallFile(path: string, opts: { maxBytes: number }): Promise<string> {
  const file = await open(path, 'r');
  try {
    const buf = Buffer.alloc(opts.maxBytes + 1);
    const { bytesRead } = await file.read(buf, 0, buf.length, 0);
    if (bytesRead > opts.maxBytes) throw new Error(`${path}: larger than ${opts.maxBytes} bytes`);
    return buf.toString('utf8', 0, bytesRead);
  } finally {
    await file.close();
  }
}

/** How pods' network namespaces are found: through /proc and the pods' cgroups (needs hostPID). */
function makeLocator(_cfg: AgentConfig): NetnsLocator {
  return new ProcNetnsLocator({});
}

/** Wires repair: the recycler over the real Eviction and Event APIs, netns probes, the locator. */
function makeRepair(
  cfg: AgentConfig,
  apis: KubeApis,
  registry: Registry,
  log: Logger,
  locator: NetnsLocator,
): Repair {
  const recycler = new Recycler({
    evictions: apis.eviction,
    events: apis.events,
    clock: systemClock,
    registry,
    nodeName: cfg.nodeName,
    dryRun: cfg.dryRun,
    limits: {
      ...DEFAULT_RECYCLE_LIMITS,
      maxConcurrent: cfg.recycleMaxConcurrent,
      maxPerMinute: cfg.recyclePerMinute,
      maxPerBoot: cfg.recyclePerBoot,
      // A PDB refusal while replacements start clears within seconds: retry soon, doubling.
      backoffBaseMs: 2_000,
    },
  });
  return new Repair({
    recycler,
    locator,
    selfNetns: () => netnsLocationAt('/proc/self/ns/net', 'agent namespace'),
    probe: (loc, plan) => probeNetns(loc, plan),
    clock: systemClock,
    log,
    policy: { notReadyGraceMs: cfg.notReadyGrace },
    allowSpecialProbeTargets: cfg.probeTargetsAllowSpecial,
    // The limits and the loop guard live on the Node, so an agent restart does not reset them.
    ...(cfg.dryRun
      ? {}
      : {
          persist: async (a: Record<string, string>) =>
            void (await apis.nodes.setAnnotations(cfg.nodeName, a)),
        }),
  });
}

/** Adds `agent` to the program: every option with its env name and default in --help. */
export function registerAgentCommand(program: Command): void {
  const cmd = program
    .command('agent')
    .description(
      "verify this node's network data path continuously and gate the node (condition + taint) until it works",
    );
  for (const [key, opt] of Object.entries(AGENT_OPTIONS)) {
    const isBool = 'default' in opt && (opt.default === 'true' || opt.default === 'false');
    const flag = isBool ? `${flagName(key)} [bool]` : `${flagName(key)} <value>`;
    const dflt = 'default' in opt ? ` (default: ${opt.default === '' ? '""' : opt.default})` : '';
    cmd.option(flag, `${opt.help}; env ${envName(key)}${dflt}`);
  }
  cmd.addHelpText(
    'after',
    `
Writes on its Node, only on change: condition netwarden.dev/DataPathReady, taint
netwarden.dev/datapath-unready:NoSchedule with the label netwarden.dev/gated=true beside it, annotations
netwarden.dev/boot-id, netwarden.dev/datapath-ready-at and netwarden.dev/boot-seen-at. A new boot (status.nodeInfo.bootID)
closes the gate at once; it opens after --open-after-passes passing rounds. RBAC: deploy/chart/netwarden/templates/rbac.yaml.
Serves /metrics, /healthz and /readyz on --listen, /status (evidence, pod names) on --status-listen
(localhost by default). A boot is held at most --max-boot-hold. Flags win over env, env over defaults.

Example (lab): netwarden agent --node-name node-1 --kubeconfig /path/agent.kubeconfig --listen 127.0.0.1:9746`,
  );
  cmd.action(async (flags: Partial<Record<AgentOptionName, string | boolean>>) => {
    const normalized: Partial<Record<AgentOptionName, string | boolean>> = {};
    for (const [k, v] of Object.entries(flags)) normalized[k as AgentOptionName] = v === true ? 'true' : v;
    const cfg = loadAgentConfig(normalized, process.env);
    const log = pino({ base: { node: cfg.nodeName } });
    const apis = connect({
      kubeconfigPath: cfg.kubeconfig,
      controller: AGENT_CONTROLLER,
      instance: cfg.nodeName,
    });
    const registry = new Registry();
    // The boot gate starts first: from its first heartbeat the plugin holds pods (rather than
    // failing open as "agent absent") while the checks below get going.
    const bootGate = cfg.bootGate
      ? new BootGate({
          settings: bootGateSettings(cfg),
          folders: { confDir: cfg.cniConfDir, binDir: cfg.cniBinDir },
          pluginSource: cfg.bootGatePlugin,
          log: log.child({ component: 'boot-gate' }),
          registry,
        })
      : undefined;
    await bootGate?.start();
    const caches = new WatchCaches(cfg.nodeName, { settleMs: cfg.syncGrace });
    const locator = makeLocator(cfg);
    const repair = cfg.recycle ? makeRepair(cfg, apis, registry, log, locator) : undefined;
    const readinessGate = cfg.podReadinessGate
      ? new ReadinessGate({
          pods: apis.pods,
          locator,
          probe: (loc, plan) => probeNetns(loc, plan),
          clock: systemClock,
          log,
          dryRun: cfg.dryRun,
          allowSpecialProbeTargets: cfg.probeTargetsAllowSpecial,
        })
      : undefined;
    const { checks, podNetwork } = agentChecks(cfg);
    const nodeSelector = cfg.nodeSelector || undefined;
    const nodeTotal = new NodeTotal({
      count: () => apis.nodes.count(nodeSelector),
      clock: systemClock,
      log,
    });
    void nodeTotal.fresh(); // one count at start, so a later round rarely waits for one
    const bootTimeMs = await kernelBootTimeMs(cfg.bootTimeFile);
    const heapTrimmer = cfg.heapTrim ? openHeapTrimmer() : undefined;
    if (heapTrimmer?.ok)
      log.info(
        "heap trim: after rounds, at most once a minute, the C heap's free memory goes back to the kernel (glibc malloc_trim through Node.js's experimental node:ffi; --heap-trim=false turns it off)",
      );
    else if (heapTrimmer) log.info({ reason: heapTrimmer.reason }, 'heap trim: not available, left off');
    const agent = new Agent({
      cfg,
      nodes: apis.nodes,
      events: apis.events,
      caches,
      nodeTotal,
      checks,
      podNetwork,
      listKubeProxyPods: () => apis.pods.listMatching({ labelSelector: KUBE_PROXY_LABEL_SELECTOR }, 100),
      ...(bootTimeMs !== undefined ? { bootTimeMs } : {}),
      checkContext: {
        exec: (c, a, o) => run(c, a, o),
        execStream: (c, a, o, onStdout) => runStream(c, a, o, onStdout),
        httpGet: (u, o) => httpGet(u, o),
        tcp: (h, p, t) => tcpConnectStaggered(h, p, t),
        readDir,
        readFile: readSmallFile,
        nowMs: () => systemClock.now(),
      },
      clock: systemClock,
      log,
      registry,
      ...(repair ? { repair } : {}),
      ...(readinessGate ? { readinessGate } : {}),
      ...(heapTrimmer?.ok ? { heapTrimmer: heapTrimmer.trimmer } : {}),
    });
    // A new boot of this node wakes the loop at once (the gate must close before pods arrive).
    // Service and EndpointSlice changes wake it once they have settled (--sync-grace), coalesced:
    // waking on each of them would turn Service churn into a busy loop.
    const poke = (): void => agent.poke();
    const pokeWhenSettled = (): void => agent.pokeWhenSettled();
    // Every change of this Node also goes to the boot gate: the watch event that shows the gate
    // opened on this boot releases the held pod network set-ups.
    const nodeHandlers = caches.handlers('node', poke);
    // Nodes: this one by name, and for the breaker only the gated ones (by the label the agents
    // keep on their own Node beside the taint) — never every Node (caches.ts).
    const gatedSelector = [GATED_LABEL, ...(nodeSelector ? [nodeSelector] : [])].join(',');
    const watches = await Promise.all([
      apis.nodes.watch(
        bootGate
          ? {
              ...nodeHandlers,
              onEvent: (ev) => {
                nodeHandlers.onEvent(ev);
                bootGate.nodeChanged(caches.node());
              },
            }
          : nodeHandlers,
        { name: cfg.nodeName },
      ),
      apis.nodes.watch(caches.handlers('gated'), { labelSelector: gatedSelector }),
      apis.services.watchServices(caches.handlers('services', pokeWhenSettled)),
      apis.services.watchEndpointSlices(caches.handlers('slices', pokeWhenSettled)),
      // A change of this node's pods serves the readiness gate within a second (between rounds).
      apis.pods.watchOnNode(
        cfg.nodeName,
        caches.handlers('pods', () => agent.pokeReadiness()),
      ),
    ]);
    const server = await startServer(cfg.listen, registry, agent);
    const statusServer = cfg.statusListen ? await startStatusServer(cfg.statusListen, agent) : undefined;
    log.info(
      { listen: cfg.listen, mode: cfg.mode, taint: cfg.taint, dryRun: cfg.dryRun, bootGate: cfg.bootGate },
      'agent started',
    );
    const stop = (): void => agent.stop();
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
    await agent.run();
    server.close();
    statusServer?.close();
    await Promise.all(watches.map((w) => w.stop()));
    await bootGate?.stop(); // stays installed: a restart must not open a window
    log.info('agent stopped');
  });
}
