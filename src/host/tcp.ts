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
