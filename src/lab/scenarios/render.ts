/** Text rendering of a reboot-race report: a timeline a person can read, and a verdict. */
import type { RebootRaceReport } from './reboot-race.ts';

const secs = (ms: number | null): string => (ms === null ? 'never' : `${(ms / 1000).toFixed(1)} s`);

/** The verdict of a run with netwarden on. */
function netwardenVerdict(r: RebootRaceReport): string {
  const s = r.summary;
  const n = s.recycled?.length ?? 0;
  const left = s.brokenPods.filter((b) => !(s.reportedNotRecycled ?? []).includes(b.pod));
  if (left.length > 0)
    return `NOT REPAIRED: ${left.map((b) => b.pod).join(', ')} still broken after ${secs(r.params.observeMs)}; netwarden recycled ${n} pod(s).`;
  const g = s.bootGate;
  if (g && n === 0 && s.brokenPods.length === 0 && g.failedOpen === 0)
    return (
      `PREVENTED: the boot gate held ${g.held} pod network set-up(s) on ${r.params.rebootedNode} (longest ${secs(g.maxHeldMs)}) until the data path was verified; ` +
      `no pod broke, none recycled; all Ready ${secs(s.recoveredMsAfterDataPathReady ?? null)} after the data path was.`
    );
  return (
    `REPAIRED: netwarden kept ${r.params.rebootedNode} gated from ${secs(s.gateClosedAtMs ?? null)} to ${secs(s.gateOpenedAtMs ?? null)} and recycled ${n} broken pod(s); ` +
    `all Ready ${secs(s.recoveredMsAfterDataPathReady ?? null)} after the data path was; reported without touching: ${s.reportedNotRecycled?.join(', ') || 'none'}.`
  );
}

/** The verdict in one or two sentences. */
export function verdict(r: RebootRaceReport): string {
  const s = r.summary;
  if (r.params.netwarden) return netwardenVerdict(r);
  const window = secs(r.params.observeMs);
  if (s.brokenPods.length === 0) {
    const healed =
      s.healedByRestart > 0
        ? `; ${s.healedByRestart} pod(s) crashed early and healed by container restart`
        : '';
    return `No pod stayed broken: all pods Ready again ${secs(s.allReadyAtMs)} after the reboot${healed}.`;
  }
  const names = s.brokenPods.map((b) => b.pod).join(', ');
  const restarts = s.brokenPods.reduce((n, b) => n + b.restartCount, 0);
  const shape =
    s.dnsResolvesInBrokenPods && s.tcpFailsInBrokenPods
      ? 'DNS resolves yet TCP to the kubernetes Service fails in every one of them'
      : `DNS ${s.dnsResolvesInBrokenPods ? 'resolves' : 'fails in some'}, TCP ${s.tcpFailsInBrokenPods ? 'fails' : 'works in some'}`;
  const control = s.controlExperiment
    ? s.healedByDelete
      ? `Deleting ${s.controlExperiment.deleted} healed it: its replacement was Ready ${secs(s.controlExperiment.readyAfterMs)} later.`
      : `Deleting ${s.controlExperiment.deleted} did not produce a Ready replacement within 60 s.`
    : '';
  return [
    `FIELD FAILURE REPRODUCED: ${s.brokenPods.length} pod(s) stayed broken for the ${window} window (${names});`,
    `${shape}; ${restarts} container restart(s) did not heal them.`,
    control,
  ]
    .filter(Boolean)
    .join(' ');
}

/** The whole report as text. */
export function renderText(r: RebootRaceReport): string {
  const p = r.params;
  const head = [
    `reboot-race: ${p.nodes} nodes, rebooted ${p.rebootedNode}; kube-proxy delay ${secs(p.kubeProxyDelayMs)}, CNI ready after ${secs(p.cniReadyDelayMs)}, faults: ${p.faults.join(', ') || 'none'}, window ${secs(p.observeMs)}, seed ${p.seed}`,
    '',
    '     t (ms)  node     event                       pod / detail',
  ];
  const lines = r.timeline.map((e) => {
    const t = String(e.tMs).padStart(11);
    const what = [e.pod, e.detail].filter(Boolean).join('  ');
    return `${t}  ${(e.node ?? '').padEnd(7)}  ${e.event.padEnd(26)}  ${what}`;
  });
  const s = r.summary;
  const tail = [
    '',
    `data path ready on ${p.rebootedNode} (every Service's rules and the CNI): ${secs(s.dataPathReadyAtMs)}; all pods Ready: ${secs(s.allReadyAtMs)}`,
    ...r.nodes.map(
      (n) =>
        `${n.name}: kubelet ${n.kubeletVersion ?? '?'}, ${n.containerRuntimeVersion ?? '?'}, bootID ${(n.bootIds[0] ?? '?').slice(0, 8)} -> ${(n.bootIds[1] ?? '?').slice(0, 8)}`,
    ),
    `healed by container restart: ${s.healedByRestart}; healed by delete: ${s.healedByDelete}`,
    ...(s.gateClosedAtMs !== undefined
      ? [
          `netwarden gate on ${p.rebootedNode}: closed at ${secs(s.gateClosedAtMs ?? null)}, opened at ${secs(s.gateOpenedAtMs ?? null)}` +
            (s.gateReactionMs != null ? ` (${s.gateReactionMs} ms after the data path was ready)` : '') +
            (s.agentDeployedBy ? `; agents deployed by ${s.agentDeployedBy}` : ''),
        ]
      : []),
    ...(s.bootGate
      ? [
          `boot gate on ${p.rebootedNode} (conflist ${s.bootGate.conflist.join(' → ') || 'none'}): ${s.bootGate.held} set-up(s) held (longest ${secs(s.bootGate.maxHeldMs)}), ` +
            `${s.bootGate.released} released, ${s.bootGate.retries} retried at maxWait, ${s.bootGate.failedOpen} failed open, ${s.bootGate.exempt} exempt; ` +
            `outcomes ${
              Object.entries(s.bootGate.outcomes)
                .filter(([, n]) => n > 0)
                .map(([o, n]) => `${o} ${n}`)
                .join(', ') || 'none'
            }`,
        ]
      : []),
    ...(s.recycled
      ? [
          `netwarden recycled ${s.recycled.length} pod(s): ${s.recycled.map((x) => `${x.pod} at ${secs(x.atMs)}`).join(', ') || 'none'}; ` +
            `left alone: ${s.untouchedHealthy} early but healthy; reported (no controller): ${s.reportedNotRecycled?.join(', ') || 'none'}; ` +
            `all Ready ${secs(s.recoveredMsAfterDataPathReady ?? null)} after the data path was ready; PDB violations: ${s.pdbViolations}`,
        ]
      : []),
    '',
    verdict(r),
  ];
  return [...head, ...lines, ...tail].join('\n');
}
