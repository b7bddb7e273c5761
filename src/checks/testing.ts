/** A fake node for the checks' unit tests: programs, endpoints and folders answer from tables. */
import type { Node, Pod } from '../core/objects.ts';
import type { ExecResult } from '../host/exec.ts';
import type { HttpResult } from '../host/http.ts';
import { execResult } from '../host/testing.ts';
import type { ClusterState } from '../netfilter/cluster-state.ts';
import type { CheckContext } from './check.ts';

/** What the fake node answers. Missing entries: programs fail, endpoints refuse, folders do not exist. */
export interface FakeNodeSpec {
  /** By `cmd args…` (exact) or by `cmd` alone. */
  readonly exec?: Readonly<Record<string, Partial<ExecResult>>>;
  /** By URL: a status and body, or a connection error text. */
  readonly http?: Readonly<Record<string, { status: number; body: string } | { error: string }>>;
  /** By folder: its files, or an errno code thrown. */
  readonly dirs?: Readonly<
    Record<string, readonly { name: string; text: string; mtimeMs?: number }[] | string>
  >;
  readonly node?: Node;
  readonly cluster?: ClusterState;
  readonly kubeProxyPods?: readonly Pod[];
}

/** A CheckContext over {@link FakeNodeSpec}; `calls` records every program run. */
export function fakeContext(spec: FakeNodeSpec, calls: string[] = []): CheckContext {
  return {
    nodeName: 'node-a',
    node: () => spec.node,
    cluster: () => spec.cluster ?? { services: [], endpointSlices: [], pods: [] },
    kubeProxyPods: async () => spec.kubeProxyPods,
    exec: async (cmd, args) => {
      const line = [cmd, ...args].join(' ');
      calls.push(line);
      const answer = spec.exec?.[line] ?? spec.exec?.[cmd];
      return answer ? execResult(answer) : execResult({ code: 1, stderr: `${cmd}: not faked` });
    },
    httpGet: async (url): Promise<HttpResult> => {
      const a = spec.http?.[url];
      if (!a) return { ok: false, error: 'connect ECONNREFUSED', durationMs: 1 };
      return 'error' in a ? { ok: false, error: a.error, durationMs: 1 } : { ok: true, ...a, durationMs: 1 };
    },
    tcp: async () => ({ ok: false, error: 'not faked', ms: 1 }),
    readDir: async (path) => {
      const d = spec.dirs?.[path];
      if (d === undefined) throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
      if (typeof d === 'string') throw Object.assign(new Error(`${d}: ${path}`), { code: d });
      return [...d];
    },
    timeoutMs: 5_000,
    nowMs: () => Date.parse('2026-06-01T00:00:00Z'),
    steady: false,
    clusterGeneration: 1,
  };
}
