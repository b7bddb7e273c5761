/**
 * What netwarden has placed on a Node, read off the Node object: the state `netwarden status`
 * shows and `netwarden cleanup` removes (taint, gated label, condition, annotations). Pure.
 */

import {
  BOOT_ID_ANNOTATION,
  BOOT_SEEN_AT_ANNOTATION,
  CONDITION_TYPE,
  GATED_LABEL,
  READY_AT_ANNOTATION,
  TAINT_EFFECT,
  TAINT_KEY,
} from './gate.ts';
import { type Node, timeMs } from './objects.ts';

/** The prefix of every annotation netwarden writes on a Node. */
export const ANNOTATION_PREFIX = 'netwarden.dev/';

/** netwarden's keys present on one Node. */
export interface NetwardenKeys {
  readonly taint: boolean;
  /** The gated label ({@link GATED_LABEL}), which follows the taint. */
  readonly label: boolean;
  readonly condition: boolean;
  readonly annotations: readonly string[];
}

/** Which of netwarden's keys the Node carries. */
export function netwardenKeys(node: Node): NetwardenKeys {
  return {
    taint: (node.spec?.taints ?? []).some((t) => t.key === TAINT_KEY && t.effect === TAINT_EFFECT),
    label: node.metadata?.labels?.[GATED_LABEL] !== undefined,
    condition: (node.status?.conditions ?? []).some((c) => c.type === CONDITION_TYPE),
    annotations: Object.keys(node.metadata?.annotations ?? {})
      .filter((k) => k.startsWith(ANNOTATION_PREFIX))
      .sort(),
  };
}

/** True when the Node carries none of netwarden's keys. */
export function isClean(keys: NetwardenKeys): boolean {
  return !keys.taint && !keys.label && !keys.condition && keys.annotations.length === 0;
}

/** The gate of one node as its Node object says it. */
export interface NodeGate {
  readonly node: string;
  /** `open` (condition True), `closed` (False), `unknown` (Unknown), `none` (no condition: no agent yet). */
  readonly gate: 'open' | 'closed' | 'unknown' | 'none';
  readonly tainted: boolean;
  readonly reason: string | undefined;
  readonly message: string | undefined;
  /** The condition's lastTransitionTime (ms). */
  readonly sinceMs: number | undefined;
  readonly bootId: string | undefined;
  /** The boot netwarden has seen (`netwarden.dev/boot-id`). */
  readonly verifiedBootId: string | undefined;
  /** When this boot's data path was verified (`netwarden.dev/datapath-ready-at`). */
  readonly readyAtMs: number | undefined;
  /** When netwarden first saw this boot (`netwarden.dev/boot-seen-at`). */
  readonly bootSeenAtMs: number | undefined;
}

/** Reads the gate off a Node. */
export function nodeGate(node: Node): NodeGate {
  const c = (node.status?.conditions ?? []).find((x) => x.type === CONDITION_TYPE);
  const annotations = node.metadata?.annotations ?? {};
  const gate = !c ? 'none' : c.status === 'True' ? 'open' : c.status === 'False' ? 'closed' : 'unknown';
  return {
    node: node.metadata?.name ?? '',
    gate,
    tainted: netwardenKeys(node).taint,
    reason: c?.reason,
    message: c?.message,
    sinceMs: timeMs(c?.lastTransitionTime),
    bootId: node.status?.nodeInfo?.bootID || undefined,
    verifiedBootId: annotations[BOOT_ID_ANNOTATION],
    readyAtMs: timeMs(annotations[READY_AT_ANNOTATION]),
    bootSeenAtMs: timeMs(annotations[BOOT_SEEN_AT_ANNOTATION]),
  };
}
