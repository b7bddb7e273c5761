/**
 * The real Kubernetes components the lab runs, built from the Go modules pinned in
 * tools/lab-binaries/go.mod into a cache outside the repo (keyed by the pinned versions and the
 * build recipe), or taken from a folder named by NETWARDEN_KUBE_BIN / KUBEBUILDER_ASSETS.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NetwardenError } from '../errors.ts';
import { lastLines, run } from '../host/exec.ts';

/** Every program the lab needs, by the file name it has in a binaries folder. */
export const LAB_BINARIES = {
  'kube-apiserver': 'k8s.io/kubernetes/cmd/kube-apiserver',
  'kube-controller-manager': 'k8s.io/kubernetes/cmd/kube-controller-manager',
  'kube-scheduler': 'k8s.io/kubernetes/cmd/kube-scheduler',
  'kube-proxy': 'k8s.io/kubernetes/cmd/kube-proxy',
  etcd: 'go.etcd.io/etcd/server/v3',
  bridge: 'github.com/containernetworking/plugins/plugins/main/bridge',
  ptp: 'github.com/containernetworking/plugins/plugins/main/ptp',
  loopback: 'github.com/containernetworking/plugins/plugins/main/loopback',
  'host-local': 'github.com/containernetworking/plugins/plugins/ipam/host-local',
  portmap: 'github.com/containernetworking/plugins/plugins/meta/portmap',
} as const;

/** Name of one lab program. */
export type LabBinary = keyof typeof LAB_BINARIES;

/** The pinned versions, read from the go.mod. */
export interface PinnedVersions {
  readonly kubernetes: string;
  readonly etcd: string;
  readonly cniPlugins: string;
}

/** Where each program comes from, and what that cost. */
export interface ResolvedBinaries {
  readonly paths: Readonly<Record<LabBinary, string>>;
  readonly versions: PinnedVersions;
  /** `override` (env folder), `cache` (built earlier) or `built` (built by this call). */
  readonly source: 'override' | 'cache' | 'built' | 'mixed';
  readonly cacheDir: string;
  readonly buildSeconds?: number;
}

/** Bump when the build recipe (flags, layout) changes so old caches are not reused. */
const RECIPE = 1;

/** The repo folder holding go.mod/go.sum for the lab binaries. */
export function goModuleDir(): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), '../../tools/lab-binaries');
}

/** Reads the pinned versions out of go.mod text. */
export function pinnedVersions(goMod: string): PinnedVersions {
  const req = (mod: string): string => {
    const m = goMod.match(new RegExp(`^\\s*${mod.replaceAll('.', '\\.')}\\s+(v\\S+)`, 'm'));
    if (!m?.[1]) throw new NetwardenError('build-failed', `tools/lab-binaries/go.mod does not pin ${mod}`);
    return m[1];
  };
  return {
    kubernetes: req('k8s.io/kubernetes'),
    etcd: req('go.etcd.io/etcd/server/v3'),
    cniPlugins: req('github.com/containernetworking/plugins'),
  };
}

/** The cache root: NETWARDEN_CACHE_DIR, else $XDG_CACHE_HOME/netwarden, else ~/.cache/netwarden. */
export function cacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env.NETWARDEN_CACHE_DIR) return env.NETWARDEN_CACHE_DIR;
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'netwarden');
}

/** The version-keyed cache folder for one go.mod + go.sum. */
export function cacheDirFor(moduleDir: string, env: NodeJS.ProcessEnv = process.env): string {
  const goMod = readFileSync(join(moduleDir, 'go.mod'), 'utf8');
  const goSum = existsSync(join(moduleDir, 'go.sum')) ? readFileSync(join(moduleDir, 'go.sum'), 'utf8') : '';
  const v = pinnedVersions(goMod);
  const hash = createHash('sha256').update(`${RECIPE}\n${goMod}\n${goSum}`).digest('hex').slice(0, 10);
  return join(cacheRoot(env), 'lab-bin', `k8s-${v.kubernetes}_etcd-${v.etcd}_cni-${v.cniPlugins}_${hash}`);
}

function overrideDirs(env: NodeJS.ProcessEnv): string[] {
  return [env.NETWARDEN_KUBE_BIN, env.KUBEBUILDER_ASSETS].filter((d): d is string => Boolean(d));
}

/** Options of {@link ensureBinaries}. */
export interface EnsureOptions {
  readonly env?: NodeJS.ProcessEnv;
  readonly moduleDir?: string;
  /** Progress lines for a person (stderr in the CLI). */
  readonly log?: (line: string) => void;
  /** Upper bound for the whole Go build. */
  readonly buildTimeoutMs?: number;
}

/**
 * Returns a path for every lab program: from an override folder when it holds that program,
 * else from the cache, building the missing ones once. Throws a NetwardenError naming the step
 * (Go missing, module download, compile) when it cannot.
 */
export async function ensureBinaries(opts: EnsureOptions = {}): Promise<ResolvedBinaries> {
  const env = opts.env ?? process.env;
  const log = opts.log ?? (() => {});
  const moduleDir = opts.moduleDir ?? goModuleDir();
  const versions = pinnedVersions(readFileSync(join(moduleDir, 'go.mod'), 'utf8'));
  const cacheDir = cacheDirFor(moduleDir, env);
  const names = Object.keys(LAB_BINARIES) as LabBinary[];

  const fromOverride = new Map<LabBinary, string>();
  for (const dir of overrideDirs(env)) {
    for (const name of names) {
      const p = join(dir, name);
      if (!fromOverride.has(name) && existsSync(p)) fromOverride.set(name, p);
    }
  }
  const needCache = names.filter((n) => !fromOverride.has(n));
  let source: ResolvedBinaries['source'] = needCache.length === 0 ? 'override' : 'cache';
  let buildSeconds: number | undefined;
  const missing = needCache.filter((n) => !existsSync(join(cacheDir, n)));
  if (missing.length > 0) {
    const t0 = performance.now();
    await buildInto(cacheDir, missing, versions, moduleDir, env, log, opts.buildTimeoutMs ?? 80 * 60_000);
    buildSeconds = (performance.now() - t0) / 1000;
    log(`built ${missing.join(', ')} in ${buildSeconds.toFixed(0)} s into ${cacheDir}`);
    source = 'built';
  } else if (needCache.length > 0) {
    log(
      `reusing cached lab binaries (Kubernetes ${versions.kubernetes}, etcd ${versions.etcd}) from ${cacheDir}`,
    );
  }
  if (fromOverride.size > 0 && needCache.length > 0) source = 'mixed';
  if (fromOverride.size > 0)
    log(`using ${[...fromOverride.keys()].join(', ')} from ${overrideDirs(env).join(':')}`);

  const paths = Object.fromEntries(names.map((n) => [n, fromOverride.get(n) ?? join(cacheDir, n)])) as Record<
    LabBinary,
    string
  >;
  return { paths, versions, source, cacheDir, ...(buildSeconds === undefined ? {} : { buildSeconds }) };
}

/** Linker flags that make `--version` print the pinned release instead of v0.0.0-master. */
function kubeLdflags(v: PinnedVersions): string {
  const m = v.kubernetes.match(/^v(\d+)\.(\d+)/);
  const pkg = 'k8s.io/component-base/version';
  return [
    '-s -w',
    `-X ${pkg}.gitVersion=${v.kubernetes}`,
    `-X ${pkg}.gitMajor=${m?.[1] ?? ''}`,
    `-X ${pkg}.gitMinor=${m?.[2] ?? ''}`,
    `-X ${pkg}.gitTreeState=clean`,
    `-X ${pkg}.buildDate=1970-01-01T00:00:00Z`,
    `-X ${pkg}/verflag.programName=kubernetes`,
  ].join(' ');
}

async function buildInto(
  cacheDir: string,
  names: LabBinary[],
  versions: PinnedVersions,
  moduleDir: string,
  env: NodeJS.ProcessEnv,
  log: (line: string) => void,
  timeoutMs: number,
): Promise<void> {
  const goVersion = await run('go', ['version'], { env, timeoutMs: 30_000 }).catch(() => null);
  if (goVersion?.code !== 0) {
    throw new NetwardenError(
      'binary-missing',
      `step "find Go": the go command is not on PATH; it is needed to build ${names.join(', ')} ` +
        '(install Go, or set NETWARDEN_KUBE_BIN to a folder with prebuilt binaries)',
    );
  }
  log(
    `building ${names.join(', ')} with ${goVersion.stdout.trim()} (Kubernetes ${versions.kubernetes}, etcd ${versions.etcd}, CNI plugins ${versions.cniPlugins}); a cold build takes 15-30 min on 2 cores`,
  );
  const goEnv = { ...env, GOFLAGS: '-mod=readonly -buildvcs=false', CGO_ENABLED: '0', GOTOOLCHAIN: 'local' };

  const download = await run('go', ['mod', 'download'], {
    env: goEnv,
    cwd: moduleDir,
    timeoutMs: 20 * 60_000,
  });
  if (download.code !== 0) {
    throw new NetwardenError(
      'build-failed',
      `step "go mod download" in ${moduleDir} failed: ${lastLines(download.stderr, 6)}`,
    );
  }

  const staging = `${cacheDir}.partial-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  // One `go build` per ldflags group: the Kubernetes programs get version stamping, the rest not.
  const groups: { names: LabBinary[]; ldflags: string }[] = [
    { names: names.filter((n) => n.startsWith('kube-')), ldflags: kubeLdflags(versions) },
    { names: names.filter((n) => !n.startsWith('kube-')), ldflags: '-s -w' },
  ];
  for (const group of groups) {
    for (const name of group.names) {
      const t0 = performance.now();
      const res = await run(
        'go',
        ['build', '-trimpath', '-ldflags', group.ldflags, '-o', join(staging, name), LAB_BINARIES[name]],
        { env: goEnv, cwd: moduleDir, timeoutMs },
      );
      if (res.code !== 0) {
        rmSync(staging, { recursive: true, force: true });
        const why = res.timedOut
          ? `timed out after ${Math.round(timeoutMs / 60_000)} min`
          : lastLines(res.stderr, 8);
        throw new NetwardenError('build-failed', `step "go build ${LAB_BINARIES[name]}" failed: ${why}`);
      }
      log(`  built ${name} in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
    }
  }
  mkdirSync(cacheDir, { recursive: true });
  for (const name of names) renameSync(join(staging, name), join(cacheDir, name));
  writeFileSync(join(cacheDir, 'versions.json'), `${JSON.stringify(versions, null, 2)}\n`);
  rmSync(staging, { recursive: true, force: true });
}
