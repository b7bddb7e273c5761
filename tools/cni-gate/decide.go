package main

import (
	"fmt"
	"time"
)

// Outcomes of one ADD: the counter keys and log values the agent reads (src/core/boot-gate.ts
// lists the same names). Stable: add, never rename.
const (
	outcomePassed             = "passed"                   // this boot is verified: passed at once
	outcomeExempt             = "exempt"                   // not verified yet, but the pod's namespace is exempt
	outcomeReleased           = "released"                 // held, then verified during the wait: code 11, set up again at once
	outcomeRetry              = "retry"                    // held for maxWait: failed with code 11
	outcomeFailedOpenDeadline = "failed_open_deadline"     // bootGateDeadline since boot has passed
	outcomeFailedOpenAbsent   = "failed_open_agent_absent" // no agent heartbeat this boot after agentStartGrace
	outcomeFailedOpenStale    = "failed_open_agent_stale"  // the agent's heartbeat of this boot stopped
	outcomeFailedOpenError    = "failed_open_error"        // our state or configuration cannot be read
)

// observation is what one look at the node-local state found.
type observation struct {
	bootID    string
	bootErr   error
	verified  string // boot id in the verified file, "" when absent
	now       time.Duration
	seen      *bootSeen // first sighting of this boot (nil: could not be read or recorded)
	seenErr   error
	heartbeat *heartbeat // nil when absent or unreadable
	namespace string
}

// verdict says whether to pass now or keep holding, and why.
type verdict struct {
	pass    bool
	outcome string // for pass; "" while holding
	reason  string
}

// decide is the gate's whole judgement, pure. Anything it cannot judge passes (fail-open): a
// node is never held on missing evidence, only while the agent is known to be verifying (or
// starting, within agentStartGrace) and the boot is younger than bootGateDeadline.
func decide(s settings, o observation) verdict {
	if o.bootErr != nil {
		return verdict{pass: true, outcome: outcomeFailedOpenError, reason: fmt.Sprintf("cannot read the boot id: %v", o.bootErr)}
	}
	if o.verified == o.bootID {
		return verdict{pass: true, outcome: outcomePassed, reason: "this boot is verified"}
	}
	if s.exempt[o.namespace] {
		return verdict{pass: true, outcome: outcomeExempt, reason: fmt.Sprintf("namespace %q is exempt", o.namespace)}
	}
	if o.seen == nil {
		return verdict{pass: true, outcome: outcomeFailedOpenError, reason: fmt.Sprintf("cannot read or record when this boot was first seen: %v", o.seenErr)}
	}
	elapsed := o.now - time.Duration(o.seen.UptimeMs)*time.Millisecond
	if elapsed >= s.deadline {
		return verdict{pass: true, outcome: outcomeFailedOpenDeadline, reason: fmt.Sprintf("bootGateDeadline %s since this boot was first seen has passed (%s)", s.deadline, round(elapsed))}
	}
	if hb := o.heartbeat; hb != nil && hb.BootID == o.bootID {
		// A heartbeat from the future (age < 0) cannot happen on one kernel clock; it counts as fresh.
		age := o.now - time.Duration(hb.UptimeMs)*time.Millisecond
		if age > s.hbStale {
			return verdict{pass: true, outcome: outcomeFailedOpenStale, reason: fmt.Sprintf("the agent's heartbeat stopped %s ago (heartbeatStale %s)", round(age), s.hbStale)}
		}
		return verdict{reason: fmt.Sprintf("the agent is verifying this boot's data path (boot seen %s ago)", round(elapsed))}
	}
	if elapsed < s.startGrace {
		return verdict{reason: fmt.Sprintf("waiting for the agent to start (boot seen %s ago, agentStartGrace %s)", round(elapsed), s.startGrace)}
	}
	return verdict{pass: true, outcome: outcomeFailedOpenAbsent, reason: fmt.Sprintf("no agent heartbeat this boot within agentStartGrace %s", s.startGrace)}
}

func round(d time.Duration) time.Duration {
	if d < 0 {
		return 0
	}
	return d.Round(100 * time.Millisecond)
}
