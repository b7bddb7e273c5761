/**
 * The lab's "images": programs a container runs, chosen by the pod's `image`. A container's own
 * `command`/`args` replace the image's, as in Kubernetes.
 *
 * | image            | program                                                                    |
 * |------------------|----------------------------------------------------------------------------|
 * | lab/tcp-server   | answers TCP on $PORT (default: the first containerPort, else 8080)         |
 * | lab/api-client   | talks to the API through kubernetes.default.svc; exits 1 when it cannot     |
 * | lab/coredns      | the real CoreDNS binary; pass `-conf <Corefile>` in args                   |
 * | lab/pause        | sleeps forever                                                             |
 */
import type { Pod } from '../../core/objects.ts';
import type { KubeletConfig } from './config.ts';

type Container = NonNullable<Pod['spec']>['containers'][number];

/** The process to start for a container. */
export interface ContainerCommand {
  readonly cmd: string;
  readonly args: string[];
  readonly env: Record<string, string>;
}

/** The images this lab knows. */
export const LAB_IMAGES = ['lab/tcp-server', 'lab/api-client', 'lab/coredns', 'lab/pause'] as const;

/** Resolves a container to a command, or returns an error message for an unknown image. */
export function containerCommand(
  c: Container,
  images: KubeletConfig['images'],
): ContainerCommand | { error: string } {
  const env: Record<string, string> = {};
  for (const e of c.env ?? []) if (e.value !== undefined) env[e.name] = e.value;
  const script = (name: string): string[] => [`${images.repo}/src/lab/images/${name}.ts`];
  let base: { cmd: string; args: string[] };
  switch (c.image) {
    case 'lab/tcp-server':
      env.PORT ??= String(c.ports?.[0]?.containerPort ?? 8080);
      base = { cmd: images.node, args: script('tcp-server') };
      break;
    case 'lab/api-client':
      base = { cmd: images.node, args: script('api-client') };
      break;
    case 'lab/coredns':
      base = { cmd: images.coredns, args: [] };
      break;
    case 'lab/pause':
      base = { cmd: 'sleep', args: ['infinity'] };
      break;
    default:
      if (!c.command?.length)
        return { error: `image "${c.image}" is not a lab image (known: ${LAB_IMAGES.join(', ')})` };
      base = { cmd: '', args: [] };
  }
  if (c.command?.length) {
    const [cmd, ...rest] = c.command;
    return { cmd: cmd ?? '', args: [...rest, ...(c.args ?? [])], env };
  }
  return { cmd: base.cmd, args: [...base.args, ...(c.args ?? [])], env };
}
