/**
 * The lab's container images, built on this machine (no registry) with src/image and cached
 * under the cache root by a key of their inputs, then imported into every node's containerd.
 *
 * | image                     | contents                                                            |
 * |---------------------------|---------------------------------------------------------------------|
 * | lab/pause:1               | the sandbox container (tools/lab-images/pause)                      |
 * | lab/tcp-server:1          | answers TCP on $PORT (tools/lab-images/tcp-server)                  |
 * | lab/api-client:1          | talks to kubernetes.default.svc, exits 1 when it cannot             |
 * | lab/coredns:1             | the real CoreDNS, `-conf /etc/coredns/Corefile`                     |
 * | lab/kube-proxy:1          | the real kube-proxy, iptables (nft and legacy backends), nft, their |
 * |                           | libraries and extensions, and boot-wait for --kube-proxy-delay       |
 *
 * The workloads are static Go programs rather than Node.js scripts: images of a few MB that start
 * in milliseconds, with nothing of the host's Node.js or the repo inside a container.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { programFiles } from '../image/libraries.ts';
import { type BuiltImage, buildOciImage, type ImageFile, type ImageSpec } from '../image/oci.ts';
import type { LabBinary } from './binaries.ts';
import { cacheRoot } from './binaries.ts';

/** Short names of the lab images (`image: lab/<name>:1` in pod specs). */
export const LAB_IMAGES = ['pause', 'tcp-server', 'api-client', 'coredns', 'kube-proxy'] as const;
/** One lab image. */
export type LabImage = (typeof LAB_IMAGES)[number];

/** The tag every lab image carries (not `latest`, so the kubelet's default pull policy is IfNotPresent). */
const TAG = '1';
/** Bump when an image's recipe changes, so that cached tars are rebuilt. */
const RECIPE = 1;

/** The reference a pod spec uses, e.g. `lab/pause:1`. */
export function labImageRef(image: LabImage): string {
  return `lab/${image}:${TAG}`;
}

/** The fully qualified name containerd stores (the kubelet normalises `lab/x:1` to this). */
export function labImageName(image: LabImage): string {
  return `docker.io/lab/${image}:${TAG}`;
}

const XTABLES_EXTENSIONS = '/usr/lib/x86_64-linux-gnu/xtables';
const NETFILTER_PROGRAMS = ['/usr/sbin/xtables-nft-multi', '/usr/sbin/xtables-legacy-multi', '/usr/sbin/nft'];

/** iptables front ends as Debian links them; the plain names use the nft backend (Debian's default). */
function iptablesLinks(): ImageFile[] {
  const links: ImageFile[] = [];
  for (const fam of ['iptables', 'ip6tables']) {
    for (const suffix of ['', '-save', '-restore']) {
      links.push({ path: `/usr/sbin/${fam}${suffix}`, symlink: 'xtables-nft-multi' });
      links.push({ path: `/usr/sbin/${fam}-nft${suffix}`, symlink: 'xtables-nft-multi' });
      links.push({ path: `/usr/sbin/${fam}-legacy${suffix}`, symlink: 'xtables-legacy-multi' });
    }
  }
  return links;
}

/** The spec of one image, from the lab's binaries and this machine's netfilter tools. */
async function imageSpec(image: LabImage, bins: Readonly<Record<LabBinary, string>>): Promise<ImageSpec> {
  const name = labImageName(image);
  const single = (bin: LabBinary, path: string, cmd: string[] = []): ImageSpec => ({
    name,
    layers: [{ files: [{ path, source: bins[bin] }] }],
    entrypoint: [path],
    ...(cmd.length ? { cmd } : {}),
  });
  switch (image) {
    case 'pause':
      return single('pause', '/pause');
    case 'tcp-server':
      return single('tcp-server', '/tcp-server');
    case 'api-client':
      return single('api-client', '/api-client');
    case 'coredns':
      return single('coredns', '/coredns', ['-conf', '/etc/coredns/Corefile']);
    case 'kube-proxy': {
      const extensions = readdirSync(XTABLES_EXTENSIONS)
        .filter((f) => f.endsWith('.so'))
        .map((f) => join(XTABLES_EXTENSIONS, f));
      const etc = ['/etc/protocols', '/etc/services'].filter((f) => existsSync(f));
      return {
        name,
        layers: [
          {
            files: [
              ...(await programFiles([...NETFILTER_PROGRAMS, ...extensions])),
              ...iptablesLinks(),
              ...etc.map((f) => ({ path: f, source: f, mode: 0o644 })),
            ],
          },
          {
            files: [
              { path: '/usr/local/bin/kube-proxy', source: bins['kube-proxy'] },
              { path: '/usr/local/bin/boot-wait', source: bins['boot-wait'] },
            ],
          },
        ],
        entrypoint: ['/usr/local/bin/kube-proxy'],
      };
    }
    default: {
      const never: never = image;
      throw new Error(`unknown lab image ${String(never)}`);
    }
  }
}

/** What decides an image's bytes: the recipe and each input file's identity (path, size, mtime). */
function cacheKey(image: LabImage, bins: Readonly<Record<LabBinary, string>>): string {
  const inputs =
    image === 'kube-proxy'
      ? [bins['kube-proxy'], bins['boot-wait'], ...NETFILTER_PROGRAMS, XTABLES_EXTENSIONS]
      : [bins[image === 'coredns' ? 'coredns' : image]];
  const h = createHash('sha256').update(`${RECIPE}\n${image}\n`);
  for (const p of inputs) {
    const st = statSync(p);
    h.update(`${p} ${st.size} ${st.mtimeMs}\n`);
  }
  return h.digest('hex').slice(0, 16);
}

/**
 * Every lab image as an OCI tar, built once per set of inputs into
 * `<cache root>/lab-images/<image>-<key>.tar` (with a JSON note of its digest beside it).
 */
export async function ensureLabImages(
  bins: Readonly<Record<LabBinary, string>>,
  log: (line: string) => void = () => {},
): Promise<Record<LabImage, BuiltImage>> {
  const dir = join(cacheRoot(), 'lab-images');
  const out = {} as Record<LabImage, BuiltImage>;
  for (const image of LAB_IMAGES) {
    const tar = join(dir, `${image}-${cacheKey(image, bins)}.tar`);
    const note = `${tar}.json`;
    if (existsSync(tar) && existsSync(note)) {
      out[image] = JSON.parse(readFileSync(note, 'utf8')) as BuiltImage;
      continue;
    }
    const t0 = performance.now();
    const built = await buildOciImage(await imageSpec(image, bins), tar);
    writeFileSync(note, `${JSON.stringify(built)}\n`);
    log(
      `built image ${built.name} (${(built.size / 1e6).toFixed(1)} MB, ${built.digest.slice(0, 19)}) in ${Math.round(performance.now() - t0)} ms`,
    );
    out[image] = built;
  }
  return out;
}
