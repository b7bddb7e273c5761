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
    opts: { timeoutMs: number; maxOutputBytes?: number },
  ) => Promise<ExecResult>;
  readonly httpGet: (url: string, opts: { timeoutMs: number }) => Promise<HttpResult>;
  /** The regular files of a folder, with when each was last written; throws (ENOENT, EACCES) like fs does. */
  readonly readDir: (path: string) => Promise<{ name: string; text: string; mtimeMs?: number }[]>;
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
  if (!res.ok)
    return /ECONNREFUSED/.test(res.error)
      ? readAbsent(url, 'connection refused: nothing listens there')
      : readUnknown(
          url,
          /timed? ?out|ETIMEDOUT/i.test(res.error) ? 'ReadTimedOut' : 'EndpointUnreachable',
          res.error,
        );
  try {
    return readOk(parse(res.status, res.body), url);
  } catch (err) {
    return readUnknown(url, 'OutputUnparsable', describeError(err));
  }
}
