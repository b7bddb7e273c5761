/**
 * A Node from protobuf (`k8s.io/api` core/v1 `generated.proto`), read into the Node shape
 * core/objects.ts declares — exactly the fields that shape has, as the JSON watch gives them; every
 * other field (capacity, images, volumes…) is skipped. Pure.
 */
import type { Node, NodeCondition, Taint } from '../core/objects.ts';
import { objectMeta, opt, time } from './proto-meta.ts';
import { watchEventDecoder } from './proto-watch.ts';
import { bytesOf, forEachField, numberOf, stringOf } from './protobuf.ts';

/** One Node watch frame, as the JSON watch would have delivered it. */
export const decodeNodeWatchEvent = watchEventDecoder('Node', node);

/** `core/v1.Node`: metadata = 1, spec = 2, status = 3. */
function node(buf: Buffer): Node {
  const n: Node = { apiVersion: 'v1', kind: 'Node' };
  forEachField(buf, (f, v) => {
    if (f === 1) n.metadata = objectMeta(bytesOf(v, 'Node.metadata'));
    else if (f === 2) n.spec = nodeSpec(bytesOf(v, 'Node.spec'));
    else if (f === 3) n.status = nodeStatus(bytesOf(v, 'Node.status'));
  });
  return n;
}

/** `NodeSpec`: podCIDR = 1, unschedulable = 4, taints = 5, podCIDRs = 7. */
function nodeSpec(buf: Buffer): NonNullable<Node['spec']> {
  const s: NonNullable<Node['spec']> = {};
  const taints: Taint[] = [];
  const podCIDRs: string[] = [];
  forEachField(buf, (f, v) => {
    if (f === 1) opt(s, 'podCIDR', stringOf(v, 'spec.podCIDR'));
    else if (f === 4 && numberOf(v, 'spec.unschedulable') !== 0) s.unschedulable = true;
    else if (f === 5) taints.push(taint(bytesOf(v, 'spec.taints')));
    else if (f === 7) podCIDRs.push(stringOf(v, 'spec.podCIDRs'));
  });
  if (taints.length > 0) s.taints = taints;
  if (podCIDRs.length > 0) s.podCIDRs = podCIDRs;
  return s;
}

/** `Taint`: key = 1, value = 2, effect = 3, timeAdded = 4. */
function taint(buf: Buffer): Taint {
  const t: Taint = { key: '', effect: '' };
  forEachField(buf, (f, v) => {
    if (f === 1) t.key = stringOf(v, 'taint.key');
    else if (f === 2) opt(t, 'value', stringOf(v, 'taint.value'));
    else if (f === 3) t.effect = stringOf(v, 'taint.effect');
    else if (f === 4) opt(t, 'timeAdded', time(v, 'taint.timeAdded'));
  });
  return t;
}

/** `NodeStatus`: conditions = 4, addresses = 5, nodeInfo = 7 (capacity, images, volumes… skipped). */
function nodeStatus(buf: Buffer): NonNullable<Node['status']> {
  const s: NonNullable<Node['status']> = {};
  const conditions: NodeCondition[] = [];
  const addresses: { type: string; address: string }[] = [];
  forEachField(buf, (f, v) => {
    if (f === 4) conditions.push(nodeCondition(bytesOf(v, 'status.conditions')));
    else if (f === 5) {
      const a = { type: '', address: '' };
      forEachField(bytesOf(v, 'status.addresses'), (g, w) => {
        if (g === 1) a.type = stringOf(w, 'address.type');
        else if (g === 2) a.address = stringOf(w, 'address.address');
      });
      addresses.push(a);
    } else if (f === 7) s.nodeInfo = nodeInfo(bytesOf(v, 'status.nodeInfo'));
  });
  if (conditions.length > 0) s.conditions = conditions;
  if (addresses.length > 0) s.addresses = addresses;
  return s;
}

/** `NodeCondition`: type = 1, status = 2, lastHeartbeatTime = 3, lastTransitionTime = 4, reason = 5, message = 6. */
function nodeCondition(buf: Buffer): NodeCondition {
  const c: NodeCondition = { type: '', status: '' };
  forEachField(buf, (f, v) => {
    if (f === 1) c.type = stringOf(v, 'condition.type');
    else if (f === 2) c.status = stringOf(v, 'condition.status');
    else if (f === 3) opt(c, 'lastHeartbeatTime', time(v, 'condition.lastHeartbeatTime'));
    else if (f === 4) opt(c, 'lastTransitionTime', time(v, 'condition.lastTransitionTime'));
    else if (f === 5) opt(c, 'reason', stringOf(v, 'condition.reason'));
    else if (f === 6) opt(c, 'message', stringOf(v, 'condition.message'));
  });
  return c;
}

/** `NodeSystemInfo`: bootID = 3, kernelVersion = 4, osImage = 5, containerRuntimeVersion = 6, kubeletVersion = 7, kubeProxyVersion = 8. */
function nodeInfo(buf: Buffer): NonNullable<NonNullable<Node['status']>['nodeInfo']> {
  const i = {
    bootID: '',
    kernelVersion: '',
    osImage: '',
    containerRuntimeVersion: '',
    kubeletVersion: '',
  } as {
    bootID: string;
    kernelVersion: string;
    osImage: string;
    containerRuntimeVersion: string;
    kubeletVersion: string;
    kubeProxyVersion?: string;
  };
  forEachField(buf, (f, v) => {
    if (f === 3) i.bootID = stringOf(v, 'nodeInfo.bootID');
    else if (f === 4) i.kernelVersion = stringOf(v, 'nodeInfo.kernelVersion');
    else if (f === 5) i.osImage = stringOf(v, 'nodeInfo.osImage');
    else if (f === 6) i.containerRuntimeVersion = stringOf(v, 'nodeInfo.containerRuntimeVersion');
    else if (f === 7) i.kubeletVersion = stringOf(v, 'nodeInfo.kubeletVersion');
    else if (f === 8) i.kubeProxyVersion = stringOf(v, 'nodeInfo.kubeProxyVersion'); // JSON sends it even empty
  });
  return i;
}
