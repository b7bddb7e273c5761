/**
 * Lab image `lab/api-client`: what a controller or an app talking to the Kubernetes API does.
 * Every INTERVAL_MS it resolves TARGET (default `kubernetes.default.svc`, through the pod's
 * resolv.conf and the cluster DNS) and opens a TLS connection to it on PORT (443), asking
 * `/readyz`. If it cannot connect within CONNECT_TIMEOUT_MS it logs why and exits 1: the
 * CrashLoopBackOff seen in the field. DNS failures also exit 1, with a different message.
 * After its first successful round trip it listens on HEALTH_PORT (8081): its readiness probe.
 */
import { lookup } from 'node:dns/promises';
import { createServer } from 'node:net';
import { connect } from 'node:tls';

const target = process.env.TARGET ?? 'kubernetes.default.svc';
const port = Number(process.env.PORT ?? 443);
const intervalMs = Number(process.env.INTERVAL_MS ?? 2000);
const timeoutMs = Number(process.env.CONNECT_TIMEOUT_MS ?? 3000);
const healthPort = Number(process.env.HEALTH_PORT ?? 8081);
let healthy = false;

function say(line: string): void {
  process.stdout.write(`${new Date().toISOString()} ${line}\n`);
}

function readyz(ip: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect(
      { host: ip, port, servername: target, rejectUnauthorized: false, timeout: timeoutMs },
      () => {
        sock.write(`GET /readyz HTTP/1.1\r\nHost: ${target}\r\nConnection: close\r\n\r\n`);
      },
    );
    let data = '';
    sock.on('data', (b) => {
      data += b.toString();
    });
    sock.on('end', () => resolve(data.split('\r\n')[0] ?? ''));
    sock.on('timeout', () =>
      sock.destroy(new Error(`connect ${ip}:${port} timed out after ${timeoutMs} ms`)),
    );
    sock.on('error', (e: NodeJS.ErrnoException) =>
      reject(new Error(`connect ${ip}:${port}: ${e.code ?? e.message}`)),
    );
  });
}

async function once(): Promise<void> {
  let ip: string;
  try {
    ip = (await lookup(target, { family: 4 })).address;
  } catch (err) {
    say(`DNS lookup of ${target} failed: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    process.exit(1);
  }
  try {
    const status = await readyz(ip);
    say(`${target} (${ip}) answered: ${status}`);
    if (!healthy) {
      healthy = true;
      createServer((sock) => {
        sock.on('error', () => sock.destroy());
        sock.end('ok\n');
      }).listen(healthPort, '0.0.0.0');
    }
  } catch (err) {
    say(`${target} resolved to ${ip}, but ${(err as Error).message}`);
    process.exit(1);
  }
}

for (;;) {
  await once();
  await new Promise((r) => setTimeout(r, intervalMs));
}
