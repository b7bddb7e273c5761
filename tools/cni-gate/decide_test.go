package main

import (
	"errors"
	"testing"
	"time"
)

func TestDecide(t *testing.T) {
	s := settings{
		deadline:   5 * time.Minute,
		startGrace: 2 * time.Minute,
		hbStale:    30 * time.Second,
		exempt:     setOf([]string{"kube-system"}),
	}
	const boot = "b-now"
	seenAt := func(ago time.Duration) *bootSeen {
		return &bootSeen{BootID: boot, UptimeMs: (time.Hour - ago).Milliseconds()}
	}
	hb := func(id string, ago time.Duration) *heartbeat {
		return &heartbeat{BootID: id, UptimeMs: (time.Hour - ago).Milliseconds()}
	}
	base := observation{bootID: boot, now: time.Hour, seen: seenAt(10 * time.Second), namespace: "default"}
	with := func(f func(o *observation)) observation {
		o := base
		f(&o)
		return o
	}
	cases := []struct {
		name    string
		o       observation
		pass    bool
		outcome string
	}{
		{"verified boot passes", with(func(o *observation) { o.verified = boot }), true, outcomePassed},
		{"verified boot passes even without a heartbeat or record", observation{bootID: boot, verified: boot}, true, outcomePassed},
		{"a previous boot's verification does not count", with(func(o *observation) { o.verified = "b-old"; o.heartbeat = hb(boot, time.Second) }), false, ""},
		{"agent alive, not verified: hold", with(func(o *observation) { o.heartbeat = hb(boot, 5*time.Second) }), false, ""},
		{"heartbeat exactly at the stale limit still holds", with(func(o *observation) { o.heartbeat = hb(boot, 30*time.Second) }), false, ""},
		{"heartbeat from the future counts as fresh", with(func(o *observation) { o.heartbeat = hb(boot, -time.Second) }), false, ""},
		{"stale heartbeat: fail open", with(func(o *observation) { o.heartbeat = hb(boot, 31*time.Second) }), true, outcomeFailedOpenStale},
		{"no heartbeat yet, within start grace: hold", base, false, ""},
		{"only a previous boot's heartbeat, within start grace: hold", with(func(o *observation) { o.heartbeat = hb("b-old", time.Second) }), false, ""},
		{"no heartbeat after start grace: fail open", with(func(o *observation) { o.seen = seenAt(2 * time.Minute) }), true, outcomeFailedOpenAbsent},
		{"deadline passed: fail open even with a live agent", with(func(o *observation) {
			o.seen = seenAt(5 * time.Minute)
			o.heartbeat = hb(boot, time.Second)
		}), true, outcomeFailedOpenDeadline},
		{"exempt namespace passes while not verified", with(func(o *observation) { o.namespace = "kube-system"; o.heartbeat = hb(boot, time.Second) }), true, outcomeExempt},
		{"unreadable boot id: fail open", observation{bootErr: errors.New("EACCES")}, true, outcomeFailedOpenError},
		{"no first-seen record: fail open", with(func(o *observation) { o.seen = nil; o.seenErr = errors.New("EROFS") }), true, outcomeFailedOpenError},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := decide(s, c.o)
			if v.pass != c.pass || v.outcome != c.outcome {
				t.Fatalf("decide = {pass %v, outcome %q, reason %q}, want {pass %v, outcome %q}", v.pass, v.outcome, v.reason, c.pass, c.outcome)
			}
			if v.reason == "" {
				t.Fatalf("verdict without a reason")
			}
		})
	}
}

func TestParseRequest(t *testing.T) {
	r, err := parseRequest([]byte(`{"cniVersion":"1.0.0","name":"net","type":"netwarden-cni-gate"}`))
	if err != nil || len(r.problems) != 0 {
		t.Fatalf("parseRequest: %v %v", err, r.problems)
	}
	if r.settings.maxWait != defaultMaxWait || r.settings.deadline != defaultBootGateDeadline || !r.settings.exempt["kube-system"] || r.prevResult != nil {
		t.Fatalf("defaults not applied: %+v", r.settings)
	}
	r, _ = parseRequest([]byte(`{"cniVersion":"1.0.0","maxWait":"90s","bootGateDeadline":"10m","agentStartGrace":"0s","heartbeatStale":"1m","exemptNamespaces":[],"stateDir":"/x","bootIdFile":"/b"}`))
	s := r.settings
	if len(r.problems) != 0 || s.maxWait != 90*time.Second || s.deadline != 10*time.Minute || s.startGrace != 0 ||
		s.hbStale != time.Minute || len(s.exempt) != 0 || s.stateDir != "/x" || s.bootIDFile != "/b" {
		t.Fatalf("settings not read: %+v %v", s, r.problems)
	}
	bad := []string{
		`{"maxWait":20}`,
		`{"maxWait":"soon"}`,
		`{"bootGateDeadline":"-1s"}`,
		`{"exemptNamespaces":"kube-system"}`,
		`{"stateDir":"relative"}`,
		`{"maxWait":"10m"}`,
	}
	for _, b := range bad {
		r, err := parseRequest([]byte(b))
		if err != nil || len(r.problems) != 1 {
			t.Errorf("%s: want one problem, got %v %v", b, err, r.problems)
		}
	}
	if r, _ := parseRequest([]byte(`{"maxWait":"10m"}`)); r.settings.maxWait != maxMaxWait {
		t.Errorf("maxWait not capped: %s", r.settings.maxWait)
	}
	for _, b := range []string{`[1]`, `null`, `nope`, ``} {
		if _, err := parseRequest([]byte(b)); err == nil {
			t.Errorf("%q: want an error", b)
		}
	}
}

func TestPodOf(t *testing.T) {
	ns, pod := podOf("IgnoreUnknown=1;K8S_POD_NAMESPACE=shop;K8S_POD_NAME=web-0;K8S_POD_INFRA_CONTAINER_ID=abc")
	if ns != "shop" || pod != "shop/web-0" {
		t.Fatalf("podOf = %q %q", ns, pod)
	}
	if ns, pod := podOf(""); ns != "" || pod != "" {
		t.Fatalf("podOf(\"\") = %q %q", ns, pod)
	}
}
