/**
 * API load of netwarden agents next to kube-proxy, measured on the lab's real API server: its own
 * metrics (`apiserver_request_total`, `apiserver_watch_events_total`, `apiserver_watch_events_sizes`,
 * `apiserver_response_sizes`) and its audit log (requests per user). Prints figures, asserts none.
 *
 * A fleet (src/lab/fleet.ts): `--nodes` Node objects created directly in the API, `--hosts`
 * namespaces each with a real kube-proxy, `--agents` agents (`--dry-run` by default) spread over
 * them, each for its own Node. Three phases, each measured over a quiet window (nothing changes)
 * and a status window (every Node's status patched once per `--status-period`, as kubelets do):
 *   base: control plane + status updates only; kube-proxy: + the kube-proxies; agents: + the agents.
 * kube-proxy per node = (kube-proxy − base) ÷ hosts; per agent = (agents − kube-proxy) ÷ agents.
 *
 * With `--compare-node-watches`, two more phases follow: `--agents` watches of every Node as full
 * objects (the agents' Node watch before the gated label), then as metadata only
 * (PartialObjectMetadata); each watcher's share = (phase − agents) ÷ agents. That is how the
 * breaker's inputs were chosen: see `nodeWatchOptions` in the output.
 *
 * With `--request-window D` (e.g. 12m) the agents and kube-proxies then run on for D with Node
 * status updates, and their requests per minute are counted from the audit log over that window:
 * long-lived watches are re-opened only every 5–10 minutes, which a 60 s window cannot show.
 *
 * Usage: sudo node_modules/.bin/node bench/api-load.ts [--agents 50] [--nodes 300] [--hosts 5]
 *   [--services 100] [--window 60s] [--status-period 60s] [--request-window 0|12m]
 *   [--entry src/cli/main.ts] [--agent-args "--dry-run=true"] [--compare-node-watches]
 *   [--output text|json]
 */
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { parseDuration } from '../src/core/duration.ts';
import { countByUser, readAuditLog, requestsIn } from '../src/lab/audit.ts';
import { Fleet } from '../src/lab/fleet.ts';
import type { PromSample } from '../src/sources/kube-proxy-metrics.ts';

const { values } = parseArgs({
  options: {
    agents: { type: 'string', default: '50' },
    nodes: { type: 'string', default: '300' },
    hosts: { type: 'string', default: '5' },
    services: { type: 'string', default: '100' },
    window: { type: 'string', default: '60s' },
    'status-period': { type: 'string', default: '60s' },
    entry: { type: 'string' },
    'agent-args': { type: 'string', default: '--dry-run=true' },
    'request-window': { type: 'string', default: '0' },
    'compare-node-watches': { type: 'boolean', default: false },
    output: { type: 'string', default: 'text' },
  },
});

function positive(name: string, v: string | undefined): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name} must be a positive integer, got "${v}"`);
  return n;
}
function duration(name: string, v: string | undefined): number {
  const ms = parseDuration(v ?? '');
  if (typeof ms !== 'number' || ms <= 0) throw new Error(`--${name}: "${v}" is not a duration (e.g. 60s)`);
  return ms;
}
const agents = positive('agents', values.agents);
const nodes = positive('nodes', values.nodes);
const hosts = positive('hosts', values.hosts);
const services = positive('services', values.services);
const windowMs = duration('window', values.window);
const statusPeriodMs = duration('status-period', values['status-period']);
// Watches are re-opened every 5-10 minutes: their requests show only in a window that long.
const requestWindowMs =
  values['request-window'] === '0' ? 0 : duration('request-window', values['request-window']);
if (agents > nodes || hosts > nodes) throw new Error('--agents and --hosts must not exceed --nodes');
if (values.output !== 'text' && values.output !== 'json') throw new Error('--output must be text or json');
const agentArgs = (values['agent-args'] ?? '').split(' ').filter((a) => a.length > 0);
const log = (l: string): void => void process.stderr.write(`${l}\n`);

const AGENT_USER = 'system:serviceaccount:netwarden:netwarden-agent';
const KUBE_PROXY_USER = 'system:kube-proxy';

/** Counters summed per key over one scrape. */
interface Scrape {
  readonly atMs: number;
  /** `verb` → requests. */
  readonly requests: Record<string, number>;
  /** `resource` → watch events sent / their bytes. */
  readonly watchEvents: Record<string, number>;
  readonly watchBytes: Record<string, number>;
  /** `verb resource` → response bytes of non-watch requests. */
  readonly responseBytes: Record<string, number>;
  /** Watches open now, by resource. */
  readonly watchesOpen: Record<string, number>;
}

function sumBy(samples: readonly PromSample[], name: string, key: (l: Record<string, string>) => string) {
  const out: Record<string, number> = {};
  for (const s of samples) if (s.name === name) out[key(s.labels)] = (out[key(s.labels)] ?? 0) + s.value;
  return out;
}

async function scrape(fleet: Fleet): Promise<Scrape> {
  const samples = await fleet.apiMetrics();
  const res = (l: Record<string, string>) => `${l.resource ?? ''}${l.subresource ? `/${l.subresource}` : ''}`;
  return {
    atMs: Date.now(),
    requests: sumBy(samples, 'apiserver_request_total', (l) => l.verb ?? ''),
    watchEvents: sumBy(samples, 'apiserver_watch_events_total', res),
    watchBytes: sumBy(samples, 'apiserver_watch_events_sizes_sum', res),
    // GET and LIST only: the API server records a watch's whole stream here too (as verb WATCH).
    watchesOpen: sumBy(
      samples.filter((s) => s.labels.verb === 'WATCH'),
      'apiserver_longrunning_requests',
      res,
    ),
    responseBytes: sumBy(
      samples.filter((s) => s.labels.verb === 'LIST' || s.labels.verb === 'GET'),
      'apiserver_response_sizes_sum',
      (l) => `${l.verb ?? ''} ${res(l)}`,
    ),
  };
}

/** Per-minute rates between two scrapes, plus the audit log's requests per user. */
interface Rates {
  readonly minutes: number;
  readonly requestsByVerb: Record<string, number>;
  readonly watchEventsByResource: Record<string, number>;
  readonly watchBytesByResource: Record<string, number>;
  readonly responseBytes: number;
  readonly auditByUser: Record<string, Record<string, number>>;
  readonly statusWrites: number;
  readonly watchesOpen: Record<string, number>;
}

function diff(a: Record<string, number>, b: Record<string, number>, per: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const d = ((b[k] ?? 0) - (a[k] ?? 0)) / per;
    if (Math.abs(d) > 1e-9) out[k] = d;
  }
  return out;
}

async function measure(fleet: Fleet, label: string): Promise<Rates> {
  const writes0 = fleet.statusWrites;
  const a = await scrape(fleet);
  log(`  measuring "${label}" for ${windowMs / 1000} s`);
  await new Promise((r) => setTimeout(r, windowMs));
  const b = await scrape(fleet);
  const minutes = (b.atMs - a.atMs) / 60_000;
  const audit = requestsIn(readAuditLog(fleet.cp.auditLogPath as string), a.atMs, b.atMs);
  const byUser = countByUser(audit);
  for (const u of Object.values(byUser)) for (const k of Object.keys(u)) u[k] = (u[k] ?? 0) / minutes;
  return {
    minutes,
    requestsByVerb: diff(a.requests, b.requests, minutes),
    watchEventsByResource: diff(a.watchEvents, b.watchEvents, minutes),
    watchBytesByResource: diff(a.watchBytes, b.watchBytes, minutes),
    responseBytes: Object.values(diff(a.responseBytes, b.responseBytes, minutes)).reduce((x, y) => x + y, 0),
    auditByUser: byUser,
    statusWrites: (fleet.statusWrites - writes0) / minutes,
    watchesOpen: b.watchesOpen,
  };
}

const total = (r: Record<string, number>): number => Object.values(r).reduce((x, y) => x + y, 0);
const round = (x: number, d = 1): number => Math.round(x * 10 ** d) / 10 ** d;
const roundAll = (r: Record<string, number>, d = 1) =>
  Object.fromEntries(Object.entries(r).map(([k, v]) => [k, round(v, d)]));

/**
 * The resources agents and kube-proxy watch. The API server's own informers watch ~30 more (RBAC,
 * flow control, …); their bookmarks and resumes differ from window to window and are left out.
 */
const CLIENT_RESOURCES = new Set(['nodes', 'services', 'endpointslices', 'pods', 'servicecidrs']);
const clientOnly = (r: Record<string, number>) =>
  Object.fromEntries(Object.entries(r).filter(([k]) => CLIENT_RESOURCES.has(k)));

/** One client's share of a phase: (with − without) ÷ count, per minute. */
function share(withIt: Rates, without: Rates, count: number, user: string) {
  const events = clientOnly(diff(without.watchEventsByResource, withIt.watchEventsByResource, count));
  const bytes = clientOnly(diff(without.watchBytesByResource, withIt.watchBytesByResource, count));
  const listBytes = (withIt.responseBytes - without.responseBytes) / count;
  const requests = Object.fromEntries(
    Object.entries(withIt.auditByUser[user] ?? {}).map(([k, v]) => [k, v / count]),
  );
  return {
    watchesOpen: round(total(clientOnly(diff(without.watchesOpen, withIt.watchesOpen, count)))),
    requestsPerMin: round(total(requests), 2),
    watchEventsPerMin: round(total(events)),
    bytesPerMin: Math.round(total(bytes) + Math.max(0, listBytes)),
    watchBytesPerMin: Math.round(total(bytes)),
    listBytesPerMin: Math.round(Math.max(0, listBytes)),
    requests: roundAll(requests, 2),
    watchEventsByResource: roundAll(events),
    watchBytesByResource: roundAll(bytes, 0),
  };
}
type Share = ReturnType<typeof share>;

/**
 * 5,000 nodes, each status-updated at the measured rate. Node watch traffic scales with the nodes a
 * client watches: all of them (the share of status changes it receives ≈ 1) or a fixed few (its own
 * node, gated ones). Everything else (Services, EndpointSlices, own pods) does not grow with nodes.
 */
function extrapolate(s: Share, receivedShare: number, fleetNodes: number) {
  const everyNode = receivedShare > 0.5;
  const scale = everyNode ? 5_000 / fleetNodes : 1;
  const nodeEvents = s.watchEventsByResource.nodes ?? 0;
  const nodeBytes = s.watchBytesByResource.nodes ?? 0;
  const events = s.watchEventsPerMin - nodeEvents + nodeEvents * scale;
  const bytes = s.bytesPerMin - nodeBytes + nodeBytes * scale;
  return {
    receivesEveryNodeChange: everyNode,
    requestsPerMin: s.requestsPerMin,
    watchEventsPerMin: round(events),
    bytesPerMin: Math.round(bytes),
    clusterWide: {
      requestsPerMin: Math.round(s.requestsPerMin * 5_000),
      watchEventsPerMin: Math.round(events * 5_000),
      bytesPerMin: Math.round(bytes * 5_000),
    },
  };
}

let fleetRef: Fleet | undefined;
for (const sig of ['SIGINT', 'SIGTERM'] as const)
  process.once(sig, () => {
    log(`${sig}: removing the fleet`);
    // Before the fleet is up, its run has no owner left once we exit: the next lab command removes it.
    void (fleetRef?.down() ?? Promise.resolve()).finally(() => process.exit(130));
  });
const fleet = await Fleet.up({ nodes, hosts, services, endpoints: 5, log });
fleetRef = fleet;
try {
  const quiet: Record<string, Rates> = {};
  const status: Record<string, Rates> = {};
  const phase = async (name: string): Promise<void> => {
    fleet.stopStatusUpdates();
    await new Promise((r) => setTimeout(r, 5_000));
    quiet[name] = await measure(fleet, `${name}, quiet`);
    fleet.startStatusUpdates(statusPeriodMs);
    status[name] = await measure(fleet, `${name}, Node status every ${statusPeriodMs / 1000} s`);
  };
  await phase('base');
  log(`starting ${hosts} kube-proxies`);
  await fleet.startKubeProxies();
  await new Promise((r) => setTimeout(r, 15_000));
  await phase('kubeProxy');
  log(`starting ${agents} agents (${values.entry ?? 'src/cli/main.ts'} ${agentArgs.join(' ')})`);
  await fleet.startAgents(agents, { ...(values.entry ? { entry: values.entry } : {}), args: agentArgs });
  await new Promise((r) => setTimeout(r, 30_000)); // initial lists done, dry-run gates opened
  await phase('agents');
  let nodeWatchOptions: Record<string, unknown> | undefined;
  if (values['compare-node-watches']) {
    const options: Record<string, unknown> = {};
    for (const view of ['full', 'metadata'] as const) {
      log(`opening ${agents} ${view} watches of every Node`);
      const close = fleet.openNodeWatches(agents, view);
      await new Promise((r) => setTimeout(r, 15_000)); // past the initial ADDED events
      await phase(`${view}NodeWatch`);
      close();
      const watcher = share(status[`${view}NodeWatch`] as Rates, status.agents as Rates, agents, '');
      const writes = (status[`${view}NodeWatch`] as Rates).statusWrites;
      options[view] = {
        watchEventsPerMin: watcher.watchEventsPerMin,
        bytesPerMin: watcher.watchBytesPerMin,
        perNodeStatusChange: {
          events: round((watcher.watchEventsByResource.nodes ?? 0) / writes, 3),
          bytes: Math.round((watcher.watchBytesByResource.nodes ?? 0) / writes),
        },
        extrapolated5000: extrapolate(watcher, 1, nodes),
      };
    }
    nodeWatchOptions = {
      what: 'per watcher of every Node (the breaker before the gated label: full; option b: metadata); compare perAgent.perNodeStatusChange (option a, the gated label)',
      ...options,
    };
  }
  const [qb, qk, qa] = [quiet.base, quiet.kubeProxy, quiet.agents] as Rates[];
  const [sb, sk, sa] = [status.base, status.kubeProxy, status.agents] as Rates[];
  const perAgent = share(sa as Rates, sk as Rates, agents, AGENT_USER);
  const kubeProxyPerNode = share(sk as Rates, sb as Rates, hosts, KUBE_PROXY_USER);
  const writesPerMin = (sa as Rates).statusWrites;
  const received = (s: Share) => (s.watchEventsByResource.nodes ?? 0) / writesPerMin;
  let requestRates: Record<string, unknown> | undefined;
  if (requestWindowMs > 0) {
    log(`  counting requests for ${requestWindowMs / 60_000} min`);
    const from = Date.now();
    await new Promise((r) => setTimeout(r, requestWindowMs));
    const to = Date.now();
    const byUser = countByUser(requestsIn(readAuditLog(fleet.cp.auditLogPath as string), from, to));
    const perMin = (user: string, count: number) => {
      const r = Object.fromEntries(
        Object.entries(byUser[user] ?? {}).map(([k, v]) => [k, round(v / count / ((to - from) / 60_000), 3)]),
      );
      return { requestsPerMin: round(total(r), 3), requests: r };
    };
    requestRates = {
      windowMin: round((to - from) / 60_000),
      perAgent: perMin(AGENT_USER, agents),
      kubeProxyPerNode: perMin(KUBE_PROXY_USER, hosts),
    };
  }
  const result = {
    agents,
    nodes,
    hosts,
    services,
    windowS: windowMs / 1000,
    statusPeriodS: statusPeriodMs / 1000,
    nodeStatusWritesPerMin: round(writesPerMin),
    perAgent,
    kubeProxyPerNode,
    quiet: {
      perAgent: share(qa as Rates, qk as Rates, agents, AGENT_USER),
      kubeProxyPerNode: share(qk as Rates, qb as Rates, hosts, KUBE_PROXY_USER),
    },
    perNodeStatusChange: {
      agentEvents: round(received(perAgent), 3),
      agentBytes: Math.round((perAgent.watchBytesByResource.nodes ?? 0) / writesPerMin),
      kubeProxyEvents: round(received(kubeProxyPerNode), 3),
      kubeProxyBytes: Math.round((kubeProxyPerNode.watchBytesByResource.nodes ?? 0) / writesPerMin),
    },
    extrapolated5000: {
      model:
        'each Node status-updated at the measured rate; node watch traffic scales with the nodes a client watches, Services/EndpointSlices/pods do not',
      perAgent: extrapolate(perAgent, received(perAgent), nodes),
      kubeProxyPerNode: extrapolate(kubeProxyPerNode, received(kubeProxyPerNode), nodes),
    },
    ...(requestRates ? { requestRates } : {}),
    ...(nodeWatchOptions ? { nodeWatchOptions } : {}),
    phases: { quiet, status },
    agentWrites: Object.fromEntries(
      Object.entries((sa as Rates).auditByUser[AGENT_USER] ?? {}).filter(
        ([k]) => !/^(get|list|watch) /.test(k),
      ),
    ),
    machine: { loadavg1: round(loadavg()[0] ?? 0, 2), note: 'shared 2-core machine' },
  };
  if (values.output === 'json') console.log(JSON.stringify(result, null, 2));
  else {
    const line = (
      what: string,
      s: { requestsPerMin: number; watchEventsPerMin: number; bytesPerMin: number },
    ) =>
      `${what}: ${s.requestsPerMin} requests/min, ${s.watchEventsPerMin} watch events/min, ${Math.round(s.bytesPerMin / 1024)} KiB/min`;
    console.log(
      `${agents} agents, ${nodes} Nodes, ${hosts} kube-proxies, ${services} Services; Node status every ${statusPeriodMs / 1000} s`,
    );
    console.log(line('per agent', perAgent));
    console.log(line('per kube-proxy', kubeProxyPerNode));
    console.log(line('per agent, quiet', result.quiet.perAgent));
    console.log(line('per kube-proxy, quiet', result.quiet.kubeProxyPerNode));
    console.log(line('at 5,000 nodes, per agent', result.extrapolated5000.perAgent));
    console.log(line('at 5,000 nodes, per kube-proxy', result.extrapolated5000.kubeProxyPerNode));
    console.log(
      `agent writes/min: ${JSON.stringify(result.agentWrites)}; load average ${result.machine.loadavg1}`,
    );
  }
} finally {
  const problems = await fleet.down();
  if (problems.length > 0) log(`clean-up problems: ${problems.join('; ')}`);
}
