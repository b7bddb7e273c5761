/**
 * The lab's network, built only from objects the lab creates: a "VPC" namespace holding a bridge
 * (the VPC router at 10.250.0.1) and the API server's lab address (10.251.0.1), one namespace per
 * node attached to the bridge by a veth pair, and pod namespaces wired by the CNI plugins. The
 * machine's root namespace gets no interface, route or rule; no lab namespace has a route out.
 *
 * Node routing copies the shape of the AWS VPC CNI on a secondary ENI:
 * - main table: the pods' /32 host routes (CNI `ptp`), the node subnet, other nodes' pod CIDRs via
 *   the VPC router; deliberately no default route;
 * - ENI table (2): `default via 10.250.0.1`, i.e. everything outside the pod network, such as the
 *   API server's endpoint;
 * - rules: per pod `to <podIP> lookup main` (512) and `from <podIP> lookup 2` (1536), added by the
 *   lab's VPC-rules CNI plugin; the node's own traffic reaches table 2 by `iif lo` after main.
 * A pod without its 1536 rule therefore still resolves DNS (CoreDNS is a pod: main table) but
 * cannot reach the API server (network unreachable): the field failure.
 */
import { NetwardenError } from '../errors.ts';
import { run, runOk } from '../host/exec.ts';

/** The VPC router on the lab bridge. */
export const VPC_ROUTER_IP = '10.250.0.1';
/** The API server's lab address: the `kubernetes` Service endpoint. */
export const API_LAB_IP = '10.251.0.1';
/** The node subnet. */
export const NODE_SUBNET = '10.250.0.0/24';
/** Routing table of the modelled secondary ENI (VPC CNI: device number + 1). */
export const ENI_TABLE = 2;
/** Priorities of the VPC CNI's per-pod rules. */
export const TO_POD_RULE_PRIORITY = 512;
export const FROM_POD_RULE_PRIORITY = 1536;
/** The node's own traffic falls through to the ENI table after main (32766) and default (32767). */
const NODE_EGRESS_RULE_PRIORITY = 32800;

/** Namespace names of one lab run. */
export function vpcNetns(runId: string): string {
  return `${runId}-vpc`;
}
export function nodeNetns(runId: string, node: string): string {
  return `${runId}-${node}`;
}

/** The IP of the node with 1-based `index`. */
export function nodeIp(index: number): string {
  if (index < 1 || index > 200) throw new NetwardenError('usage', `node index ${index} out of range 1..200`);
  return `10.250.0.${10 + index}`;
}

/**
 * The node's MAC address, the same on every boot: a real node keeps its ENI across reboots. A new
 * MAC would leave the VPC router's ARP entry pointing at the old one, and traffic to the node
 * would vanish until that entry expires (~30 s) — a lab artefact, not the failure under study.
 */
export function nodeMac(index: number): string {
  return `02:4e:57:00:00:${index.toString(16).padStart(2, '0')}`;
}

/** Runs `ip …` (or another command) inside a namespace; throws with stderr on failure. */
export async function inNetns(netns: string, cmd: string, args: readonly string[]): Promise<string> {
  const res = await runOk('ip', ['netns', 'exec', netns, cmd, ...args], { timeoutMs: 15_000 });
  return res.stdout;
}

async function ip(args: readonly string[]): Promise<void> {
  await runOk('ip', args, { timeoutMs: 15_000 });
}

async function sysctls(netns: string, values: Record<string, string>): Promise<void> {
  await inNetns(netns, 'sysctl', ['-q', '-w', ...Object.entries(values).map(([k, v]) => `${k}=${v}`)]);
}

/** Creates the VPC namespace: bridge, router address, API address. */
export async function createVpc(runId: string): Promise<string> {
  const ns = vpcNetns(runId);
  await ip(['netns', 'add', ns]);
  await ip(['-n', ns, 'link', 'set', 'lo', 'up']);
  await ip(['-n', ns, 'addr', 'add', `${API_LAB_IP}/32`, 'dev', 'lo']);
  // A fixed MAC: a Linux bridge otherwise takes the lowest MAC of its ports, which changes when a
  // rebooting node's uplink is re-created — and every other node's ARP entry for the router goes stale.
  await ip(['-n', ns, 'link', 'add', 'br0', 'address', '02:4e:57:ff:ff:01', 'type', 'bridge']);
  await ip(['-n', ns, 'addr', 'add', `${VPC_ROUTER_IP}/24`, 'dev', 'br0']);
  await ip(['-n', ns, 'link', 'set', 'br0', 'up']);
  await sysctls(ns, {
    'net.ipv4.ip_forward': '1',
    'net.ipv4.conf.all.rp_filter': '0',
    'net.ipv4.conf.default.rp_filter': '0',
  });
  return ns;
}

/**
 * Creates (or, after a reboot, re-creates) a node's namespace with its uplink, addresses, routes
 * and rules: the state a node has right after boot, before kube-proxy or any pod.
 */
export async function createNodeNetwork(runId: string, node: string, index: number): Promise<string> {
  const ns = nodeNetns(runId, node);
  const vpc = vpcNetns(runId);
  const uplink = `up-${node}`.slice(0, 15);
  await ip(['netns', 'add', ns]);
  await ip(['-n', ns, 'link', 'set', 'lo', 'up']);
  // Created inside the VPC namespace, so no interface ever appears in the root namespace.
  await ip([
    '-n',
    vpc,
    'link',
    'add',
    uplink,
    'type',
    'veth',
    'peer',
    'name',
    'eth0',
    'address',
    nodeMac(index),
    'netns',
    ns,
  ]);
  await ip(['-n', vpc, 'link', 'set', uplink, 'master', 'br0', 'up']);
  await ip(['-n', ns, 'addr', 'add', `${nodeIp(index)}/24`, 'dev', 'eth0']);
  await ip(['-n', ns, 'link', 'set', 'eth0', 'up']);
  await sysctls(ns, {
    'net.ipv4.ip_forward': '1',
    'net.ipv4.conf.all.rp_filter': '0',
    'net.ipv4.conf.default.rp_filter': '0',
    'net.ipv4.conf.eth0.rp_filter': '0',
  });
  await ip(['-n', ns, 'route', 'add', '10.244.0.0/16', 'via', VPC_ROUTER_IP, 'dev', 'eth0']);
  await ip([
    '-n',
    ns,
    'route',
    'add',
    'default',
    'via',
    VPC_ROUTER_IP,
    'dev',
    'eth0',
    'table',
    String(ENI_TABLE),
  ]);
  await ip([
    '-n',
    ns,
    'rule',
    'add',
    'iif',
    'lo',
    'lookup',
    String(ENI_TABLE),
    'pref',
    String(NODE_EGRESS_RULE_PRIORITY),
  ]);
  return ns;
}

/** Deletes a node's namespace: its links, routes, rules and netfilter state go with it. */
export async function deleteNetns(netns: string): Promise<void> {
  const res = await run('ip', ['netns', 'delete', netns], { timeoutMs: 15_000 });
  if (res.code !== 0 && !/No such file/.test(res.stderr)) {
    throw new NetwardenError('exec-failed', `ip netns delete ${netns}: ${res.stderr.trim()}`);
  }
}

/** Routes a node's pod CIDR in the VPC (what the VPC route table does for ENI addresses). */
export async function routePodCidr(runId: string, podCidr: string, index: number): Promise<void> {
  await ip(['-n', vpcNetns(runId), 'route', 'replace', podCidr, 'via', nodeIp(index)]);
}

/** The names of existing namespaces starting with `prefix`. */
export async function listNetns(prefix: string): Promise<string[]> {
  const res = await run('ip', ['netns', 'list'], { timeoutMs: 5_000 });
  return res.stdout
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((n) => n.startsWith(prefix));
}
