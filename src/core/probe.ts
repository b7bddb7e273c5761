/** Outcomes of network probes run from a namespace (the node's or a pod's): pure data shared by the probe and the policies. */

/** One check of a network probe, by a key both the node and the pod probes use (`dns:<name>`, `tcp:<host>:<port>`). */
export interface ProbeCheckOutcome {
  readonly key: string;
  readonly ok: boolean;
  /** Core checks (cluster DNS, `kubernetes` Service) decide whether the node is broken; extra targets do not. */
  readonly core: boolean;
  readonly detail: string;
}

/** A probe run from one network namespace (the node's or a pod's). */
export interface ProbeOutcome {
  /** `unknown` when the probe could not run (namespace not found, tool missing); its checks are then empty. */
  readonly status: 'ok' | 'failing' | 'unknown';
  readonly checks: readonly ProbeCheckOutcome[];
  readonly detail: string;
}
