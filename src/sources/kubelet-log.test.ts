import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { sandboxFailureFindings } from '../assess/logs.ts';
import { parseSandboxFailures } from './kubelet-log.ts';

// The fixture's first lines ("# source", "# context") are provenance, not kubelet output.
const event = readFileSync(
  new URL('./fixtures/kubelet-event-aws-cni-add-failed.txt', import.meta.url),
  'utf8',
)
  .split('\n')
  .filter((l) => !l.startsWith('# '))
  .join('\n');

describe('parseSandboxFailures', () => {
  it('reads the real FailedCreatePodSandBox event (ipamd not listening)', () => {
    const f = parseSandboxFailures(event);
    expect(f).toHaveLength(1);
    expect(f[0]).toMatchObject({
      kind: 'ipamd-unreachable',
      pod: 'kube-system/cluster-autoscaler-7f8f7cdb4d-64lt4',
    });
  });

  it.each([
    [
      'containerd-era journal line',
      'Jun 23 09:15:52 ip-10-0-1-2 kubelet[3051]: E0623 09:15:52.118201 3051 pod_workers.go:1301] "Error syncing pod, skipping" err="failed to \\"CreatePodSandbox\\" ... plugin type=\\"aws-cni\\" name=\\"aws-cni\\" failed (add): add cmd: failed to assign an IP address to container" pod="app/rabbitmq-0"',
      'ip-assign-failed',
      'app/rabbitmq-0',
      'Jun 23 09:15:52',
    ],
    [
      'dockershim-era event',
      'networkPlugin cni failed to set up pod "web-1_prod" network: add cmd: failed to assign an IP address to container',
      'ip-assign-failed',
      'prod/web-1',
      undefined,
    ],
  ])('%s', (_n, line, kind, pod, time) => {
    const f = parseSandboxFailures(line)[0];
    expect(f?.kind).toBe(kind);
    expect(f?.pod).toBe(pod);
    expect(f?.time).toBe(time);
  });

  it('ignores unrelated lines and turns failures into findings', () => {
    expect(parseSandboxFailures('Jun 23 09:15:52 host kubelet[1]: I0623 all good\n')).toEqual([]);
    const f = sandboxFailureFindings(
      parseSandboxFailures(`${event}\nfailed to assign an IP address to container`),
      'kubelet.log',
    );
    expect(f.map((x) => x.code)).toEqual(['ipamd-unreachable', 'ip-assign-failed']);
  });

  it('never throws (fuzz)', () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 500 }),
        (t) => void parseSandboxFailures(`${t}failed to assign an IP address to container${t}`),
      ),
      { numRuns: 200 },
    );
  });
});
