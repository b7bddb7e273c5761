/**
 * Live collection on a node (root): runs the same commands a bundle records, plus JSON forms and
 * both iptables backends, reads the CNI files and asks the local endpoints of ipamd and kube-proxy.
 * Every step has a timeout and an output cap; a failing step only removes that input.
 */
import { open, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { kernelBootTimeMs } from '../host/boot-time.ts';
import { run } from '../host/exec.ts';
import { httpGet } from '../host/http.ts';
import { INPUT_FILES, memoryInputs, type NodeInputs } from './inputs.ts';

/** Where live inputs come from (overridable for tests and non-standard nodes). */
export interface LiveOptions {
  readonly cniDir?: string;
  readonly logDir?: string;
  readonly ipamdIntrospection?: string;
  readonly kubeProxyMetrics?: string;
  readonly kubeProxyHealthz?: string;
  /** The kubelet's pod log folder (calico-node's log is read from it). */
  readonly podLogDir?: string;
  /** The CNI daemon's readiness URL (the agent's --cni-health-url); not asked when unset. */
  readonly cniHealthUrl?: string;
  /** The file whose `btime` line is this node's boot (default /proc/stat; labs sharing a kernel differ). */
  readonly bootTimeFile?: string;
  readonly timeoutMs?: number;
}

const CAP = 128 * 1024 * 1024;

/** What a live run expects to collect on a node with the VPC CNI (absent ones are listed as missing). */
const LIVE_EXPECTED: readonly string[] = [
  INPUT_FILES.iptablesNftSave,
  INPUT_FILES.ipRuleJson,
  INPUT_FILES.ipRouteJson,
  INPUT_FILES.ipLinkJson,
  INPUT_FILES.ipamdEnis,
  INPUT_FILES.ipamdPods,
  INPUT_FILES.ipamdLog,
  INPUT_FILES.pluginLog,
  INPUT_FILES.kubeProxyMetrics,
  INPUT_FILES.kubeProxyHealthz,
];

/**
 * What the field cases read besides the usual inputs (docs/field-cases.md): nft's table list,
 * conntrack's UDP flows (doctor only: a busy node's table is large, so it is capped and read once),
 * `uname -a`, the boot time, and calico-node's log (the newest container log under /var/log/pods).
 */
async function collectFieldInputs(
  files: Map<string, string>,
  cmd: (name: string, bin: string, args: string[], cap?: number) => Promise<void>,
  opts: LiveOptions,
): Promise<void> {
  const F = INPUT_FILES;
  await cmd(F.nftTables, 'nft', ['-j', 'list', 'tables']);
  // 32 MiB is about 200,000 flows; a larger table is left out with a note rather than read in part.
  await cmd(F.conntrackUdp, 'conntrack', ['-L', '-p', 'udp'], 32 * 1024 * 1024);
  await cmd(F.uname, 'uname', ['-a']);
  const boot = await kernelBootTimeMs(opts.bootTimeFile);
  if (boot !== undefined) files.set(F.bootTime, `${Math.floor(boot / 1000)}\n`);
  const felix = await newestContainerLog(opts.podLogDir ?? '/var/log/pods', 'calico-node');
  if (felix !== undefined) files.set(F.calicoNodeLog, felix);
}

/** The tail (32 MiB) of the newest log of container `name` in a pod folder named `<ns>_<name>-…`. */
async function newestContainerLog(root: string, name: string): Promise<string | undefined> {
  try {
    const pods = (await readdir(root)).filter((d) => d.includes(`_${name}-`)).slice(0, 16);
    let best: { path: string; mtime: number; size: number } | undefined;
    for (const pod of pods) {
      const dir = join(root, pod, name);
      for (const f of await readdir(dir).catch(() => [] as string[])) {
        if (!f.endsWith('.log')) continue;
        const st = await stat(join(dir, f));
        if (!best || st.mtimeMs > best.mtime) best = { path: join(dir, f), mtime: st.mtimeMs, size: st.size };
      }
    }
    if (!best) return undefined;
    const max = 32 * 1024 * 1024;
    const fh = await open(best.path, 'r');
    try {
      const len = Math.min(best.size, max);
      const buf = Buffer.alloc(len);
      await fh.read(buf, 0, len, Math.max(0, best.size - len));
      return buf.toString('utf8');
    } finally {
      await fh.close();
    }
  } catch {
    return undefined; // no pod logs here (not a node, or no calico-node)
  }
}

/** Collects the node's inputs. */
export async function collectLive(opts: LiveOptions = {}): Promise<NodeInputs> {
  const F = INPUT_FILES;
  const files = new Map<string, string>();
  const notes: string[] = [];
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const cmd = async (name: string, bin: string, args: string[], cap = CAP): Promise<void> => {
    try {
      const r = await run(bin, args, { timeoutMs, maxOutputBytes: cap });
      if (r.code === 0 && !r.truncated) files.set(name, r.stdout);
      else
        notes.push(
          `${bin} ${args.join(' ')}: ${r.timedOut ? 'timed out' : r.truncated ? 'output too large' : `exit ${r.code}: ${r.stderr.trim().split('\n')[0] ?? ''}`}`,
        );
      // iptables-nft-save reports legacy tables on stderr; keep that signal with the dump.
      if (r.code === 0 && r.stderr.includes('iptables-legacy tables present'))
        files.set(name, `${files.get(name) ?? ''}\n# Warning: iptables-legacy tables present\n`);
    } catch (err) {
      notes.push(`${bin}: ${(err as Error).message.split('\n')[0]}`);
    }
  };
  await cmd(F.iptablesNftSave, 'iptables-nft-save', []);
  await cmd(F.iptablesLegacySave, 'iptables-legacy-save', []);
  if (!files.has(F.iptablesNftSave) && !files.has(F.iptablesLegacySave))
    await cmd(F.iptablesSave, 'iptables-save', []);
  // Absent in iptables mode: not worth a note.
  try {
    const r = await run('nft', ['-j', 'list', 'table', 'ip', 'kube-proxy'], {
      timeoutMs,
      maxOutputBytes: CAP,
    });
    if (r.code === 0 && !r.truncated) files.set(F.nftKubeProxy, r.stdout);
  } catch {
    // nft not installed
  }
  await collectFieldInputs(files, cmd, opts);
  await cmd(F.ipRuleJson, 'ip', ['-j', '-4', 'rule', 'show']);
  await cmd(F.ipRouteJson, 'ip', ['-j', '-4', 'route', 'show', 'table', 'all']);
  await cmd(F.ipLinkJson, 'ip', ['-j', 'link', 'show']);
  const cniDir = opts.cniDir ?? '/etc/cni/net.d';
  let cniPresent = false;
  const times: string[] = [];
  try {
    for (const d of await readdir(cniDir, { withFileTypes: true })) {
      if (!d.isFile()) continue;
      files.set(`cni/${d.name}`, await readFile(join(cniDir, d.name), 'utf8'));
      const mtime = Math.floor((await stat(join(cniDir, d.name))).mtimeMs / 1000);
      times.push(`${mtime} ${join(cniDir, d.name)}`);
    }
    cniPresent = true;
  } catch (err) {
    // On a node, a missing CNI directory is itself the finding (cni-config-missing).
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') cniPresent = true;
    else notes.push(`${cniDir}: ${(err as Error).message.split('\n')[0]}`);
  }
  if (times.length > 0) files.set(F.cniTimes, `${times.join('\n')}\n`);
  const logDir = opts.logDir ?? '/var/log/aws-routed-eni';
  for (const [name, file] of [
    [F.ipamdLog, 'ipamd.log'],
    [F.pluginLog, 'plugin.log'],
  ] as const) {
    const p = join(logDir, file);
    try {
      const st = await stat(p);
      const text = await readFile(p, 'utf8');
      files.set(name, st.size > 32 * 1024 * 1024 ? text.slice(-32 * 1024 * 1024) : text);
    } catch {
      // absent on nodes without the VPC CNI
    }
  }
  try {
    files.set(F.ipamCheckpoint, await readFile('/var/run/aws-node/ipam.json', 'utf8'));
  } catch {
    // absent without the VPC CNI
  }
  const get = async (name: string, url: string): Promise<void> => {
    const r = await httpGet(url, { timeoutMs: 3_000, maxBytes: 32 * 1024 * 1024 });
    if (r.ok && r.status < 500) files.set(name, r.body);
    else if (r.ok) files.set(name, r.body);
  };
  const intro = opts.ipamdIntrospection ?? 'http://127.0.0.1:61679';
  await get(F.ipamdEnis, `${intro}/v1/enis`);
  await get(F.ipamdPods, `${intro}/v1/pods`);
  await get(F.ipamdEnv, `${intro}/v1/ipamd-env-settings`);
  await get(F.networkutilsEnv, `${intro}/v1/networkutils-env-settings`);
  await get(F.kubeProxyMetrics, opts.kubeProxyMetrics ?? 'http://127.0.0.1:10249/metrics');
  await get(F.kubeProxyHealthz, opts.kubeProxyHealthz ?? 'http://127.0.0.1:10256/healthz');
  if (opts.cniHealthUrl) {
    // Recorded whatever the answer (a 503 or a refusal is the evidence), as the agent's cni check reads it.
    const r = await httpGet(opts.cniHealthUrl, { timeoutMs: 3_000, maxBytes: 64 * 1024 });
    files.set(
      F.cniHealth,
      `${JSON.stringify(r.ok ? { url: opts.cniHealthUrl, status: r.status, body: r.body } : { url: opts.cniHealthUrl, error: r.error })}\n`,
    );
  }
  return memoryInputs('live', files, notes, cniPresent, LIVE_EXPECTED);
}
