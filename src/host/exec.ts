/**
 * Running a program with a deadline and an output cap. Never throws for a non-zero exit: the
 * caller decides what an exit code means. Throws only when the program cannot be started.
 */
import { spawn } from 'node:child_process';
import { NetwardenError } from '../errors.ts';

/** How to run one program. */
export interface ExecOptions {
  readonly timeoutMs?: number;
  /** Bytes kept of stdout and of stderr each; the rest is dropped and `truncated` is set. */
  readonly maxOutputBytes?: number;
  readonly input?: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
}

/** The outcome of a finished (or killed) program. */
export interface ExecResult {
  /** Exit code, or null when killed by a signal (timeouts included). */
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly timedOut: boolean;
  readonly truncated: boolean;
  readonly durationMs: number;
}

const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_MAX_OUTPUT = 64 * 1024 * 1024;

/** Runs `cmd args…` to completion or deadline (SIGKILL of its process group at the deadline). */
export function run(cmd: string, args: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
  return spawnBounded(cmd, args, opts, undefined);
}

/**
 * Runs `cmd args…` like {@link run}, but hands stdout to `onStdout` chunk by chunk instead of
 * keeping it: a 25 MB `iptables-save` goes straight into a parser, never into one string. The
 * result's `stdout` is empty; `truncated` means more than `maxOutputBytes` came and the program
 * was killed. `onStdout` throwing also kills it, and the promise rejects with that error.
 */
export function runStream(
  cmd: string,
  args: readonly string[],
  opts: ExecOptions,
  onStdout: (chunk: Buffer) => void,
): Promise<ExecResult> {
  return spawnBounded(cmd, args, opts, onStdout);
}

/**
 * The one place a program is started: deadline, output caps, process-group kill. Without
 * `onStdout`, stdout is kept up to the cap (the rest dropped, `truncated` set); with it, stdout is
 * handed over as it arrives and the program is killed past the cap.
 */
function spawnBounded(
  cmd: string,
  args: readonly string[],
  opts: ExecOptions,
  onStdout: ((chunk: Buffer) => void) | undefined,
): Promise<ExecResult> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const cap = opts.maxOutputBytes ?? DEFAULT_MAX_OUTPUT;
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      env: opts.env ?? process.env,
      cwd: opts.cwd,
      detached: true,
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outLen = 0;
    let errLen = 0;
    let truncated = false;
    let timedOut = false;
    let failed: unknown;
    const kill = (): void => killGroup(child.pid, 'SIGKILL');
    child.stdout?.on('data', (b: Buffer) => {
      if (failed !== undefined || (onStdout && truncated)) return;
      outLen += b.length;
      if (outLen > cap) {
        truncated = true;
        if (onStdout) kill();
        return;
      }
      if (!onStdout) {
        out.push(b);
        return;
      }
      try {
        onStdout(b);
      } catch (e) {
        failed = e;
        kill();
      }
    });
    child.stderr?.on('data', (b: Buffer) => {
      if (errLen + b.length > cap) truncated = true;
      else err.push(b);
      errLen += b.length;
    });
    const timer = setTimeout(() => {
      timedOut = true;
      kill();
    }, timeoutMs);
    child.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      const why = e.code === 'ENOENT' ? 'not found' : e.message;
      reject(new NetwardenError('exec-failed', `cannot run ${cmd}: ${why}`, { cause: e }));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (failed !== undefined) return reject(failed);
      resolve({
        code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        timedOut,
        truncated,
        durationMs: performance.now() - started,
      });
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

/** Runs a program and throws a NetwardenError with its stderr when it does not exit 0. */
export async function runOk(
  cmd: string,
  args: readonly string[],
  opts: ExecOptions = {},
): Promise<ExecResult> {
  const res = await run(cmd, args, opts);
  if (res.code !== 0) {
    const why = res.timedOut
      ? `timed out after ${opts.timeoutMs ?? DEFAULT_TIMEOUT_MS} ms`
      : `exit ${res.code ?? res.signal}`;
    const tail = lastLines(res.stderr || res.stdout, 5);
    throw new NetwardenError('exec-failed', `${cmd} ${args.join(' ')}: ${why}${tail ? `: ${tail}` : ''}`);
  }
  return res;
}

/** Sends a signal to a whole process group; ignores groups that are already gone. */
export function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

/** The last `n` non-empty lines of a text, joined by ' | ' (for one-line error messages). */
export function lastLines(text: string, n: number): string {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0)
    .slice(-n)
    .join(' | ');
}
