/**
 * A long-running lab component (etcd, kube-apiserver, kube-proxy, …) as a child process: its own
 * process group, output appended to a log file in the run folder, bounded stop (SIGTERM, then
 * SIGKILL), and the last log lines at hand for error messages.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { killGroup, lastLines } from '../host/exec.ts';
import { waitUntil } from './run-dir.ts';

/** How to start a component. */
export interface LabProcessSpec {
  readonly name: string;
  readonly cmd: string;
  readonly args: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  readonly logFile: string;
  /** Run inside this network namespace (`ip netns exec`). */
  readonly netns?: string;
  readonly cwd?: string;
}

/** A started component. */
export class LabProcess {
  readonly spec: LabProcessSpec;
  readonly pid: number;
  #exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  readonly #exited: Promise<void>;

  private constructor(spec: LabProcessSpec, pid: number, exited: Promise<void>) {
    this.spec = spec;
    this.pid = pid;
    this.#exited = exited;
  }

  /** Starts the component; resolves once the OS has started it (not once it is ready). */
  static start(spec: LabProcessSpec): Promise<LabProcess> {
    const [cmd, args] = spec.netns
      ? ['ip', ['netns', 'exec', spec.netns, spec.cmd, ...spec.args]]
      : [spec.cmd, [...spec.args]];
    const fd = openSync(spec.logFile, 'a');
    return new Promise((resolve, reject) => {
      const child = spawn(cmd as string, args as string[], {
        env: spec.env,
        cwd: spec.cwd,
        detached: true,
        stdio: ['ignore', fd, fd],
      });
      closeSync(fd);
      let proc: LabProcess | undefined;
      const exited = new Promise<void>((done) => {
        child.on('exit', (code, signal) => {
          if (proc) proc.#exit = { code, signal };
          done();
        });
      });
      child.once('error', (err) => reject(err));
      child.once('spawn', () => {
        proc = new LabProcess(spec, child.pid ?? -1, exited);
        resolve(proc);
      });
    });
  }

  /** True while the process runs. */
  get running(): boolean {
    return this.#exit === undefined;
  }

  /** How it ended, once it has. */
  get exitStatus(): string | undefined {
    if (!this.#exit) return undefined;
    return this.#exit.signal ? `killed by ${this.#exit.signal}` : `exited with code ${this.#exit.code}`;
  }

  /** Resolves when the process has exited. */
  exited(): Promise<void> {
    return this.#exited;
  }

  /** The last `n` lines of its log, one per line. */
  logTail(n = 15): string {
    try {
      return readFileSync(this.spec.logFile, 'utf8')
        .split('\n')
        .filter((l) => l.trim())
        .slice(-n)
        .join('\n');
    } catch {
      return '(no log)';
    }
  }

  /** One-line summary of the log's end, for error messages. */
  logSummary(n = 3): string {
    return lastLines(this.logTail(n), n);
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process group is gone. Idempotent. */
  async stop(graceMs = 5_000): Promise<void> {
    if (!this.running) return;
    killGroup(this.pid, 'SIGTERM');
    const gone = await waitUntil(() => !this.running, graceMs);
    if (!gone) {
      killGroup(this.pid, 'SIGKILL');
      await waitUntil(() => !this.running, 5_000);
    }
  }

  /** SIGKILL at once (a crash, or a node losing power). */
  async kill(): Promise<void> {
    if (!this.running) return;
    killGroup(this.pid, 'SIGKILL');
    await waitUntil(() => !this.running, 5_000);
  }
}
