/**
 * Pod-sandbox network failures as the kubelet reports them: journal lines (`journalctl -u kubelet`),
 * klog lines, and `kubectl describe pod` / event text (FailedCreatePodSandBox). Recognises the VPC CNI's
 * "failed to assign an IP address to container" and "ipamd not listening on 127.0.0.1:50051".
 */

/** What went wrong for one sandbox. */
export type SandboxFailureKind = 'ip-assign-failed' | 'ipamd-unreachable' | 'sandbox-network-failed';

/** One failed pod-network setup. */
export interface SandboxFailure {
  readonly line: number;
  readonly kind: SandboxFailureKind;
  /** `ns/name` when the line says. */
  readonly pod?: string;
  /** Time prefix as written (journal or klog), if any. */
  readonly time?: string;
  readonly text: string;
}

const JOURNAL_TIME = /^([A-Z][a-z]{2} +\d{1,2} \d{2}:\d{2}:\d{2})/;
const KLOG_TIME = /\b[EWI](\d{4} \d{2}:\d{2}:\d{2}\.\d+)\b/;
const ISO_TIME = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})?)/;

function podOf(line: string): string | undefined {
  const klog = /\bpod="([^"/]+)\/([^"]+)"/.exec(line);
  if (klog) return `${klog[1]}/${klog[2]}`;
  const cni = /failed to set up pod \\?"([^"\\_]+)_([^"\\]+)\\?" network/.exec(line);
  if (cni) return `${cni[2]}/${cni[1]}`;
  const ev = /for pod \\?"([^"\\]+)\\?"/.exec(line);
  return ev ? ev[1] : undefined;
}

/** Scans kubelet log or event text for pod-network setup failures. */
export function parseSandboxFailures(text: string, maxLine = 64 * 1024): SandboxFailure[] {
  const out: SandboxFailure[] = [];
  let lineNo = 0;
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    lineNo++;
    const line = text.slice(start, Math.min(end, start + maxLine));
    start = end + 1;
    const assign = line.includes('failed to assign an IP address to container');
    const unreachable = /dial tcp 127\.0\.0\.1:50051|Error received from AddNetwork gRPC call/.test(line);
    const sandbox =
      /FailedCreatePodSandBox|CreatePodSandboxError|Failed to create pod sandbox|failed to set ?up sandbox container/i.test(
        line,
      );
    if (!assign && !unreachable && !sandbox) continue;
    const kind: SandboxFailureKind = unreachable
      ? 'ipamd-unreachable'
      : assign
        ? 'ip-assign-failed'
        : 'sandbox-network-failed';
    if (kind === 'sandbox-network-failed' && !/network|cni/i.test(line)) continue;
    const time = JOURNAL_TIME.exec(line)?.[1] ?? ISO_TIME.exec(line)?.[1] ?? KLOG_TIME.exec(line)?.[1];
    const pod = podOf(line);
    out.push({
      line: lineNo,
      kind,
      ...(pod !== undefined ? { pod } : {}),
      ...(time !== undefined ? { time } : {}),
      text: line.trim(),
    });
  }
  return out;
}
