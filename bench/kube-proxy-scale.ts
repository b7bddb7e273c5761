/**
 * Let the lab's real kube-proxy program N ClusterIP Services × E endpoints, then record what it
 * wrote: `iptables-save` of the node (timed) and the cluster state, for bench/doctor-parse.ts
 * (--file/--cluster-state). Prints figures only.
 * Usage: sudo node_modules/.bin/node bench/kube-proxy-scale.ts [--services 10000] [--endpoints 5] [--out DIR]
 */
import { mkdirSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Lab } from '../src/lab/lab.ts';
import { createSyntheticServices } from '../src/lab/scale.ts';
import { recordRuleset, waitProgrammed } from './lib/ruleset.ts';

const { values } = parseArgs({
  options: {
    services: { type: 'string', default: '10000' },
    endpoints: { type: 'string', default: '5' },
    out: { type: 'string', default: '/tmp/netwarden-kube-proxy-scale' },
  },
});
const services = Number(values.services);
const endpoints = Number(values.endpoints);
const out = values.out ?? '/tmp/netwarden-kube-proxy-scale';
mkdirSync(out, { recursive: true });

const lab = await Lab.up({ nodes: 1, log: (l) => console.error(l) });
try {
  const t0 = performance.now();
  await createSyntheticServices(lab.admin.objects, 'bench', services, endpoints, {
    concurrency: 24,
    onProgress: (n) => console.error(`created ${n} services`),
  });
  const created = performance.now();
  console.error(
    `created ${services} Services + EndpointSlices in ${((created - t0) / 1000).toFixed(0)} s; waiting for kube-proxy`,
  );
  await waitProgrammed(lab, 'node-1');
  const programmed = performance.now();
  console.log(
    `kube-proxy (real, iptables mode) programmed ${services} Services × ${endpoints} endpoints ${((programmed - created) / 1000).toFixed(0)} s after the last create`,
  );
  await recordRuleset(lab, 'node-1', out);
} finally {
  await lab.down();
}
