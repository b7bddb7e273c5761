/**
 * The own-netns probe's child: run inside a network namespace as
 * `node probe-child.ts '<plan JSON>'` (see netns-probe.ts). It imports nothing but Node's
 * built-ins, so it starts in tens of milliseconds and needs nothing in the pod's image.
 *
 * Input: a ProbePlan (core/probe-plan.ts) plus `expectNetns` (`net:[inode]`).
 * Output: one JSON line `{"results":[{key,ok,detail}],"ms"}`; exit 3 with `{"error"}` when it is not
 * in the expected namespace, exit 4 with `{"error"}` on a crash, exit 2 on unusable input.
 * DNS: an A query over UDP to the plan's server, re-sent every second (a first datagram through a
 * fresh DNAT can be lost); NXDOMAIN/NODATA move to the next search candidate, other rcodes fail.
 * A name that resolves to a refused address (loopback, link-local, metadata) is not connected to.
 */
import dgram from 'node:dgram';
import { readlinkSync } from 'node:fs';
import net from 'node:net';

interface Check {
  readonly kind: 'dns' | 'tcp';
  readonly key: string;
  readonly names?: readonly string[];
  readonly host?: string;
  readonly label?: string;
  readonly port?: number;
}

interface Plan {
  readonly dns: { readonly server: string; readonly port: number };
  readonly timeoutMs: number;
  readonly checks: readonly Check[];
  readonly refusePrefixes?: readonly string[];
  readonly expectNetns?: string;
}

interface Result {
  readonly key: string;
  readonly ok: boolean;
  readonly detail: string;
}

type Answer = { rcode: number; addrs: string[]; malformed?: boolean } | { error: string };

const RCODES: Record<number, string> = {
  1: 'FORMERR',
  2: 'SERVFAIL',
  3: 'NXDOMAIN',
  4: 'NOTIMP',
  5: 'REFUSED',
};

function out(o: unknown, code: number): void {
  process.stdout.write(`${JSON.stringify(o)}\n`);
  process.exitCode = code;
}

const ms = (since: number): string => `${Date.now() - since} ms`;

function buildQuery(id: number, name: string): Buffer {
  const parts = [Buffer.from([id >> 8, id & 255, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0])];
  for (const label of name.split('.')) {
    const b = Buffer.from(label, 'ascii');
    parts.push(Buffer.from([b.length]), b);
  }
  parts.push(Buffer.from([0, 0, 1, 0, 1]));
  return Buffer.concat(parts);
}

function skipName(buf: Buffer, start: number): number {
  let off = start;
  for (let i = 0; i < 128; i++) {
    const len = buf[off];
    if (len === undefined) throw new Error('truncated');
    if (len === 0) return off + 1;
    if ((len & 0xc0) === 0xc0) return off + 2;
    off += len + 1;
  }
  throw new Error('name loop');
}

function parseResponse(buf: Buffer, id: number): Answer | undefined {
  if (buf.length < 12 || buf.readUInt16BE(0) !== id || ((buf[2] ?? 0) & 0x80) === 0) return undefined;
  const rcode = (buf[3] ?? 0) & 15;
  const addrs: string[] = [];
  try {
    let off = 12;
    for (let i = buf.readUInt16BE(4); i > 0; i--) off = skipName(buf, off) + 4;
    for (let i = buf.readUInt16BE(6); i > 0; i--) {
      off = skipName(buf, off);
      const type = buf.readUInt16BE(off);
      const cls = buf.readUInt16BE(off + 2);
      const len = buf.readUInt16BE(off + 8);
      off += 10;
      if (type === 1 && cls === 1 && len === 4) addrs.push([...buf.subarray(off, off + 4)].join('.'));
      off += len;
    }
  } catch {
    return { rcode, addrs, malformed: true };
  }
  return { rcode, addrs };
}

function query(plan: Plan, name: string, timeoutMs: number): Promise<Answer> {
  return new Promise((resolve) => {
    const id = Math.floor(Math.random() * 65536);
    const msg = buildQuery(id, name);
    const sock = dgram.createSocket('udp4');
    let done = false;
    let resend: NodeJS.Timeout | undefined;
    let timer: NodeJS.Timeout | undefined;
    const finish = (r: Answer): void => {
      if (done) return;
      done = true;
      clearInterval(resend);
      clearTimeout(timer);
      try {
        sock.close();
      } catch {
        // already closed
      }
      resolve(r);
    };
    const send = (): void =>
      sock.send(msg, plan.dns.port, plan.dns.server, (e) => {
        if (e) finish({ error: (e as NodeJS.ErrnoException).code ?? e.message });
      });
    timer = setTimeout(() => finish({ error: 'no answer' }), Math.max(timeoutMs, 1));
    resend = setInterval(send, 1000);
    sock.on('error', (e) => finish({ error: (e as NodeJS.ErrnoException).code ?? e.message }));
    sock.on('message', (buf) => {
      const r = parseResponse(buf, id);
      if (r) finish(r);
    });
    send();
  });
}

async function resolveName(
  plan: Plan,
  names: readonly string[],
  deadline: number,
): Promise<{ ok: true; name: string; addr: string } | { ok: false; why: string }> {
  const via = ` via ${plan.dns.server}:${plan.dns.port}`;
  let last = 'no candidates';
  for (const name of names) {
    const r = await query(plan, name, deadline - Date.now());
    if ('error' in r) return { ok: false, why: `DNS ${name}${via}: ${r.error}` };
    const first = r.addrs[0];
    if (r.rcode === 0 && first !== undefined) return { ok: true, name, addr: first };
    if (r.rcode !== 0 && r.rcode !== 3)
      return { ok: false, why: `DNS ${name}${via}: ${RCODES[r.rcode] ?? `rcode ${r.rcode}`}` };
    last = `DNS ${names.join(', ')}${via}: ${r.rcode === 3 ? 'NXDOMAIN' : 'no A record'}`;
  }
  return { ok: false, why: last };
}

function connect(host: string, port: number, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const sock = net.connect({ host, port });
    const finish = (err: string | undefined): void => {
      sock.destroy();
      resolve(err);
    };
    sock.setTimeout(Math.max(timeoutMs, 1), () => finish('TIMEOUT'));
    sock.once('connect', () => finish(undefined));
    sock.once('error', (e: NodeJS.ErrnoException) => finish(e.code ?? e.message));
  });
}

async function check(plan: Plan, c: Check): Promise<Result> {
  const started = Date.now();
  if (c.kind === 'dns') {
    const r = await resolveName(plan, c.names ?? [], started + plan.timeoutMs);
    return r.ok
      ? { key: c.key, ok: true, detail: `${r.name} -> ${r.addr} via ${plan.dns.server} in ${ms(started)}` }
      : { key: c.key, ok: false, detail: `${r.why} after ${ms(started)}` };
  }
  let host = c.host;
  let label = c.label ?? c.key;
  if (!host) {
    const r = await resolveName(plan, c.names ?? [], started + plan.timeoutMs);
    if (!r.ok) return { key: c.key, ok: false, detail: `connect ${label}: ${r.why} after ${ms(started)}` };
    if ((plan.refusePrefixes ?? []).some((p) => r.addr.startsWith(p)))
      return { key: c.key, ok: false, detail: `connect ${label}: refused, ${r.name} resolves to ${r.addr}` };
    host = r.addr;
    label = `${label} (${r.name} ${r.addr})`;
  }
  const connStarted = Date.now();
  const err = await connect(host, c.port ?? 0, plan.timeoutMs);
  return err
    ? { key: c.key, ok: false, detail: `connect ${label}: ${err} after ${ms(connStarted)}` }
    : { key: c.key, ok: true, detail: `connected to ${label} in ${ms(connStarted)}` };
}

function main(): void {
  const t0 = Date.now();
  let plan: Plan;
  try {
    plan = JSON.parse(process.argv[2] ?? '') as Plan;
    if (!Array.isArray(plan.checks) || typeof plan.dns?.server !== 'string') throw new Error('not a plan');
  } catch (e) {
    out({ error: `unusable plan: ${String(e)}` }, 2);
    return;
  }
  if (plan.expectNetns) {
    let actual: string;
    try {
      actual = readlinkSync('/proc/self/ns/net');
    } catch (e) {
      actual = String((e as NodeJS.ErrnoException).code);
    }
    if (actual !== plan.expectNetns) {
      out({ error: `in ${actual}, expected ${plan.expectNetns}` }, 3);
      return;
    }
  }
  Promise.all(plan.checks.map((c) => check(plan, c))).then(
    (results) => out({ results, ms: Date.now() - t0 }, 0),
    (e: unknown) => out({ error: String((e as Error)?.stack ?? e) }, 4),
  );
}

main();
