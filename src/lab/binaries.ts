/**
 * The real Kubernetes components the lab runs, and the operator tools the tests run (helm,
 * promtool), built from the Go modules pinned under tools/ into a cache outside the repo (keyed by
 * the pinned versions and the build recipe), or taken from a folder named by NETWARDEN_KUBE_BIN /
 * KUBEBUILDER_ASSETS. Also netwarden's own Go program, the boot gate CNI plugin (tools/cni-gate),
 * keyed by its sources.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NetwardenError } from '../errors.ts';
import { lastLines, run } from '../host/exec.ts';

/**
 * The Go modules the lab builds from, each pinned by its own go.mod under tools/ and cached under
 * its own key, so that changing one (say CoreDNS) never rebuilds the other.
 */
export const TOOLSETS = {
  kubernetes: {
    dir: 'lab-binaries',
    pins: {
      kubernetes: 'k8s.io/kubernetes',
      etcd: 'go.etcd.io/etcd/server/v3',
      cniPlugins: 'github.com/containernetworking/plugins',
    },
    binaries: {
      'kube-apiserver': 'k8s.io/kubernetes/cmd/kube-apiserver',
      'kube-controller-manager': 'k8s.io/kubernetes/cmd/kube-controller-manager',
      'kube-scheduler': 'k8s.io/kubernetes/cmd/kube-scheduler',
      'kube-proxy': 'k8s.io/kubernetes/cmd/kube-proxy',
      kubelet: 'k8s.io/kubernetes/cmd/kubelet',
      etcd: 'go.etcd.io/etcd/server/v3',
      bridge: 'github.com/containernetworking/plugins/plugins/main/bridge',
      ptp: 'github.com/containernetworking/plugins/plugins/main/ptp',
      loopback: 'github.com/containernetworking/plugins/plugins/main/loopback',
      'host-local': 'github.com/containernetworking/plugins/plugins/ipam/host-local',
      portmap: 'github.com/containernetworking/plugins/plugins/meta/portmap',
    },
  },
  coredns: {
    dir: 'coredns',
    pins: { coredns: 'github.com/coredns/coredns' },
    binaries: { coredns: 'github.com/coredns/coredns' },
  },
  // Renders and lints deploy/chart/netwarden; the lab applies the chart's RBAC through it.
  helm: {
    dir: 'helm',
    pins: { helm: 'helm.sh/helm/v4' },
    binaries: { helm: 'helm.sh/helm/v4/cmd/helm' },
  },
  // Checks and unit-tests the chart's alert rules (`promtool test rules`).
  promtool: {
    dir: 'promtool',
    pins: { promtool: 'github.com/prometheus/prometheus' },
    binaries: { promtool: 'github.com/prometheus/prometheus/cmd/promtool' },
  },
  /**
   * netwarden's own node programs, shipped in the image: the boot gate CNI plugin and the nftables
   * generation reader. No dependencies; keyed by their source files.
   */
  cniGate: {
    dir: 'cni-gate',
    pins: {},
    binaries: {
      'netwarden-cni-gate': 'netwarden.dev/cni-gate',
      'netwarden-nft-generation': 'netwarden.dev/cni-gate/nft-generation',
    },
  },
  /** The lab's own workloads (tools/lab-images, standard library only), packed into lab images. */
  labImages: {
    dir: 'lab-images',
    pins: {},
    binaries: {
      pause: 'netwarden.dev/lab-images/pause',
      'tcp-server': 'netwarden.dev/lab-images/tcp-server',
      'api-client': 'netwarden.dev/lab-images/api-client',
      'boot-wait': 'netwarden.dev/lab-images/boot-wait',
    },
  },
} as const;

/** One of the module folders under tools/. */
export type Toolset = keyof typeof TOOLSETS;

type BinariesOf<T extends Toolset> = keyof (typeof TOOLSETS)[T]['binaries'];
/** Name of one lab program. */
export type LabBinary =
  | BinariesOf<'kubernetes'>
  | BinariesOf<'coredns'>
  | BinariesOf<'helm'>
  | BinariesOf<'promtool'>
  | BinariesOf<'cniGate'>
  | BinariesOf<'labImages'>;

/** Every lab program and the Go package it is built from. */
export const LAB_BINARIES: Readonly<Record<LabBinary, string>> = {
  ...TOOLSETS.kubernetes.binaries,
  ...TOOLSETS.coredns.binaries,
  ...TOOLSETS.helm.binaries,
  ...TOOLSETS.promtool.binaries,
  ...TOOLSETS.cniGate.binaries,
  ...TOOLSETS.labImages.binaries,
};

/** The pinned versions, read from the go.mod files. */
export interface PinnedVersions {
  readonly kubernetes: string;
  readonly etcd: string;
  readonly cniPlugins: string;
  readonly coredns: string;
  readonly helm: string;
  readonly promtool: string;
}

/** Where each program comes from, and what that cost. */
export interface ResolvedBinaries {
  readonly paths: Readonly<Record<LabBinary, string>>;
  readonly versions: PinnedVersions;
  /** `override` (env folder), `cache` (built earlier) or `built` (built by this call). */
  readonly source: 'override' | 'cache' | 'built' | 'mixed';
  readonly cacheDirs: readonly string[];
  readonly buildSeconds?: number;
}

/** Bump when the build recipe (flags, layout) changes so old caches are not reused. */
const RECIPE = 2;

/** The repo folder holding the tools/ modules. */
export function toolsDir(): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), '../../tools');
}

/** The folder of the Kubernetes module (tools/lab-binaries). */
export function goModuleDir(): string {
  return join(toolsDir(), TOOLSETS.kubernetes.dir);
}

/** Reads the version of `mod` out of go.mod text. */
export function pinnedVersion(goMod: string, mod: string): string {
  const m = goMod.match(new RegExp(`^\\s*(?:require\\s+)?${mod.replaceAll('.', '\\.')}\\s+(v\\S+)`, 'm'));
  if (!m?.[1]) throw new NetwardenError('build-failed', `go.mod does not pin ${mod}`);
  return m[1];
}

/** Reads the Kubernetes module's pins out of its go.mod text. */
export function pinnedVersions(goMod: string): Pick<PinnedVersions, 'kubernetes' | 'etcd' | 'cniPlugins'> {
  return {
    kubernetes: pinnedVersion(goMod, 'k8s.io/kubernetes'),
    etcd: pinnedVersion(goMod, 'go.etcd.io/etcd/server/v3'),
    cniPlugins: pinnedVersion(goMod, 'github.com/containernetworking/plugins'),
  };
}

/** The cache root: NETWARDEN_CACHE_DIR, else $XDG_CACHE_HOME/netwarden, else ~/.cache/netwarden. */
export function cacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env.NETWARDEN_CACHE_DIR) return env.NETWARDEN_CACHE_DIR;
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'netwarden');
}

/**
 * The version-keyed cache folder for one module folder: its go.mod and go.sum, and the module's
 * own Go sources when it has any (the pinning modules have none, so their keys stay as they were).
 */
export function cacheDirFor(
  moduleDir: string,
  env: NodeJS.ProcessEnv = process.env,
  toolset: Toolset = 'kubernetes',
): string {
  const goMod = readFileSync(join(moduleDir, 'go.mod'), 'utf8');
  const goSum = existsSync(join(moduleDir, 'go.sum')) ? readFileSync(join(moduleDir, 'go.sum'), 'utf8') : '';
  // netwarden's own programs (the boot gate plugin, the lab's workloads) are built from source
  // files in the repo: they are part of the key.
  const sources = goSources(moduleDir);
  const pins = Object.entries(TOOLSETS[toolset].pins) as [string, string][];
  const label =
    pins.length === 0
      ? TOOLSETS[toolset].dir
      : pins
          .map(
            ([k, mod]) =>
              `${k === 'kubernetes' ? 'k8s' : k === 'cniPlugins' ? 'cni' : k}-${pinnedVersion(goMod, mod)}`,
          )
          .join('_');
  const hash = createHash('sha256')
    .update(`${RECIPE}\n${goMod}\n${goSum}${sources}`)
    .digest('hex')
    .slice(0, 10);
  return join(cacheRoot(env), 'lab-bin', `${label}_${hash}`);
}

/** The .go files under `dir` (sorted by path) as one text, for cache keys. */
function goSources(dir: string): string {
  return (readdirSync(dir, { recursive: true, encoding: 'utf8' }) as string[])
    .filter((f) => f.endsWith('.go') && !f.endsWith('_test.go'))
    .sort()
    .map((f) => `${f}\n${readFileSync(join(dir, f), 'utf8')}`)
    .join('\n');
}

function overrideDirs(env: NodeJS.ProcessEnv): string[] {
  return [env.NETWARDEN_KUBE_BIN, env.KUBEBUILDER_ASSETS].filter((d): d is string => Boolean(d));
}

/** Options of {@link ensureBinaries}. */
export interface EnsureOptions {
  readonly env?: NodeJS.ProcessEnv;
  /** The folder holding the tools/ modules (tests point it elsewhere). */
  readonly toolsDir?: string;
  /** Progress lines for a person (stderr in the CLI). */
  readonly log?: (line: string) => void;
  /** Upper bound for each Go build. */
  readonly buildTimeoutMs?: number;
  /** Only these toolsets (default: all); the other programs are then missing from `paths`. */
  readonly toolsets?: readonly Toolset[];
}

/**
 * Returns a path for every lab program: from an override folder when it holds that program,
 * else from the cache, building the missing ones once. Throws a NetwardenError naming the step
 * (Go missing, module download, compile) when it cannot.
 */
export async function ensureBinaries(opts: EnsureOptions = {}): Promise<ResolvedBinaries> {
  const env = opts.env ?? process.env;
  const log = opts.log ?? (() => {});
  const tools = opts.toolsDir ?? toolsDir();
  const paths: Partial<Record<LabBinary, string>> = {};
  const versions: Record<string, string> = {};
  const cacheDirs: string[] = [];
  const sources = new Set<'override' | 'cache' | 'built'>();
  let buildSeconds: number | undefined;

  const fromOverride = new Map<LabBinary, string>();
  for (const dir of overrideDirs(env)) {
    for (const name of Object.keys(LAB_BINARIES) as LabBinary[]) {
      const p = join(dir, name);
      if (!fromOverride.has(name) && existsSync(p)) fromOverride.set(name, p);
    }
  }
  if (fromOverride.size > 0)
    log(`using ${[...fromOverride.keys()].join(', ')} from ${overrideDirs(env).join(':')}`);

  for (const toolset of opts.toolsets ?? (Object.keys(TOOLSETS) as Toolset[])) {
    const spec = TOOLSETS[toolset];
    const moduleDir = join(tools, spec.dir);
    const goMod = readFileSync(join(moduleDir, 'go.mod'), 'utf8');
    for (const [key, mod] of Object.entries(spec.pins)) versions[key] = pinnedVersion(goMod, mod);
    const names = Object.keys(spec.binaries) as LabBinary[];
    for (const n of names) {
      const p = fromOverride.get(n);
      if (p) {
        paths[n] = p;
        sources.add('override');
      }
    }
    const needCache = names.filter((n) => !fromOverride.has(n));
    if (needCache.length === 0) continue;
    const cacheDir = cacheDirFor(moduleDir, env, toolset);
    cacheDirs.push(cacheDir);
    const missing = needCache.filter((n) => !existsSync(join(cacheDir, n)));
    if (missing.length > 0) {
      const t0 = performance.now();
      await buildInto({
        cacheDir,
        names: missing,
        versions,
        moduleDir,
        env,
        log,
        timeoutMs: opts.buildTimeoutMs ?? 80 * 60_000,
      });
      const secs = (performance.now() - t0) / 1000;
      buildSeconds = (buildSeconds ?? 0) + secs;
      log(`built ${missing.join(', ')} in ${secs.toFixed(0)} s into ${cacheDir}`);
      sources.add('built');
    } else {
      const pinned = Object.keys(spec.pins).map((k) => `${k} ${versions[k]}`);
      log(
        `reusing cached ${toolset} binaries${pinned.length ? ` (${pinned.join(', ')})` : ''} from ${cacheDir}`,
      );
      sources.add('cache');
    }
    for (const n of needCache) paths[n] = join(cacheDir, n);
  }
  const source = sources.size === 1 ? ([...sources][0] ?? 'cache') : 'mixed';
  return {
    paths: paths as Record<LabBinary, string>,
    versions: versions as unknown as PinnedVersions,
    source,
    cacheDirs,
    ...(buildSeconds === undefined ? {} : { buildSeconds }),
  };
}

/** netwarden's programs for the node, as the image carries them. */
export interface NodePrograms {
  /** The boot gate CNI plugin. */
  readonly cniGatePlugin: string;
  /** The nftables generation reader. */
  readonly nftGeneration: string;
}

/**
 * netwarden's node programs alone (tools/cni-gate: built in seconds, or from the cache), for the
 * image: static binaries (CGO_ENABLED=0), built with -trimpath and without VCS stamps, so the same
 * sources and Go toolchain give the same bytes.
 */
export async function ensureNodePrograms(opts: Omit<EnsureOptions, 'toolsets'> = {}): Promise<NodePrograms> {
  const { paths } = await ensureBinaries({ ...opts, toolsets: ['cniGate'] });
  return { cniGatePlugin: paths['netwarden-cni-gate'], nftGeneration: paths['netwarden-nft-generation'] };
}

/** Linker flags that make `--version` print the pinned release instead of v0.0.0-master. */
function kubeLdflags(kubernetes: string): string {
  const m = kubernetes.match(/^v(\d+)\.(\d+)/);
  const pkg = 'k8s.io/component-base/version';
  return [
    '-s -w',
    `-X ${pkg}.gitVersion=${kubernetes}`,
    `-X ${pkg}.gitMajor=${m?.[1] ?? ''}`,
    `-X ${pkg}.gitMinor=${m?.[2] ?? ''}`,
    `-X ${pkg}.gitTreeState=clean`,
    `-X ${pkg}.buildDate=1970-01-01T00:00:00Z`,
    `-X ${pkg}/verflag.programName=kubernetes`,
  ].join(' ');
}

/** Linker flags for one program: version stamps where the program prints its version. */
function ldflagsFor(name: LabBinary, versions: Record<string, string>): string {
  if (name.startsWith('kube')) return kubeLdflags(versions.kubernetes ?? '');
  if (name === 'helm') return `-s -w -X helm.sh/helm/v4/internal/version.version=${versions.helm ?? ''}`;
  return '-s -w';
}

interface BuildSpec {
  readonly cacheDir: string;
  readonly names: LabBinary[];
  readonly versions: Record<string, string>;
  readonly moduleDir: string;
  readonly env: NodeJS.ProcessEnv;
  readonly log: (line: string) => void;
  readonly timeoutMs: number;
}

async function buildInto(b: BuildSpec): Promise<void> {
  const { cacheDir, names, versions, moduleDir, env, log, timeoutMs } = b;

  const goVersion = await run('go', ['version'], { env, timeoutMs: 30_000 }).catch(() => null);
  if (goVersion?.code !== 0) {
    throw new NetwardenError(
      'binary-missing',
      `step "find Go": the go command is not on PATH; it is needed to build ${names.join(', ')} ` +
        '(install Go, or set NETWARDEN_KUBE_BIN to a folder with prebuilt binaries)',
    );
  }
  log(
    `building ${names.join(', ')} with ${goVersion.stdout.trim()} from ${moduleDir}${names.some((n) => n.startsWith('kube')) ? '; a cold build takes 10-20 min on 2 cores' : ''}`,
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
  // One `go build` per program (the Go build cache shares the common packages); the Kubernetes
  // programs get version stamping so that `--version` prints the pinned release.
  for (const name of names) {
    const ldflags = ldflagsFor(name, versions);
    const t0 = performance.now();
    const res = await run(
      'go',
      ['build', '-trimpath', '-ldflags', ldflags, '-o', join(staging, name), LAB_BINARIES[name]],
      {
        env: goEnv,
        cwd: moduleDir,
        timeoutMs,
      },
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
  mkdirSync(cacheDir, { recursive: true });
  for (const name of names) renameSync(join(staging, name), join(cacheDir, name));
  writeFileSync(join(cacheDir, 'versions.json'), `${JSON.stringify(versions, null, 2)}\n`);
  rmSync(staging, { recursive: true, force: true });
}
