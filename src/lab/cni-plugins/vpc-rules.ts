/**
 * `lab-vpc-rules`: a chained CNI plugin (run after `ptp`) that adds the per-pod policy rules the
 * AWS VPC CNI adds for a pod on a secondary ENI: `to <podIP> lookup main` (priority 512) and
 * `from <podIP> lookup <eniTable>` (1536). See network.ts for why the second one matters.
 *
 * Fault `early-pods-lose-route`: while the node's CNI is not yet "ready" (the file named by
 * `readyFile` does not exist), ADD succeeds but leaves the 1536 rule out — the stale-state failure
 * of ipamd after a reboot. Such a pod stays broken until it gets a new sandbox.
 *
 * DEL removes the rules of the address this plugin recorded for the container at ADD (in
 * `stateDir`, volatile like ipamd's state), not of the address in `prevResult`: after a reboot the
 * runtime deletes the old sandboxes with results cached on disk, whose addresses may already
 * belong to new pods; a real IPAM daemon answers DEL from its own state in the same way. The
 * record (`{ip, namespace, name, containerID}`) is also what the lab's ipamd stand-in
 * (cni-daemon.ts `/v1/enis`) reports, as ipamd reports its datastore.
 */
import { spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

interface Config {
  cniVersion: string;
  eniTable?: number;
  readyFile?: string;
  faults?: string[];
  logFile?: string;
  stateDir?: string;
  prevResult?: { ips?: { address: string }[] };
}

function ipRule(args: string[]): { ok: boolean; err: string } {
  const r = spawnSync('ip', ['rule', ...args], { encoding: 'utf8', timeout: 10_000 });
  return { ok: r.status === 0, err: (r.stderr ?? '').trim() };
}

function log(conf: Config, line: string): void {
  if (conf.logFile)
    appendFileSync(
      conf.logFile,
      `${new Date().toISOString()} ${process.env.CNI_CONTAINERID ?? ''} ${line}\n`,
    );
}

/** `K8S_POD_NAMESPACE=…;K8S_POD_NAME=…` from CNI_ARGS, as the runtime passes them. */
function podArgs(): { namespace?: string; name?: string } {
  const args = new Map(
    (process.env.CNI_ARGS ?? '')
      .split(';')
      .map((kv) => kv.split('=') as [string, string | undefined])
      .filter((kv): kv is [string, string] => kv[1] !== undefined),
  );
  const namespace = args.get('K8S_POD_NAMESPACE');
  const name = args.get('K8S_POD_NAME');
  return { ...(namespace ? { namespace } : {}), ...(name ? { name } : {}) };
}

/** The address recorded for a container (a JSON record, or the bare address of older records). */
function recordedIp(file: string): string | undefined {
  if (!existsSync(file)) return undefined;
  const text = readFileSync(file, 'utf8').trim();
  try {
    const ip = (JSON.parse(text) as { ip?: unknown }).ip;
    return typeof ip === 'string' ? ip : undefined;
  } catch {
    return text || undefined;
  }
}

function fail(code: number, msg: string): never {
  process.stdout.write(JSON.stringify({ cniVersion: '1.0.0', code, msg }));
  process.exit(1);
}

function main(): void {
  const command = process.env.CNI_COMMAND;
  if (command === 'VERSION') {
    process.stdout.write(JSON.stringify({ cniVersion: '1.0.0', supportedVersions: ['0.4.0', '1.0.0'] }));
    return;
  }
  let conf: Config;
  try {
    conf = JSON.parse(readFileSync(0, 'utf8')) as Config;
  } catch {
    fail(6, 'lab-vpc-rules: configuration on stdin is not JSON');
  }
  const table = String(conf.eniTable ?? 2);
  const containerId = (process.env.CNI_CONTAINERID ?? '').replace(/[^A-Za-z0-9_.-]/g, '_');
  const record = conf.stateDir && containerId ? join(conf.stateDir, containerId) : undefined;
  if (command === 'ADD') {
    const podIp = conf.prevResult?.ips?.[0]?.address.split('/')[0];
    if (!podIp) fail(7, 'lab-vpc-rules: no prevResult IP (must run after an IPAM-using plugin)');
    const to = ipRule(['add', 'to', podIp, 'lookup', 'main', 'pref', '512']);
    if (!to.ok && !to.err.includes('File exists')) fail(11, `ip rule add to ${podIp}: ${to.err}`);
    const notReady = conf.readyFile !== undefined && !existsSync(conf.readyFile);
    if (notReady && conf.faults?.includes('early-pods-lose-route')) {
      log(
        conf,
        `ADD ${podIp}: CNI not ready yet, from-pod rule NOT programmed (fault early-pods-lose-route)`,
      );
    } else {
      const from = ipRule(['add', 'from', podIp, 'lookup', table, 'pref', '1536']);
      if (!from.ok && !from.err.includes('File exists')) fail(11, `ip rule add from ${podIp}: ${from.err}`);
      log(conf, `ADD ${podIp}: rules 512 and 1536 programmed`);
    }
    if (record && conf.stateDir) {
      mkdirSync(conf.stateDir, { recursive: true });
      writeFileSync(
        record,
        JSON.stringify({ ip: podIp, ...podArgs(), containerID: process.env.CNI_CONTAINERID ?? '' }),
      );
    }
    process.stdout.write(JSON.stringify(conf.prevResult));
    return;
  }
  if (command === 'DEL') {
    const podIp = record ? recordedIp(record) : conf.prevResult?.ips?.[0]?.address.split('/')[0];
    if (podIp) {
      ipRule(['del', 'to', podIp, 'lookup', 'main', 'pref', '512']);
      ipRule(['del', 'from', podIp, 'lookup', table, 'pref', '1536']);
      log(conf, `DEL ${podIp}`);
    }
    if (record) rmSync(record, { force: true });
    return;
  }
  if (command === 'CHECK') return;
  fail(4, `lab-vpc-rules: unknown CNI_COMMAND ${command}`);
}

main();
