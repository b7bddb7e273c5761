/**
 * The agent's checks: each is a small module with a name, whether it gates, and `run(ctx)`
 * returning a tri-state result. The registry (registry.ts) lists them explicitly; enabling a
 * check is configuration, not an import side effect.
 */
import type { CheckResult, CheckStatus } from '../core/check.ts';
import type { Finding } from '../core/findings.ts';
import type { ExecResult } from '../host/exec.ts';
import type { HttpResult } from '../host/http.ts';
import type { TcpResult } from '../host/tcp.ts';
import type { ClusterState } from '../netfilter/cluster-state.ts';

/** What checks may use: injected, so unit tests run them on fakes. */
export interface CheckContext {
  readonly nodeName: string;
  /** Services, EndpointSlices and this node's Pods as the agent's informers see them now. */
  readonly cluster: () => ClusterState;
  readonly exec: (
    cmd: string,
    args: readonly string[],
    opts: { timeoutMs: number; maxOutputBytes?: number },
  ) => Promise<ExecResult>;
  readonly httpGet: (url: string, opts: { timeoutMs: number }) => Promise<HttpResult>;
  readonly tcp: (host: string, port: number, timeoutMs: number) => Promise<TcpResult>;
  readonly readDir: (path: string) => Promise<{ name: string; text: string }[]>;
  readonly timeoutMs: number;
  readonly nowMs: () => number;
  /**
   * The gate is open and the last rounds passed: checks may use a cheaper form, as long as they
   * do the full one regularly and whenever `clusterGeneration` moves.
   */
  readonly steady: boolean;
  /** Changes whenever a Service or EndpointSlice changes (the expected state moved). */
  readonly clusterGeneration: number;
}

/** One check. */
export interface Check {
  readonly name: string;
  /** Advisory checks are reported but never open or close the gate. */
  readonly gating: boolean;
  run(ctx: CheckContext): Promise<Omit<CheckResult, 'check' | 'gating' | 'durationMs'>>;
}

/** A result from findings: critical ones fail the check, warnings and infos do not. */
export function fromFindings(
  findings: readonly Finding[],
  ok: { reason: string; message: string },
  failReason: (f: Finding) => string,
): { status: CheckStatus; reason: string; message: string; evidence: string[] } {
  const critical = findings.filter((f) => f.severity === 'critical');
  if (critical.length === 0) {
    const warnings = findings.filter((f) => f.severity === 'warning').map((f) => f.title);
    return {
      status: 'Ok',
      reason: ok.reason,
      message: warnings.length ? `${ok.message} (warnings: ${warnings.join('; ')})` : ok.message,
      evidence: [],
    };
  }
  const first = critical[0] as Finding;
  return {
    status: 'Failing',
    reason: failReason(first),
    message: critical.map((f) => f.title).join('; '),
    evidence: critical.flatMap((f) => f.evidence.slice(0, 5)),
  };
}

/** `kube-proxy-rules-missing` → `KubeProxyRulesMissing`. */
export function camelReason(code: string): string {
  return code.replace(/(^|-)([a-z])/g, (_m, _d, c: string) => c.toUpperCase());
}
