/**
 * The interactive lab (`netwarden lab up|status|reboot|down`): `up` starts a detached
 * `netwarden lab serve` process that owns the lab (its processes, namespaces and run folder),
 * records itself in <lab root>/current.json and takes commands on a unix socket in the run
 * folder. `down` asks it to tear everything down; if it is gone, the stale-run clean-up does.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { NetwardenError } from '../errors.ts';
import { Lab, type LabOptions } from './lab.ts';
import { labRoot } from './run-dir.ts';

/** What current.json says about the running lab. */
export interface LabState {
  readonly state: 'starting' | 'ready' | 'failed';
  readonly pid: number;
  readonly runId?: string;
  readonly dir?: string;
  readonly kubeconfig?: string;
  readonly server?: string;
  readonly nodes?: string[];
  readonly error?: string;
  readonly upSeconds?: number;
}

/** Path of the current-lab record. */
export function statePath(root = labRoot()): string {
  return join(root, 'current.json');
}

/** The recorded lab, if its serving process is still alive. */
export function currentLab(root = labRoot()): LabState | undefined {
  try {
    const s = JSON.parse(readFileSync(statePath(root), 'utf8')) as LabState;
    process.kill(s.pid, 0);
    return s;
  } catch {
    return undefined;
  }
}

/** A command sent to the serving process. */
export type LabCommand = {
  cmd: 'reboot';
  node: string;
  kubeProxyDelayMs: number;
  cniReadyDelayMs: number;
  downtimeMs: number;
};

/** Runs the lab in this process until SIGTERM/SIGINT (the body of `lab serve`). */
export async function serveLab(options: LabOptions): Promise<void> {
  const root = labRoot();
  const write = (s: LabState): void => writeFileSync(statePath(root), `${JSON.stringify(s, null, 2)}\n`);
  write({ state: 'starting', pid: process.pid });
  let lab: Lab;
  try {
    lab = await Lab.up(options);
  } catch (err) {
    write({ state: 'failed', pid: process.pid, error: err instanceof Error ? err.message : String(err) });
    throw err;
  }
  const sock = lab.run.path('control.sock');
  const control = createServer((conn) => {
    let buf = '';
    conn.on('data', (b) => {
      buf += b.toString();
      if (!buf.includes('\n')) return;
      const cmd = JSON.parse(buf.split('\n')[0] ?? '{}') as LabCommand;
      void handle(lab, cmd).then(
        (out) => conn.end(`${JSON.stringify({ ok: true, out })}\n`),
        (err: unknown) =>
          conn.end(
            `${JSON.stringify({ ok: false, error: err instanceof Error ? err.message : String(err) })}\n`,
          ),
      );
    });
    conn.on('error', () => {});
  });
  control.listen(sock);
  write({
    state: 'ready',
    pid: process.pid,
    runId: lab.run.id,
    dir: lab.run.dir,
    kubeconfig: lab.cp.adminKubeconfig,
    server: lab.cp.server,
    nodes: lab.nodes.map((n) => n.name),
    upSeconds: Math.round((performance.now() - lab.startedMs) / 100) / 10,
  });
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  control.close();
  await lab.down();
  rmSync(statePath(root), { force: true });
}

async function handle(lab: Lab, cmd: LabCommand): Promise<string> {
  switch (cmd.cmd) {
    case 'reboot':
      await lab.reboot(cmd.node, cmd);
      return `${cmd.node} rebooted (kube-proxy in ${cmd.kubeProxyDelayMs} ms, CNI ready in ${cmd.cniReadyDelayMs} ms)`;
    default:
      throw new Error(`unknown command ${JSON.stringify(cmd)}`);
  }
}

/** Sends a command to the running lab and returns its answer (bounded by `timeoutMs`). */
export function sendCommand(state: LabState, cmd: LabCommand, timeoutMs = 60_000): Promise<string> {
  if (!state.dir)
    throw new NetwardenError(
      'usage',
      'the lab is still starting; try again when `netwarden lab status` says ready',
    );
  const sock = join(state.dir, 'control.sock');
  if (!existsSync(sock))
    throw new NetwardenError('lab-start-failed', `the lab's control socket ${sock} is missing`);
  return new Promise((resolve, reject) => {
    const conn = connect(sock);
    let buf = '';
    const timer = setTimeout(
      () => conn.destroy(new Error(`no answer from the lab within ${timeoutMs} ms`)),
      timeoutMs,
    );
    conn.on('connect', () => conn.write(`${JSON.stringify(cmd)}\n`));
    conn.on('data', (b) => {
      buf += b.toString();
    });
    conn.on('end', () => {
      clearTimeout(timer);
      const answer = JSON.parse(buf || '{}') as { ok?: boolean; out?: string; error?: string };
      if (answer.ok) resolve(answer.out ?? '');
      else reject(new NetwardenError('lab-start-failed', answer.error ?? 'the lab did not answer'));
    });
    conn.on('error', (err) => {
      clearTimeout(timer);
      reject(new NetwardenError('lab-start-failed', `cannot reach the lab: ${err.message}`));
    });
  });
}
