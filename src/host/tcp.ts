/** TCP connect probe: the question "does a SYN to host:port get an answer?" with a deadline. */
import { connect } from 'node:net';

/** Outcome of one connect attempt. `error` is the errno code (ECONNREFUSED, EHOSTUNREACH, …) or TIMEOUT. */
export type TcpResult =
  | { readonly ok: true; readonly ms: number }
  | { readonly ok: false; readonly error: string; readonly ms: number };

/** Opens and immediately closes a TCP connection; never throws. */
export function tcpConnect(host: string, port: number, timeoutMs = 2_000): Promise<TcpResult> {
  const started = performance.now();
  return new Promise((resolve) => {
    const sock = connect({ host, port });
    const finish = (r: TcpResult): void => {
      sock.destroy();
      resolve(r);
    };
    sock.setTimeout(timeoutMs, () =>
      finish({ ok: false, error: 'TIMEOUT', ms: performance.now() - started }),
    );
    sock.once('connect', () => finish({ ok: true, ms: performance.now() - started }));
    sock.once('error', (e: NodeJS.ErrnoException) =>
      finish({ ok: false, error: e.code ?? e.message, ms: performance.now() - started }),
    );
  });
}

/**
 * Connects with a fresh attempt (new source port) every `staggerMs` until one succeeds or
 * `timeoutMs` passes. A SYN sent before a DNAT rule existed keeps its un-NATed conntrack entry,
 * so retransmits of that one connection can never succeed; a new connection can, at once.
 * Fails early after two consecutive hard errors (ENETUNREACH, ECONNREFUSED…): nothing will change
 * within the deadline. Never throws.
 */
export function tcpConnectStaggered(
  host: string,
  port: number,
  timeoutMs = 1_000,
  staggerMs = 200,
): Promise<TcpResult> {
  const started = performance.now();
  return new Promise((resolve) => {
    let done = false;
    let hardErrors = 0;
    let firstError = '';
    const timers: NodeJS.Timeout[] = [];
    const finish = (r: TcpResult): void => {
      if (done) return;
      done = true;
      for (const t of timers) clearTimeout(t);
      resolve(r);
    };
    const attempt = (): void => {
      if (done) return;
      const left = timeoutMs - (performance.now() - started);
      if (left <= 0) return;
      void tcpConnect(host, port, left).then((r) => {
        if (r.ok) return finish({ ok: true, ms: performance.now() - started });
        firstError ||= r.error;
        if (r.error !== 'TIMEOUT' && ++hardErrors >= 2)
          finish({ ok: false, error: r.error, ms: performance.now() - started });
      });
    };
    for (let at = 0; at < timeoutMs; at += staggerMs) timers.push(setTimeout(attempt, at));
    timers.push(
      setTimeout(
        () => finish({ ok: false, error: firstError || 'TIMEOUT', ms: performance.now() - started }),
        timeoutMs,
      ),
    );
  });
}
