/**
 * How a live node is read: programs, local HTTP endpoints and folders, injected so the agent (the
 * node itself), the lab (a node's network namespace) and unit tests (fakes) read through the same
 * functions. Every read comes back as a {@link Read}: ok, absent (the thing is not there) or
 * unknown (the read failed) — never an exception.
 */
import { type Read, readAbsent, readOk, readUnknown } from '../core/read.ts';
import { describeError } from '../errors.ts';
import type { ExecResult } from '../host/exec.ts';
import type { HttpResult } from '../host/http.ts';

/** The node's programs, endpoints and files. */
export interface NodeIo {
  readonly exec: (
    cmd: string,
    args: readonly string[],
    /** `input` is written to the program's stdin (else stdin is /dev/null). */
    opts: { timeoutMs: number; maxOutputBytes?: number; input?: string },
  ) => Promise<ExecResult>;
  readonly httpGet: (url: string, opts: { timeoutMs: number }) => Promise<HttpResult>;
  /**
   * Like `exec`, but stdout goes to `onStdout` chunk by chunk and is not kept (big outputs such as
   * a full `iptables-save`). Optional: readers fall back to `exec` without it.
   */
  readonly execStream?: (
    cmd: string,
    args: readonly string[],
    opts: { timeoutMs: number; maxOutputBytes?: number },
    onStdout: (chunk: Buffer) => void,
  ) => Promise<ExecResult>;
  /** The regular files of a folder, with when each was last written; throws (ENOENT, EACCES) like fs does. */
  readonly readDir: (path: string) => Promise<{ name: string; text: string; mtimeMs?: number }[]>;
  /**
   * One small file's text (at most `maxBytes`), read in this process; throws (ENOENT, EACCES) like
   * fs does. Optional: only where this process sees the node's own /proc/net (the agent, on the
   * host network). Readers fall back to `exec cat` without it — a fork saved per read otherwise.
   */
  readonly readFile?: (path: string, opts: { maxBytes: number }) => Promise<string>;
}

/** A program's base name: `iptables-nft-save` for `/usr/sbin/iptables-nft-save`. */
export function programName(cmd: string): string {
  return cmd.slice(cmd.lastIndexOf('/') + 1);
}

/**
 * `io` with every program it starts (exec or execStream) reported to `started` by its base name
 * (`iptables-nft-save`, `ip`), before it runs: the agent's metrics count what each round costs the
 * node in programs, which its own CPU figures do not show.
 */
export function countingPrograms<T extends Pick<NodeIo, 'exec' | 'execStream'>>(
  io: T,
  started: (program: string) => void,
): T {
  const { exec, execStream } = io;
  return {
    ...io,
    exec: (cmd, args, opts) => {
      started(programName(cmd));
      return exec(cmd, args, opts);
    },
    ...(execStream
      ? {
          execStream: (
            cmd: string,
            args: readonly string[],
            opts: Parameters<typeof execStream>[2],
            onStdout: (chunk: Buffer) => void,
          ) => {
            started(programName(cmd));
            return execStream(cmd, args, opts, onStdout);
          },
        }
      : {}),
  };
}

/** Output cap of a full rules read: a 10,000-Service node's iptables-save is ~25 MB. */
export const MAX_RULES_OUTPUT = 512 * 1024 * 1024;

/**
 * Runs a program and parses its output. A non-zero exit whose stderr matches `absentWhen` means
 * the thing is not there (e.g. "No such file or directory" for a missing nft table).
 */
export async function execRead<T>(
  io: NodeIo,
  cmd: string,
  args: readonly string[],
  opts: {
    timeoutMs: number;
    maxOutputBytes?: number;
    /** Written to the program's stdin. */
    input?: string;
    absentWhen?: RegExp;
    /** The reason when the program cannot run or fails (default ToolUnavailable / CommandFailed). */
    failReason?: string;
  },
  parse: (stdout: string, stderr: string) => T,
): Promise<Read<T>> {
  const source = [cmd, ...args].join(' ');
  let res: ExecResult;
  try {
    res = await io.exec(cmd, args, {
      timeoutMs: opts.timeoutMs,
      ...(opts.maxOutputBytes !== undefined ? { maxOutputBytes: opts.maxOutputBytes } : {}),
      ...(opts.input !== undefined ? { input: opts.input } : {}),
    });
  } catch (err) {
    return readUnknown(source, opts.failReason ?? 'ToolUnavailable', describeError(err));
  }
  if (res.timedOut) return readUnknown(source, 'ReadTimedOut', `no answer within ${opts.timeoutMs} ms`);
  if (res.truncated) return readUnknown(source, 'OutputTruncated', 'output exceeded its cap and was cut');
  const firstLine = res.stderr.trim().split('\n')[0] ?? '';
  if (res.code !== 0) {
    if (opts.absentWhen?.test(res.stderr)) return readAbsent(source, firstLine);
    return readUnknown(
      source,
      opts.failReason ?? 'CommandFailed',
      `exit ${res.code ?? res.signal}: ${firstLine}`,
    );
  }
  try {
    return readOk(parse(res.stdout, res.stderr), source);
  } catch (err) {
    return readUnknown(source, 'OutputUnparsable', describeError(err));
  }
}

/** Takes a program's output piece by piece and makes a value of it at the end. */
export interface StreamConsumer<T> {
  push(chunk: Buffer | string): void;
  end(stderr: string): T;
}

/**
 * {@link execRead} for big outputs: stdout goes into a fresh `consumer` as it arrives, and its
 * `end` makes the value once the program exited 0. Without `io.execStream` the output is read
 * whole and pushed at once (same result, more memory).
 */
export async function execStreamRead<T>(
  io: NodeIo,
  cmd: string,
  args: readonly string[],
  opts: { timeoutMs: number; maxOutputBytes?: number; failReason?: string },
  consumer: () => StreamConsumer<T>,
): Promise<Read<T>> {
  if (!io.execStream) {
    return execRead(io, cmd, args, opts, (stdout, stderr) => {
      const c = consumer();
      c.push(stdout);
      return c.end(stderr);
    });
  }
  const source = [cmd, ...args].join(' ');
  const c = consumer();
  let res: ExecResult;
  try {
    const limits = {
      timeoutMs: opts.timeoutMs,
      ...(opts.maxOutputBytes !== undefined ? { maxOutputBytes: opts.maxOutputBytes } : {}),
    };
    res = await io.execStream(cmd, args, limits, (chunk) => c.push(chunk));
  } catch (err) {
    return readUnknown(source, opts.failReason ?? 'ToolUnavailable', describeError(err));
  }
  if (res.timedOut) return readUnknown(source, 'ReadTimedOut', `no answer within ${opts.timeoutMs} ms`);
  if (res.truncated) return readUnknown(source, 'OutputTruncated', 'output exceeded its cap and was cut');
  if (res.code !== 0) {
    const firstLine = res.stderr.trim().split('\n')[0] ?? '';
    return readUnknown(
      source,
      opts.failReason ?? 'CommandFailed',
      `exit ${res.code ?? res.signal}: ${firstLine}`,
    );
  }
  try {
    return readOk(c.end(res.stderr), source);
  } catch (err) {
    return readUnknown(source, 'OutputUnparsable', describeError(err));
  }
}

/**
 * What a failed HTTP read of `url` says: a refused connection is evidence that nothing listens
 * (absent); a timeout or any other failure says nothing (unknown).
 */
export function httpFailureRead(url: string, error: string): Read<never> {
  return /ECONNREFUSED/.test(error)
    ? readAbsent(url, 'connection refused: nothing listens there')
    : readUnknown(url, /timed? ?out|ETIMEDOUT/i.test(error) ? 'ReadTimedOut' : 'EndpointUnreachable', error);
}

/**
 * GETs a local endpoint. Connection refused means nothing listens there (absent); any other failure
 * is unknown. Any HTTP status is an answer: `parse` sees it.
 */
export async function httpRead<T>(
  io: NodeIo,
  url: string,
  timeoutMs: number,
  parse: (status: number, body: string) => T,
): Promise<Read<T>> {
  const res = await io.httpGet(url, { timeoutMs });
  if (!res.ok) return httpFailureRead(url, res.error);
  try {
    return readOk(parse(res.status, res.body), url);
  } catch (err) {
    return readUnknown(url, 'OutputUnparsable', describeError(err));
  }
}
