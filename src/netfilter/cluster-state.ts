/**
 * The cluster's side of the comparison: Services, EndpointSlices and Pods, read from
 * `kubectl get -o json` output (a List, several Lists, or concatenated documents) or handed over by
 * a caller that listed them from the API.
 */
import { z } from 'zod';
import { isObj, type JsonObject } from '../core/json.ts';
import { walkKubeObjects } from '../core/object-lists.ts';
import type { EndpointSlice, Pod, Service } from '../core/objects.ts';
import { NetwardenError } from '../errors.ts';

/**
 * The objects the expected state is computed from, and (when the file holds them) the DaemonSets
 * and ConfigMaps the node's components are read from (sources/components.ts): aws-node, kube-proxy
 * and calico-node templates, kube-proxy's configuration.
 */
export interface ClusterState {
  readonly services: readonly Service[];
  readonly endpointSlices: readonly EndpointSlice[];
  readonly pods: readonly Pod[];
  readonly daemonSets?: readonly unknown[];
  readonly configMaps?: readonly unknown[];
}

/** The result of reading a cluster-state file. */
export interface ClusterStateRead {
  readonly state: ClusterState;
  /** Objects skipped (other kinds, malformed items). */
  readonly warnings: readonly string[];
}

const MAX_DOCUMENTS = 64;

// The fields the judgement reads, checked before use; everything else is kept as it is. An object
// that does not fit is skipped with a warning naming it, never half-used.
const meta = z.looseObject({
  name: z.string(),
  namespace: z.string().optional(),
  uid: z.string().optional(),
  labels: z.record(z.string(), z.string()).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
});
const SERVICE = z.looseObject({
  metadata: meta,
  spec: z
    .looseObject({
      clusterIP: z.string().optional(),
      clusterIPs: z.array(z.string()).optional(),
      type: z.string().optional(),
      internalTrafficPolicy: z.string().optional(),
      ports: z
        .array(
          z.looseObject({
            port: z.number().int(),
            name: z.string().optional(),
            protocol: z.string().optional(),
          }),
        )
        .optional(),
    })
    .optional(),
});
const ENDPOINT_SLICE = z.looseObject({
  metadata: meta,
  addressType: z.string().optional(),
  endpoints: z
    .array(
      z.looseObject({
        addresses: z.array(z.string()),
        nodeName: z.string().optional(),
        conditions: z
          .looseObject({
            ready: z.boolean().optional(),
            serving: z.boolean().optional(),
            terminating: z.boolean().optional(),
          })
          .optional(),
      }),
    )
    .nullish(),
  ports: z.array(z.looseObject({ port: z.number().int().optional(), name: z.string().optional() })).nullish(),
});
const POD = z.looseObject({
  metadata: meta,
  spec: z.looseObject({ nodeName: z.string().optional(), hostNetwork: z.boolean().optional() }).optional(),
  status: z
    .looseObject({
      phase: z.string().optional(),
      podIP: z.string().optional(),
      conditions: z.array(z.looseObject({ type: z.string(), status: z.string() })).optional(),
    })
    .optional(),
});

// DaemonSets and ConfigMaps are read defensively by the component reader; only their name is required.
const NAMED = z.looseObject({ metadata: meta });
const SCHEMAS: Readonly<Record<string, z.ZodType>> = {
  Service: SERVICE,
  EndpointSlice: ENDPOINT_SLICE,
  Pod: POD,
  DaemonSet: NAMED,
  ConfigMap: NAMED,
};

/** The first problem of a schema check, as `path: message`. */
function firstIssue(e: z.ZodError): string {
  const i = e.issues[0];
  return i ? `${i.path.join('.') || '(object)'}: ${i.message}` : 'invalid';
}

/** Splits concatenated JSON documents (`kubectl get a -o json; kubectl get b -o json`). */
export function splitJsonDocuments(text: string): string[] {
  const docs: string[] = [];
  let depth = 0;
  let inString = false;
  let start = -1;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92) i++;
      else if (c === 34) inString = false;
      continue;
    }
    if (c === 34) inString = true;
    else if (c === 123 || c === 91) {
      if (depth === 0) start = i;
      depth++;
    } else if (c === 125 || c === 93) {
      depth--;
      if (depth === 0 && start >= 0) {
        docs.push(text.slice(start, i + 1));
        start = -1;
        if (docs.length > MAX_DOCUMENTS) break;
      }
      if (depth < 0) break;
    }
  }
  return docs;
}

/**
 * Parses a cluster-state file. Throws `input-unreadable` when nothing in it is JSON of Kubernetes
 * objects; otherwise returns what it could use plus warnings.
 */
export function parseClusterState(text: string, source = 'cluster state'): ClusterStateRead {
  let docs: unknown[];
  try {
    docs = [JSON.parse(text)];
  } catch {
    docs = [];
    for (const d of splitJsonDocuments(text)) {
      try {
        docs.push(JSON.parse(d));
      } catch {
        // reported below if nothing usable remains
      }
    }
  }
  const services: Service[] = [];
  const endpointSlices: EndpointSlice[] = [];
  const pods: Pod[] = [];
  const daemonSets: JsonObject[] = [];
  const configMaps: JsonObject[] = [];
  // Filled only with objects that passed their kind's schema, so each array holds the shape it names.
  const kept: Record<string, unknown[]> = {
    Service: services,
    EndpointSlice: endpointSlices,
    Pod: pods,
    DaemonSet: daemonSets,
    ConfigMap: configMaps,
  };
  const warnings: string[] = [];
  const skipped = new Map<string, number>();
  const seen = walkKubeObjects(docs, (kind, item) => {
    if (!isObj(item.metadata) || typeof item.metadata.name !== 'string') {
      warnings.push(`${kind} without metadata.name skipped`);
      return;
    }
    const schema = SCHEMAS[kind];
    if (!schema) {
      skipped.set(kind, (skipped.get(kind) ?? 0) + 1);
      return;
    }
    const checked = schema.safeParse(item);
    if (!checked.success) {
      const m = item.metadata as { namespace?: unknown; name?: unknown };
      if (warnings.length < 100)
        warnings.push(
          `${kind} ${String(m.namespace ?? '')}/${String(m.name)} skipped: ${firstIssue(checked.error)}`,
        );
      return;
    }
    kept[kind]?.push(item);
  });
  for (const [kind, n] of skipped) warnings.push(`${n} ${kind} object(s) ignored`);
  if (seen === 0) {
    throw new NetwardenError(
      'input-unreadable',
      `${source}: no Kubernetes objects found (expected \`kubectl get services,endpointslices,pods -A -o json\` output)`,
    );
  }
  return {
    state: {
      services,
      endpointSlices,
      pods,
      ...(daemonSets.length > 0 ? { daemonSets } : {}),
      ...(configMaps.length > 0 ? { configMaps } : {}),
    },
    warnings,
  };
}

/**
 * The inverse of {@link parseClusterState}: a `kubectl get -o json`-shaped List. Objects listed
 * through a typed client carry no `kind`, and the reader sorts objects by it, so it is set here.
 */
export function serializeClusterState(state: ClusterState): string {
  const typed = <T extends object>(kind: string, apiVersion: string, objs: readonly T[]) =>
    objs.map((o) => ({ ...o, kind, apiVersion }));
  return JSON.stringify({
    kind: 'List',
    apiVersion: 'v1',
    items: [
      ...typed('Service', 'v1', state.services),
      ...typed('EndpointSlice', 'discovery.k8s.io/v1', state.endpointSlices),
      ...typed('Pod', 'v1', state.pods),
      ...typed('DaemonSet', 'apps/v1', (state.daemonSets ?? []).filter(isObj)),
      ...typed('ConfigMap', 'v1', (state.configMaps ?? []).filter(isObj)),
    ],
  });
}
