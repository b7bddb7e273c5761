/** Free TCP ports on loopback for lab components. */
import { createServer } from 'node:net';

/**
 * A TCP port that was free on `host` a moment ago. Another process may take it before the caller
 * binds; components that fail to bind are reported by the fixture with their log.
 */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}
