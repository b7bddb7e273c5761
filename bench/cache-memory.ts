/**
 * Heap the agent's caches take for N Services × E endpoints: objects shaped as the API server
 * sends the lab's synthetic Services (bench/agent-steady.ts, src/lab/scale.ts: uid,
 * resourceVersion, managedFields; a 26-character node name as EKS gives), parsed one by one as a
 * watch delivers them, each string value its own copy as the agent's protobuf watch decodes them
 * (src/kube/proto-services.ts; JSON.parse alone shares one copy of many repeated short values, which
 * hid 1.8 MB at 10,000 × 5), kept as received (`raw`) or as the agent keeps them (`slim`,
 * src/agent/slim.ts), in one Map per kind; then the kube-proxy check's expected state of the slim
 * objects (netfilter/expected.ts, kept while Services stand), fresh and as kept after a full read
 * (whatever the diff leaves attached to it); and the rule state a full read holds while it diffs
 * (netfilter/iptables-state.ts) of kube-proxy's iptables-save for that state
 * (bench/lib/synthetic-ruleset.ts), streamed in 64 KB chunks as from a pipe. The full read must
 * parse every endpoint and find nothing, or the bench fails. Heap used after a full GC, before and
 * after. Runs in seconds, no lab; prints figures only.
 *
 * Usage: node_modules/.bin/node bench/cache-memory.ts [--services 10000] [--endpoints 5] [--output text|json]
 */
import { parseArgs } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { slimEndpointSlice, slimService } from '../src/agent/slim.ts';
import type { EndpointSlice, Service } from '../src/core/objects.ts';
import type { ClusterState } from '../src/netfilter/cluster-state.ts';
import { diffKubeProxy } from '../src/netfilter/diff-kube-proxy.ts';
import { type ExpectedServices, expectedServicePorts } from '../src/netfilter/expected.ts';
import { iptablesStateReader } from '../src/netfilter/iptables-state.ts';
import { syntheticKubeProxyRuleset } from './lib/synthetic-ruleset.ts';

const { values } = parseArgs({
  options: {
    services: { type: 'string', default: '10000' },
    endpoints: { type: 'string', default: '5' },
    output: { type: 'string', default: 'text' },
  },
});
const services = Number(values.services);
const endpoints = Number(values.endpoints);
if (!Number.isInteger(services) || services < 1)
  throw new Error(`--services must be a positive integer, got "${values.services}"`);
if (!Number.isInteger(endpoints) || endpoints < 0)
  throw new Error(`--endpoints must be a whole number, got "${values.endpoints}"`);
if (values.output !== 'text' && values.output !== 'json') throw new Error('--output must be text or json');

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const managed = [
  { manager: 'netwarden-bench', operation: 'Apply', fieldsV1: { 'f:spec': { 'f:ports': {} } } },
];
const meta = (name: string, i: number, labels: Record<string, string>) => ({
  name,
  namespace: 'bench',
  uid: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
  resourceVersion: String(100_000 + i),
  creationTimestamp: '2026-12-03T00:00:00Z',
  labels,
  managedFields: managed,
});
const ip = (n: number): string => `10.${200 + ((n >> 16) & 31)}.${(n >> 8) & 255}.${n & 255}`;
const serviceJson = (i: number): string =>
  JSON.stringify({
    metadata: meta(`svc-${i}`, i, { app: 'bench' }),
    spec: {
      type: 'ClusterIP',
      clusterIP: `10.96.${(i >> 8) & 255}.${i & 255}`,
      clusterIPs: [`10.96.${(i >> 8) & 255}.${i & 255}`],
      ipFamilies: ['IPv4'],
      ipFamilyPolicy: 'SingleStack',
      ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 8080 }],
      internalTrafficPolicy: 'Cluster',
      sessionAffinity: 'None',
    },
    status: { loadBalancer: {} },
  });
const sliceJson = (i: number): string =>
  JSON.stringify({
    metadata: meta(`svc-${i}-1`, services + i, {
      'kubernetes.io/service-name': `svc-${i}`,
      'endpointslice.kubernetes.io/managed-by': 'netwarden-bench',
    }),
    addressType: 'IPv4',
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    endpoints: Array.from({ length: endpoints }, (_, e) => ({
      addresses: [ip(i * endpoints + e)],
      conditions: { ready: true, serving: true, terminating: false },
      nodeName: 'ip-10-0-12-34.ec2.internal',
    })),
  });

/** One object as the protobuf watch decodes it: every string value a fresh copy of its bytes. */
function received(json: string): unknown {
  return JSON.parse(json, (_k, v: unknown) =>
    typeof v === 'string' ? Buffer.from(v, 'utf8').toString('utf8') : v,
  );
}

/**
 * kube-proxy's iptables-save for the cluster, as bytes, from an expected state of its own made in
 * this frame: neither it nor a string of it outlives the call (a caller's frame may keep a
 * temporary alive to its end, which would hide its size from the caller's measurement).
 */
function dumpOf(cluster: ClusterState): Buffer {
  return Buffer.from(syntheticKubeProxyRuleset(expectedServicePorts(cluster)));
}

/**
 * A full read as the agent runs one, in its own frame (nothing it makes outlives it but what the
 * expected state keeps): kube-proxy's dump streamed into the rule state, then the diff. The dump is
 * written from an expected state of its own, so the chain names that computes stay out of the one
 * measured (a node's dump comes from the kernel).
 */
function fullRead(
  cluster: ClusterState,
  expected: ExpectedServices,
): { dumpBytes: number; ruleState: number } {
  const dump = dumpOf(cluster);
  gc();
  const before = process.memoryUsage().heapUsed;
  const reader = iptablesStateReader();
  for (let i = 0; i < dump.length; i += 65_536) reader.push(dump.subarray(i, i + 65_536));
  const state = reader.end();
  gc();
  const ruleState = process.memoryUsage().heapUsed - before;
  const findings = diffKubeProxy({ mode: 'iptables', state }, expected);
  if (state.endpointDnat.size !== services * endpoints) throw new Error('dump not parsed whole');
  if (findings.length !== 0) throw new Error(`the diff found problems: ${findings[0]?.title}`);
  return { dumpBytes: dump.length, ruleState };
}

/** Heap (bytes) the two Maps hold once every object is in. */
function measure(keepService: (s: Service) => Service, keepSlice: (s: EndpointSlice) => EndpointSlice) {
  gc();
  const before = process.memoryUsage().heapUsed;
  const svc = new Map<string, Service>();
  for (let i = 0; i < services; i++)
    svc.set(`bench/svc-${i}`, keepService(received(serviceJson(i)) as Service));
  gc();
  const mid = process.memoryUsage().heapUsed;
  const slices = new Map<string, EndpointSlice>();
  for (let i = 0; i < services; i++)
    slices.set(`bench/svc-${i}-1`, keepSlice(received(sliceJson(i)) as EndpointSlice));
  gc();
  const after = process.memoryUsage().heapUsed;
  const cluster = { services: [...svc.values()], endpointSlices: [...slices.values()], pods: [] };
  const expected = expectedServicePorts(cluster);
  gc();
  const withExpected = process.memoryUsage().heapUsed;
  const read = fullRead(cluster, expected);
  gc();
  const afterRead = process.memoryUsage().heapUsed;
  // Read everything after measuring: V8 frees a local it sees no later use of.
  if (svc.size + slices.size !== 2 * services || expected.ports.length !== services)
    throw new Error('lost objects');
  return {
    services: mid - before,
    slices: after - mid,
    expected: withExpected - after,
    expectedAfterRead: afterRead - after,
    dumpBytes: read.dumpBytes,
    ruleState: read.ruleState,
  };
}

const mb = (b: number): number => Math.round(b / 1e4) / 100;
const raw = measure(
  (s) => s,
  (s) => s,
);
const slim = measure(slimService, slimEndpointSlice);
const result = {
  services,
  endpoints,
  rawMb: { services: mb(raw.services), slices: mb(raw.slices) },
  slimMb: { services: mb(slim.services), slices: mb(slim.slices) },
  expectedMb: mb(slim.expected),
  expectedAfterReadMb: mb(slim.expectedAfterRead),
  dumpMb: mb(slim.dumpBytes),
  ruleStateMb: mb(slim.ruleState),
  slimBytesPer: { service: Math.round(slim.services / services), slice: Math.round(slim.slices / services) },
  ratio: Math.round(((slim.services + slim.slices) / (raw.services + raw.slices)) * 1000) / 1000,
};
if (values.output === 'json') console.log(JSON.stringify(result, null, 2));
else
  console.log(
    `${services} Services × ${endpoints}: kept as received ${result.rawMb.services} + ${result.rawMb.slices} MB, ` +
      `as the agent keeps them ${result.slimMb.services} + ${result.slimMb.slices} MB ` +
      `(${result.slimBytesPer.service} B per Service, ${result.slimBytesPer.slice} B per EndpointSlice; ratio ${result.ratio}); ` +
      `the expected state ${result.expectedMb} MB (${result.expectedAfterReadMb} MB as kept after a full read); the rule state of its ${result.dumpMb} MB iptables-save ${result.ruleStateMb} MB`,
  );
