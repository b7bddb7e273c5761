/**
 * What the gate reads off Node objects: this node's boot, annotations, taint and condition, and —
 * for the breaker — which other nodes netwarden holds and why. Pure.
 */
import {
  BOOT_ID_ANNOTATION,
  BOOT_SEEN_AT_ANNOTATION,
  CONDITION_TYPE,
  type GateClusterView,
  type GateDecision,
  type GateNodeView,
  READY_AT_ANNOTATION,
  TAINT_EFFECT,
  TAINT_KEY,
} from '../core/gate.ts';
import type { Node } from '../core/objects.ts';

/** The node view the gate needs, read off the Node object. */
export function gateNodeView(node: Node): GateNodeView {
  const annotations = node.metadata?.annotations ?? {};
  const condition = node.status?.conditions?.find((c) => c.type === CONDITION_TYPE);
  return {
    bootId: node.status?.nodeInfo?.bootID || undefined,
    annotatedBootId: annotations[BOOT_ID_ANNOTATION],
    readyAt: annotations[READY_AT_ANNOTATION],
    bootSeenAt: annotations[BOOT_SEEN_AT_ANNOTATION],
    tainted: (node.spec?.taints ?? []).some((t) => t.key === TAINT_KEY && t.effect === TAINT_EFFECT),
    conditionStatus: condition?.status as GateNodeView['conditionStatus'],
    conditionReason: condition?.reason,
  };
}

/**
 * The breaker's view: how many nodes are selected, the others netwarden holds for a non-boot
 * reason, and the others held for a boot not verified for longer than `bootHoldGraceMs`. A node is
 * boot-held while its boot is annotated but not verified (`datapath-ready-at` absent). `gated` are
 * the selected Nodes carrying the gated label (any others, untainted ones, are ignored): only they
 * can be held, so they are all the breaker needs besides the total `selectedNodes`.
 */
export function gateClusterView(
  gated: readonly Node[],
  selectedNodes: number,
  self: string,
  nowMs: number,
  bootHoldGraceMs: number,
): GateClusterView {
  const otherGatedNonBoot: string[] = [];
  const otherBootHeldPastGrace: string[] = [];
  for (const n of gated) {
    const name = n.metadata?.name ?? '';
    if (name === self) continue;
    const v = gateNodeView(n);
    if (!v.tainted) continue;
    const bootHeld =
      v.readyAt === undefined && (v.annotatedBootId === undefined || v.annotatedBootId === v.bootId);
    if (!bootHeld) {
      otherGatedNonBoot.push(name);
      continue;
    }
    const since = v.bootSeenAt !== undefined ? Date.parse(v.bootSeenAt) : Number.NaN;
    if (!Number.isNaN(since) && nowMs - since >= bootHoldGraceMs) otherBootHeldPastGrace.push(name);
  }
  // A count a moment older than the gated set can be short of it: never below what is seen.
  const seen = new Set([self, ...gated.map((n) => n.metadata?.name ?? '')]).size;
  return { self, selectedNodes: Math.max(selectedNodes, seen, 1), otherGatedNonBoot, otherBootHeldPastGrace };
}

/** The node view after `decision` had been applied: what dry-run pretends the Node now says. */
export function simulate(view: GateNodeView, d: GateDecision): Partial<GateNodeView> {
  const a = d.annotations;
  const pick = (key: string, current: string | undefined) => (key in a ? (a[key] ?? undefined) : current);
  return {
    annotatedBootId: pick(BOOT_ID_ANNOTATION, view.annotatedBootId),
    readyAt: pick(READY_AT_ANNOTATION, view.readyAt),
    bootSeenAt: pick(BOOT_SEEN_AT_ANNOTATION, view.bootSeenAt),
    tainted: d.taint === 'keep' ? view.tainted : d.taint === 'present',
    conditionStatus: d.condition.status,
    conditionReason: d.condition.reason,
  };
}
