/**
 * `scripts/image --output <file.tar>`: builds the OCI image archive (src/packaging/image.ts) and
 * prints its compressed size and what is in it. A developer tool, not part of the `netwarden` CLI
 * an operator runs.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { cacheRoot, ensureNodePrograms } from '../lab/binaries.ts';
import {
  buildImage,
  defaultReference,
  IMAGE_CNI_GATE_PATH,
  IMAGE_NFT_GENERATION_PATH,
  type ImageReport,
} from '../packaging/image.ts';

const MB = 1024 * 1024;
/** The image budget (compressed), from the issue. */
const BUDGET_BYTES = 80 * MB;

const HELP = `Usage: scripts/image --output <file.tar> [--reference <name:tag>] [--json]

Builds netwarden's OCI image without a container engine, from Debian packages (iptables with both
backends, nftables, iproute2, util-linux nsenter, ca-certificates and their libraries), the
project's Node.js binary (stripped), netwarden bundled by esbuild, the boot gate CNI plugin and the
nftables generation reader (static Go, built from tools/cni-gate). The archive is an OCI image layout (plus docker's
manifest.json): import it with
  ctr -n k8s.io images import <file.tar>        (containerd)
  docker load -i <file.tar>
Same inputs, same digest. Downloads are cached in $NETWARDEN_CACHE_DIR/image (default
~/.cache/netwarden/image). Fails when the compressed image exceeds 80 MB.

Options:
  --output <file.tar>      where to write the archive (required)
  --reference <name:tag>   the image name recorded in the archive (default ${defaultReference()})
  --json                   print the report as JSON
`;

/** Formats the report for people. */
export function formatReport(r: ImageReport): string {
  const mb = (n: number): string => `${(n / MB).toFixed(1)} MB`;
  const areas = Object.entries(r.bytesByArea)
    .sort((a, b) => b[1] - a[1])
    .filter(([, n]) => n > 0)
    .map(([area, n]) => `  ${area.padEnd(14)} ${mb(n).padStart(9)}`);
  return [
    `image      ${r.reference}`,
    `archive    ${r.output} (sha256 ${r.archiveSha256})`,
    `manifest   ${r.manifestDigest}`,
    `size       ${mb(r.compressedBytes)} compressed (budget ${mb(BUDGET_BYTES)}), ${mb(r.uncompressedBytes)} unpacked, ${r.files} files`,
    `node       ${r.nodeVersion} (/usr/bin/node); netwarden /app/netwarden.mjs; boot gate plugin /${IMAGE_CNI_GATE_PATH}; nft generation reader /${IMAGE_NFT_GENERATION_PATH}`,
    'contents by area (unpacked):',
    ...areas,
    `Debian packages (${r.packages.length}):`,
    ...r.packages.map((p) => `  ${p.name} ${p.version}`),
    '',
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      output: { type: 'string' },
      reference: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (!values.output) {
    process.stderr.write(`image: --output <file.tar> is required\n\n${HELP}`);
    return 2;
  }
  const log = (line: string): void => void process.stderr.write(`image: ${line}\n`);
  const report = await buildImage({
    repoDir: resolve(import.meta.dirname, '../..'),
    ...(await ensureNodePrograms({ log })),
    output: resolve(values.output),
    cacheDir: `${cacheRoot()}/image`,
    ...(values.reference ? { reference: values.reference } : {}),
    log,
  });
  process.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
  if (report.compressedBytes > BUDGET_BYTES) {
    process.stderr.write(
      `image: ${(report.compressedBytes / MB).toFixed(1)} MB compressed is over the 80 MB budget\n`,
    );
    return 1;
  }
  return 0;
}

if (import.meta.main) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`image: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
