package main

import (
	"encoding/json"
	"fmt"
	"time"
)

// Defaults of the plugin's own configuration keys. The installer (src/cni-gate/) writes every key
// explicitly into the conflist entry; these apply only to a hand-written entry that omits some.
const (
	defaultStateDir         = "/run/netwarden"
	defaultBootIDFile       = "/proc/sys/kernel/random/boot_id"
	defaultBootGateDeadline = 5 * time.Minute
	// Below every runtime's sandbox deadline (the kubelet gives RunPodSandbox twice its
	// --runtime-request-timeout, 4 min by default) and short enough that containerd's CNI config
	// lock is not held long: go-cni holds a read lock for the whole chain, a conflist reload waits
	// for it and blocks the runtime's Status call behind it (the kubelet reports the runtime down
	// after 30 s without a successful Status).
	defaultMaxWait         = 20 * time.Second
	defaultAgentStartGrace = 2 * time.Minute
	defaultHeartbeatStale  = 30 * time.Second
	// maxMaxWait caps maxWait whatever the configuration says (the sandbox deadline above).
	maxMaxWait = 3 * time.Minute
)

// defaultExemptNamespaces: cluster add-ons the data-path verification itself may need (CoreDNS
// answers the agent's DNS probe); holding them could only end at the deadline.
var defaultExemptNamespaces = []string{"kube-system"}

// settings is the resolved configuration of one call.
type settings struct {
	stateDir   string
	bootIDFile string
	deadline   time.Duration
	maxWait    time.Duration
	startGrace time.Duration
	hbStale    time.Duration
	exempt     map[string]bool
}

// request is one call's input: the network configuration on stdin, split into the keys the
// runtime sets, the plugin's own settings, and the previous result kept as raw bytes (ADD passes
// it through byte for byte).
type request struct {
	cniVersion string
	name       string
	prevResult json.RawMessage
	settings   settings
	// problems: configuration keys of ours that are invalid. The call then fails open (passes
	// through) and says so: a typo in our entry must not stop every pod on the node.
	problems []string
}

// parseRequest decodes stdin. It fails only when stdin is not a JSON object (code 6), since then
// there is nothing to pass through.
func parseRequest(data []byte) (*request, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("network configuration on stdin is not a JSON object: %v", err)
	}
	if raw == nil {
		return nil, fmt.Errorf("network configuration on stdin is null")
	}
	r := &request{settings: settings{
		stateDir:   defaultStateDir,
		bootIDFile: defaultBootIDFile,
		deadline:   defaultBootGateDeadline,
		maxWait:    defaultMaxWait,
		startGrace: defaultAgentStartGrace,
		hbStale:    defaultHeartbeatStale,
		exempt:     setOf(defaultExemptNamespaces),
	}}
	r.cniVersion = r.str(raw, "cniVersion", "")
	r.name = r.str(raw, "name", "")
	if p, ok := raw["prevResult"]; ok && string(p) != "null" {
		r.prevResult = p
	}
	s := &r.settings
	s.stateDir = r.str(raw, "stateDir", s.stateDir)
	s.bootIDFile = r.str(raw, "bootIdFile", s.bootIDFile)
	s.deadline = r.duration(raw, "bootGateDeadline", s.deadline)
	s.maxWait = r.duration(raw, "maxWait", s.maxWait)
	if s.maxWait > maxMaxWait {
		r.problems = append(r.problems, fmt.Sprintf("maxWait %s is above %s (the runtime's sandbox deadline): using %s", s.maxWait, maxMaxWait, maxMaxWait))
		s.maxWait = maxMaxWait
	}
	s.startGrace = r.duration(raw, "agentStartGrace", s.startGrace)
	s.hbStale = r.duration(raw, "heartbeatStale", s.hbStale)
	if v, ok := raw["exemptNamespaces"]; ok {
		var list []string
		if err := json.Unmarshal(v, &list); err != nil {
			r.problems = append(r.problems, fmt.Sprintf("exemptNamespaces must be a list of strings: %s", clip(string(v), 60)))
		} else {
			s.exempt = setOf(list)
		}
	}
	if s.stateDir == "" || s.stateDir[0] != '/' {
		r.problems = append(r.problems, fmt.Sprintf("stateDir must be an absolute path, got %q", s.stateDir))
		s.stateDir = defaultStateDir
	}
	return r, nil
}

// field decodes a string-valued key; ok is false when it is absent or not a string (then a
// problem names the key and what it must be).
func (r *request) field(raw map[string]json.RawMessage, key, must string) (value string, ok bool) {
	v, present := raw[key]
	if !present {
		return "", false
	}
	if err := json.Unmarshal(v, &value); err != nil {
		r.problems = append(r.problems, fmt.Sprintf("%s must be %s: %s", key, must, clip(string(v), 60)))
		return "", false
	}
	return value, true
}

func (r *request) str(raw map[string]json.RawMessage, key, dflt string) string {
	if s, ok := r.field(raw, key, "a string"); ok {
		return s
	}
	return dflt
}

func (r *request) duration(raw map[string]json.RawMessage, key string, dflt time.Duration) time.Duration {
	s, ok := r.field(raw, key, `a duration string such as "90s"`)
	if !ok {
		return dflt
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		r.problems = append(r.problems, fmt.Sprintf("%s: %q is not a non-negative duration (examples: 500ms, 20s, 5m)", key, s))
		return dflt
	}
	return d
}

func setOf(list []string) map[string]bool {
	m := make(map[string]bool, len(list))
	for _, s := range list {
		m[s] = true
	}
	return m
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
