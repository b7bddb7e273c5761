/**
 * Many Services at once, for scale benchmarks: selector-less ClusterIP Services with hand-written
 * EndpointSlices (so no pods are needed), created through the real API server and programmed by
 * the real kube-proxy.
 */
import { NetwardenError } from '../errors.ts';
import type { KubeObject, ObjectApi } from '../kube/objects.ts';

/**
 * Creates `obj`; a request that timed out (a loaded machine: these benches create 20,000 objects)
 * is tried again by server-side apply, which also covers a create that landed before its answer
 * was lost. At most three tries after the first.
 */
async function ensureCreated(objects: ObjectApi, obj: KubeObject): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await (attempt === 0 ? objects.create(obj) : objects.apply(obj));
      return;
    } catch (err) {
      if (!(err instanceof NetwardenError && err.code === 'kube-timeout') || attempt >= 3) throw err;
    }
  }
}

/** Creates `count` Services in `namespace`, each with `endpoints` ready endpoints (fake pod IPs). */
export async function createSyntheticServices(
  objects: ObjectApi,
  namespace: string,
  count: number,
  endpoints: number,
  opts: { concurrency?: number; onProgress?: (done: number) => void; startAt?: number } = {},
): Promise<void> {
  await objects.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } });
  const start = opts.startAt ?? 0;
  let next = start;
  let done = 0;
  const worker = async (): Promise<void> => {
    for (;;) {
      const i = next++;
      if (i >= start + count) return;
      const name = `svc-${i}`;
      await ensureCreated(objects, {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name, namespace },
        spec: { ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 8080 }] },
      });
      await ensureCreated(objects, {
        apiVersion: 'discovery.k8s.io/v1',
        kind: 'EndpointSlice',
        metadata: {
          name: `${name}-1`,
          namespace,
          labels: {
            'kubernetes.io/service-name': name,
            'endpointslice.kubernetes.io/managed-by': 'netwarden-bench',
          },
        },
        addressType: 'IPv4',
        ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
        endpoints: Array.from({ length: endpoints }, (_, e) => {
          const n = i * endpoints + e;
          return {
            addresses: [`10.${200 + ((n >> 16) & 31)}.${(n >> 8) & 255}.${n & 255}`],
            conditions: { ready: true },
          };
        }),
      });
      done++;
      if (done % 500 === 0) opts.onProgress?.(done);
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency ?? 16 }, worker));
}
