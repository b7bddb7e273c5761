/**
 * Test and benchmark helpers: tar archives written by hand (ustar), so tests can build exactly the
 * crafted archives the reader must survive. Not used by the doctor itself.
 */

/** The two zero blocks that end a tar archive. */
export const TAR_END: Buffer = Buffer.alloc(1024);

/** One ustar header for an entry of `size` bytes (type '0' file, '2' symlink, '5' directory…). */
export function tarHeader(
  name: string,
  size: number,
  type = '0',
  opts: { prefix?: string; link?: string } = {},
): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0, 100, 'utf8');
  h.write('0000644\0', 100);
  h.write('0000000\0', 108);
  h.write('0000000\0', 116);
  h.write(`${size.toString(8).padStart(11, '0')}\0`, 124);
  h.write('00000000000\0', 136);
  h.write('        ', 148);
  h.write(type, 156);
  if (opts.link !== undefined) h.write(opts.link, 157, 100, 'utf8');
  h.write('ustar\0', 257);
  h.write('00', 263);
  if (opts.prefix !== undefined) h.write(opts.prefix, 345, 155, 'utf8');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  return h;
}

/** The zero padding after an entry of `size` bytes. */
export function tarPadding(size: number): Buffer {
  return Buffer.alloc((512 - (size % 512)) % 512);
}

/** One complete entry: header, content, padding. */
export function tarEntry(
  name: string,
  content: string | Buffer,
  type = '0',
  opts: { prefix?: string; link?: string } = {},
): Buffer {
  const data = typeof content === 'string' ? Buffer.from(content) : content;
  return Buffer.concat([tarHeader(name, data.length, type, opts), data, tarPadding(data.length)]);
}

/** `line` repeated to exactly `bytes` bytes (the last copy cut): a compressible entry body. */
export function repeatedTo(line: string, bytes: number): Buffer {
  const one = Buffer.from(line);
  const out = Buffer.allocUnsafe(bytes);
  for (let at = 0; at < bytes; at += one.length) one.copy(out, at, 0, Math.min(one.length, bytes - at));
  return out;
}

/** What {@link runMeasured} saw of a child process. */
export interface MeasuredRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** Peak RSS in MiB: the child's own VmHWM at exit, or the highest sampled if it was killed. */
  readonly peakRssMb: number;
  /** True when the watchdog killed it for passing `killAboveMb`. */
  readonly killed: boolean;
  readonly wallMs: number;
}

// Loaded into the child with --import: reports the process's peak RSS (KiB) on fd 3 as it exits.
// VmHWM, not resourceUsage().maxRSS: Linux carries maxRSS over from the parent forked before exec,
// so a big parent would show up as the child's peak.
const REPORT_PEAK_RSS =
  'data:text/javascript,import{readFileSync,writeSync}from"node:fs";process.on("exit",()=>{try{writeSync(3,/VmHWM:\\s+(\\d+)/.exec(readFileSync("/proc/self/status","utf8"))[1])}catch{}})';

/**
 * Runs `node <args>` (the project's Node.js) and measures its peak RSS. A watchdog samples
 * /proc/<pid>/status and kills the child past `killAboveMb` (so a regression cannot eat the
 * shared machine's memory) or past `timeoutMs`. Output is kept up to 1 MiB per stream.
 */
export async function runMeasured(
  node: string,
  args: readonly string[],
  opts: {
    killAboveMb?: number;
    timeoutMs?: number;
    env?: NodeJS.ProcessEnv;
    uid?: number;
    gid?: number;
  } = {},
): Promise<MeasuredRun> {
  const { spawn } = await import('node:child_process');
  const { readFileSync } = await import('node:fs');
  const killAbove = opts.killAboveMb ?? 2048;
  const t0 = performance.now();
  const child = spawn(node, ['--import', REPORT_PEAK_RSS, ...args], {
    stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
    env: opts.env ?? process.env,
    ...(opts.uid !== undefined ? { uid: opts.uid } : {}),
    ...(opts.gid !== undefined ? { gid: opts.gid } : {}),
  });
  const take = (s: NodeJS.ReadableStream | null, into: Buffer[]): void => {
    let n = 0;
    s?.on('data', (c: Buffer) => {
      if (n < 1 << 20) into.push(c);
      n += c.length;
    });
  };
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const rss: Buffer[] = [];
  take(child.stdout, out);
  take(child.stderr, err);
  take(child.stdio[3] as NodeJS.ReadableStream, rss);
  let sampledKb = 0;
  let killed = false;
  const sample = (): void => {
    try {
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      const hwm = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
      const now = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
      sampledKb = Math.max(sampledKb, hwm);
      if (now > killAbove * 1024 && !killed) {
        killed = true;
        child.kill('SIGKILL');
      }
    } catch {
      // the process is gone or /proc is not there: its own report decides
    }
  };
  const timer = setInterval(sample, 20);
  const deadline = setTimeout(() => {
    killed = true;
    child.kill('SIGKILL');
  }, opts.timeoutMs ?? 120_000);
  const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
  clearInterval(timer);
  clearTimeout(deadline);
  const reportedKb = Number(Buffer.concat(rss).toString() || 0);
  return {
    code,
    stdout: Buffer.concat(out).toString(),
    stderr: Buffer.concat(err).toString(),
    peakRssMb: Math.round(Math.max(reportedKb, sampledKb) / 1024),
    killed,
    wallMs: Math.round(performance.now() - t0),
  };
}
