/**
 * The Helm chart (deploy/chart/netwarden) rendered by the pinned helm: the one source of the
 * agent's ServiceAccount, RBAC and admission policies, which the lab and the tests apply as
 * rendered rather than keeping copies.
 */
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NetwardenError } from '../errors.ts';
import { lastLines, run } from '../host/exec.ts';
import { type KubeObject, parseManifests } from '../kube/objects.ts';

/** The chart folder in this checkout. */
export const CHART_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../deploy/chart/netwarden');

/** What to render. */
export interface RenderOptions {
  /** The helm binary (the pinned one: `ensureBinaries().paths.helm`). */
  readonly helm: string;
  readonly release?: string;
  readonly namespace?: string;
  /** `--set-string`-free values: each becomes `--set key=value` (helm parses the value's type). */
  readonly set?: Readonly<Record<string, string>>;
  /** Value files, in order. */
  readonly valuesFiles?: readonly string[];
  /** Only these templates (paths inside the chart, e.g. `templates/rbac.yaml`). */
  readonly showOnly?: readonly string[];
  readonly chartDir?: string;
}

/** The helm release name the lab and the docs use. */
export const RELEASE = 'netwarden';
/** The namespace the chart is installed into. */
export const NAMESPACE = 'netwarden';

/** The argument list of `helm template` for {@link RenderOptions}. */
export function helmTemplateArgs(opts: RenderOptions): string[] {
  return [
    'template',
    opts.release ?? RELEASE,
    opts.chartDir ?? CHART_DIR,
    '--namespace',
    opts.namespace ?? NAMESPACE,
    ...(opts.valuesFiles ?? []).flatMap((f) => ['--values', f]),
    ...Object.entries(opts.set ?? {}).flatMap(([k, v]) => ['--set', `${k}=${v}`]),
    ...(opts.showOnly ?? []).flatMap((t) => ['--show-only', t]),
  ];
}

/** Runs `helm template` and returns the YAML; throws a NetwardenError with helm's own message. */
export async function renderChartYaml(opts: RenderOptions): Promise<string> {
  const res = await run(opts.helm, helmTemplateArgs(opts), { timeoutMs: 60_000 });
  if (res.code !== 0) {
    throw new NetwardenError(
      'chart-render-failed',
      `helm template ${opts.chartDir ?? CHART_DIR} failed (exit ${res.code ?? res.signal}): ${lastLines(res.stderr, 6)}`,
    );
  }
  return res.stdout;
}

/** Renders the chart into objects. */
export async function renderChart(opts: RenderOptions): Promise<KubeObject[]> {
  return parseManifests(await renderChartYaml(opts));
}

/** The kinds that make up an identity (ServiceAccount and its RBAC). */
const IDENTITY_KINDS = new Set([
  'ServiceAccount',
  'ClusterRole',
  'ClusterRoleBinding',
  'Role',
  'RoleBinding',
]);

/** The objects of one component (`agent`, `cleanup`) of a rendered chart that are its identity. */
export function identityOf(objects: readonly KubeObject[], component: string): KubeObject[] {
  return objects.filter(
    (o) =>
      IDENTITY_KINDS.has(o.kind ?? '') && o.metadata?.labels?.['app.kubernetes.io/component'] === component,
  );
}

/** The admission policies and bindings of one component of a rendered chart. */
export function admissionPoliciesOf(objects: readonly KubeObject[], component: string): KubeObject[] {
  return objects.filter(
    (o) =>
      (o.kind === 'ValidatingAdmissionPolicy' || o.kind === 'ValidatingAdmissionPolicyBinding') &&
      o.metadata?.labels?.['app.kubernetes.io/component'] === component,
  );
}

/** Where the chart's files are, for tests that read them directly. */
export function chartFile(...parts: string[]): string {
  return join(CHART_DIR, ...parts);
}
