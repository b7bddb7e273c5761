import { describe, expect, it } from 'vitest';
import { decodeNodeWatchEvent } from './proto-node.ts';
import { ProtobufError } from './protobuf.ts';
import { message } from './protobuf-testing.ts';

const MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00]);
/** An object as the API server embeds it: magic + runtime.Unknown{typeMeta{v1, kind}, raw}. */
const embedded = (kind: string, raw: Buffer) =>
  Buffer.concat([MAGIC, message([1, message([1, 'v1'], [2, kind])], [2, raw])]);
/** A watch frame: metav1.WatchEvent{type, object{raw}}. */
const event = (type: string, kind: string, raw: Buffer) =>
  message([1, type], [2, message([1, embedded(kind, raw)])]);
const time = (seconds: number) => message([1, seconds]);

describe('decodeNodeWatchEvent', () => {
  it('reads the declared fields of a Node as its JSON form has them', () => {
    const meta = message(
      [1, 'node-1'],
      [5, 'uid-1'],
      [6, '4711'],
      [8, time(1_764_800_000)],
      [11, message([1, 'netwarden.dev/gated'], [2, 'true'])],
      [11, message([1, 'zone'], [2, 'a'])],
      [12, message([1, 'netwarden.dev/boot-id'], [2, 'b1'])],
      [17, message([1, 'kubelet'])], // managedFields: skipped
    );
    const spec = message(
      [1, '10.244.1.0/24'],
      [7, '10.244.1.0/24'],
      [5, message([1, 'netwarden.dev/datapath-not-ready'], [3, 'NoSchedule'], [4, time(1_764_800_100)])],
      [5, message([1, 'other'], [2, ''], [3, 'NoExecute'], [4, Buffer.alloc(0)])],
    );
    const status = message(
      [1, message([1, 'cpu'], [2, message([1, '8'])])], // capacity: skipped
      [4, message([1, 'Ready'], [2, 'True'], [3, time(1_764_800_200)], [5, 'KubeletReady'], [6, 'ok'])],
      [4, message([1, 'netwarden.dev/DataPathReady'], [2, 'False'], [5, ''], [6, ''], [4, Buffer.alloc(0)])],
      [5, message([1, 'InternalIP'], [2, '10.250.0.11'])],
      [
        7,
        message(
          [1, 'machine'],
          [3, 'boot-2'],
          [4, '6.1.0'],
          [5, 'Debian'],
          [6, 'containerd://2'],
          [7, 'v1.36.5'],
          [8, ''],
        ),
      ],
      [8, message([1, 'image'])], // images: skipped
    );
    const ev = decodeNodeWatchEvent(event('MODIFIED', 'Node', message([1, meta], [2, spec], [3, status])));
    expect(ev).toEqual({
      type: 'MODIFIED',
      object: {
        apiVersion: 'v1',
        kind: 'Node',
        metadata: {
          name: 'node-1',
          uid: 'uid-1',
          resourceVersion: '4711',
          creationTimestamp: '2025-12-03T22:13:20Z',
          labels: { 'netwarden.dev/gated': 'true', zone: 'a' },
          annotations: { 'netwarden.dev/boot-id': 'b1' },
        },
        spec: {
          podCIDR: '10.244.1.0/24',
          podCIDRs: ['10.244.1.0/24'],
          taints: [
            {
              key: 'netwarden.dev/datapath-not-ready',
              effect: 'NoSchedule',
              timeAdded: '2025-12-03T22:15:00Z',
            },
            { key: 'other', effect: 'NoExecute' }, // empty value and zero time: left out, as in JSON
          ],
        },
        status: {
          conditions: [
            {
              type: 'Ready',
              status: 'True',
              lastHeartbeatTime: '2025-12-03T22:16:40Z',
              reason: 'KubeletReady',
              message: 'ok',
            },
            { type: 'netwarden.dev/DataPathReady', status: 'False' },
          ],
          addresses: [{ type: 'InternalIP', address: '10.250.0.11' }],
          nodeInfo: {
            bootID: 'boot-2',
            kernelVersion: '6.1.0',
            osImage: 'Debian',
            containerRuntimeVersion: 'containerd://2',
            kubeletVersion: 'v1.36.5',
            kubeProxyVersion: '',
          },
        },
      },
    });
  });

  it('reads a bookmark (only a resourceVersion) and an ERROR Status with its code', () => {
    const bookmark = decodeNodeWatchEvent(event('BOOKMARK', 'Node', message([1, message([6, '99'])])));
    expect(bookmark).toEqual({
      type: 'BOOKMARK',
      object: { apiVersion: 'v1', kind: 'Node', metadata: { resourceVersion: '99' } },
    });
    const gone = decodeNodeWatchEvent(
      event(
        'ERROR',
        'Status',
        message([2, 'Failure'], [3, 'too old resource version'], [4, 'Expired'], [6, 410]),
      ),
    );
    expect(gone.object).toMatchObject({ kind: 'Status', code: 410, reason: 'Expired' });
  });

  it('accepts the magic on the frame itself', () => {
    const frame = Buffer.concat([MAGIC, event('ADDED', 'Node', message([1, message([1, 'n'])]))]);
    expect(decodeNodeWatchEvent(frame).object).toMatchObject({ metadata: { name: 'n' } });
  });

  it.each([
    ['no type', message([2, message([1, embedded('Node', Buffer.alloc(0))])]), /without a type/],
    ['no object', message([1, 'ADDED']), /without an object/],
    ['another kind', event('ADDED', 'Pod', Buffer.alloc(0)), /an object of kind Pod, expected Node/],
    ['no magic', message([1, 'ADDED'], [2, message([1, message([2, 'x'])])]), /magic/],
    ['a cut Node', event('ADDED', 'Node', Buffer.from([0x0a, 0x05, 0x01])), /past the end/],
  ])('refuses a frame with %s', (_what, frame, why) => {
    expect(() => decodeNodeWatchEvent(frame)).toThrow(ProtobufError);
    expect(() => decodeNodeWatchEvent(frame)).toThrow(why);
  });
});
