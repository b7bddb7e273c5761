package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// node is a throwaway node-local state: its own boot id file and state folder.
type node struct {
	t        *testing.T
	bootID   string
	bootFile string
	stateDir string
}

func newNode(t *testing.T) *node {
	dir := t.TempDir()
	n := &node{t: t, bootID: "11111111-2222-3333-4444-555555555555", bootFile: filepath.Join(dir, "boot_id"), stateDir: filepath.Join(dir, "run")}
	if err := os.WriteFile(n.bootFile, []byte(n.bootID+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return n
}

func (n *node) write(name string, v any) {
	n.t.Helper()
	if err := os.MkdirAll(n.stateDir, 0o755); err != nil {
		n.t.Fatal(err)
	}
	var data []byte
	if s, ok := v.(string); ok {
		data = []byte(s)
	} else {
		data, _ = json.Marshal(v)
	}
	if err := writeAtomic(filepath.Join(n.stateDir, name), data); err != nil {
		n.t.Fatal(err)
	}
}

func uptime(t *testing.T) time.Duration {
	t.Helper()
	u, err := readUptime()
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// heartbeatAgo writes an agent heartbeat of this boot, `ago` old.
func (n *node) heartbeatAgo(ago time.Duration) {
	n.write(heartbeatFile, heartbeat{BootID: n.bootID, UptimeMs: (uptime(n.t) - ago).Milliseconds(), PID: 1})
}

// seenAgo records that this boot was first seen `ago` ago.
func (n *node) seenAgo(ago time.Duration) {
	n.write(bootSeenFile, bootSeen{BootID: n.bootID, UptimeMs: (uptime(n.t) - ago).Milliseconds()})
}

func (n *node) verify(bootID string) { n.write(verifiedFile, bootID+"\n") }

func (n *node) counters() map[string]int64 {
	m := map[string]int64{}
	data, err := os.ReadFile(filepath.Join(n.stateDir, gateDir, countersFile))
	if err == nil {
		_ = json.Unmarshal(data, &m)
	}
	return m
}

func (n *node) logRecords() []logRecord {
	f, err := os.Open(filepath.Join(n.stateDir, gateDir, logFile))
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []logRecord
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r logRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			n.t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		out = append(out, r)
	}
	return out
}

// conf is the request configuration for this node; extra keys override.
func (n *node) conf(extra map[string]any) string {
	m := map[string]any{
		"cniVersion":      "1.0.0",
		"name":            "lab",
		"type":            pluginName,
		"stateDir":        n.stateDir,
		"bootIdFile":      n.bootFile,
		"maxWait":         "300ms",
		"agentStartGrace": "1m",
	}
	prev := prevResult
	for k, v := range extra {
		switch {
		case k == "prevResult" && v == nil:
			prev = ""
		case k == "prevResult":
			data, _ := json.Marshal(v)
			prev = string(data)
		default:
			m[k] = v
		}
	}
	data, _ := json.Marshal(m)
	if prev == "" {
		return string(data)
	}
	// Spliced in as text: json.Marshal would compact it, and the test wants its exact bytes back.
	return strings.TrimSuffix(string(data), "}") + `,"prevResult":` + prev + "}"
}

// prevResult with unusual spacing: the pass-through must keep it byte for byte.
const prevResult = `{"cniVersion":"1.0.0", "interfaces":[{"name":"eth0","sandbox":"/var/run/netns/x"}],"ips":[{"address":"10.244.1.5/32","interface":0}]}`

type result struct {
	code   int
	stdout string
	stderr string
	err    cniError
}

func invoke(t *testing.T, command, stdin string, env map[string]string) result {
	t.Helper()
	base := map[string]string{
		"CNI_COMMAND":     command,
		"CNI_CONTAINERID": "c0ffee",
		"CNI_NETNS":       "/var/run/netns/x",
		"CNI_IFNAME":      "eth0",
		"CNI_ARGS":        "IgnoreUnknown=1;K8S_POD_NAMESPACE=shop;K8S_POD_NAME=web-0",
	}
	for k, v := range env {
		base[k] = v
	}
	var out, errOut bytes.Buffer
	code := run(func(k string) string { return base[k] }, strings.NewReader(stdin), &out, &errOut)
	r := result{code: code, stdout: out.String(), stderr: errOut.String()}
	if code != 0 {
		if err := json.Unmarshal(out.Bytes(), &r.err); err != nil {
			t.Fatalf("exit %d with a stdout that is not a CNI error: %q", code, out.String())
		}
	}
	return r
}

func TestVersion(t *testing.T) {
	r := invoke(t, "VERSION", `{"cniVersion":"1.1.0"}`, nil)
	var v struct {
		CNIVersion        string   `json:"cniVersion"`
		SupportedVersions []string `json:"supportedVersions"`
	}
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &v) != nil || v.CNIVersion != "1.1.0" || len(v.SupportedVersions) != len(supportedVersions) {
		t.Fatalf("VERSION: %+v", r)
	}
	if r := invoke(t, "VERSION", "", nil); r.code != 0 || !strings.Contains(r.stdout, `"cniVersion":"1.1.0"`) {
		t.Fatalf("VERSION without input: %+v", r)
	}
}

func TestDelCheckGcStatusAlwaysSucceed(t *testing.T) {
	n := newNode(t)
	for _, cmd := range []string{"DEL", "CHECK", "GC", "STATUS"} {
		for _, in := range []string{n.conf(nil), "", "not json"} {
			if r := invoke(t, cmd, in, nil); r.code != 0 || r.stdout != "" {
				t.Errorf("%s with %q: %+v", cmd, clip(in, 20), r)
			}
		}
	}
	if _, err := os.Stat(n.stateDir); err == nil {
		t.Errorf("DEL/CHECK/GC/STATUS wrote state")
	}
}

func TestBadCalls(t *testing.T) {
	n := newNode(t)
	n.verify(n.bootID)
	cases := []struct {
		name    string
		command string
		stdin   string
		env     map[string]string
		code    int
	}{
		{"unknown command", "FROB", n.conf(nil), nil, codeInvalidEnv},
		{"no command", "", n.conf(nil), nil, codeInvalidEnv},
		{"missing CNI_NETNS", "ADD", n.conf(nil), map[string]string{"CNI_NETNS": ""}, codeInvalidEnv},
		{"stdin not JSON", "ADD", "{", nil, codeDecodeFailure},
		{"no prevResult", "ADD", n.conf(map[string]any{"prevResult": nil}), nil, codeInvalidConfig},
		{"prevResult not an object", "ADD", n.conf(map[string]any{"prevResult": []int{1}}), nil, codeDecodeFailure},
		{"spec version without chaining", "ADD", n.conf(map[string]any{"cniVersion": "0.2.0"}), nil, codeIncompatibleVersion},
		{"stdin too large", "ADD", strings.Repeat(" ", maxStdinBytes+1), nil, codeIOFailure},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := invoke(t, c.command, c.stdin, c.env)
			if r.code == 0 || r.err.Code != c.code || !strings.HasPrefix(r.err.Msg, pluginName+": ") {
				t.Fatalf("got %+v, want CNI error code %d", r, c.code)
			}
		})
	}
}

func TestAddVerifiedPassesPrevResultUnchanged(t *testing.T) {
	n := newNode(t)
	n.verify(n.bootID)
	r := invoke(t, "ADD", n.conf(nil), nil)
	if r.code != 0 || r.stdout != prevResult {
		t.Fatalf("ADD: %+v\nwant stdout %s", r, prevResult)
	}
	if c := n.counters(); c[outcomePassed] != 1 || len(c) != 1 {
		t.Fatalf("counters %v", c)
	}
	if l := n.logRecords(); len(l) != 0 {
		t.Fatalf("a verified pass is not logged, got %+v", l)
	}
	// Also for any 1.x spec version, and for 0.4.0.
	for _, v := range []string{"0.4.0", "1.1.0", "1.2.0"} {
		if r := invoke(t, "ADD", n.conf(map[string]any{"cniVersion": v}), nil); r.code != 0 || r.stdout != prevResult {
			t.Errorf("cniVersion %s: %+v", v, r)
		}
	}
}

func TestAddAddsCniVersionToAResultWithout(t *testing.T) {
	n := newNode(t)
	n.verify(n.bootID)
	r := invoke(t, "ADD", n.conf(map[string]any{"cniVersion": "0.4.0", "prevResult": map[string]any{"ips": []any{}}}), nil)
	var got map[string]any
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &got) != nil || got["cniVersion"] != "0.4.0" {
		t.Fatalf("ADD: %+v", r)
	}
}

func TestAddHoldsThenTryAgainLater(t *testing.T) {
	n := newNode(t)
	n.verify("a-previous-boot")
	n.heartbeatAgo(time.Second)
	r := invoke(t, "ADD", n.conf(nil), nil)
	if r.code == 0 || r.err.Code != codeTryAgainLater || !strings.Contains(r.err.Details, "the agent is verifying") ||
		!strings.HasPrefix(r.err.Msg, pluginName+": network is not ready: ") {
		t.Fatalf("ADD: %+v", r)
	}
	if c := n.counters(); c[outcomeRetry] != 1 {
		t.Fatalf("counters %v", c)
	}
	l := n.logRecords()
	if len(l) != 2 || l[0].Event != "hold" || l[1].Outcome != outcomeRetry || l[1].Pod != "shop/web-0" || l[1].ContainerID != "c0ffee" || l[1].HeldMs < 300 {
		t.Fatalf("log %+v", l)
	}
}

func TestAddReleasedWhenVerifiedDuringTheWait(t *testing.T) {
	n := newNode(t)
	n.heartbeatAgo(time.Second)
	done := make(chan struct{})
	go func() {
		defer close(done)
		time.Sleep(200 * time.Millisecond)
		n.verify(n.bootID)
	}()
	// maxWait is long: returning at all proves the wait ended on the verification. The set-up
	// began unverified, so it is answered with code 11 (set up again), in the kubelet's
	// fast-retry words; the next ADD passes at once.
	r := invoke(t, "ADD", n.conf(map[string]any{"maxWait": "60s"}), nil)
	<-done
	if r.code == 0 || r.err.Code != codeTryAgainLater || !strings.HasPrefix(r.err.Msg, pluginName+": network is not ready: ") ||
		!strings.Contains(r.err.Details, "released") {
		t.Fatalf("ADD: %+v", r)
	}
	if again := invoke(t, "ADD", n.conf(nil), nil); again.code != 0 || again.stdout != prevResult {
		t.Fatalf("ADD after the release: %+v", again)
	}
	if c := n.counters(); c[outcomeReleased] != 1 || c[outcomePassed] != 1 || len(c) != 2 {
		t.Fatalf("counters %v", c)
	}
	l := n.logRecords()
	if len(l) != 2 || l[1].Outcome != outcomeReleased || l[1].HeldMs < 200 {
		t.Fatalf("log %+v", l)
	}
}

func TestAddFailsOpen(t *testing.T) {
	cases := []struct {
		name    string
		setup   func(n *node)
		extra   map[string]any
		outcome string
	}{
		{"deadline passed", func(n *node) { n.seenAgo(10 * time.Minute); n.heartbeatAgo(time.Second) },
			map[string]any{"bootGateDeadline": "5m"}, outcomeFailedOpenDeadline},
		{"agent absent after the start grace", func(n *node) {}, map[string]any{"agentStartGrace": "0s"}, outcomeFailedOpenAbsent},
		{"agent heartbeat stale", func(n *node) { n.heartbeatAgo(time.Minute) }, nil, outcomeFailedOpenStale},
		{"invalid setting of ours", func(n *node) { n.heartbeatAgo(time.Second) }, map[string]any{"maxWait": 20}, outcomeFailedOpenError},
		{"boot id unreadable", func(n *node) { os.Remove(n.bootFile) }, nil, outcomeFailedOpenError},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n := newNode(t)
			c.setup(n)
			r := invoke(t, "ADD", n.conf(c.extra), nil)
			if r.code != 0 || r.stdout != prevResult || !strings.Contains(r.stderr, "failing open ("+c.outcome+")") {
				t.Fatalf("ADD: %+v", r)
			}
			if got := n.counters(); got[c.outcome] != 1 {
				t.Fatalf("counters %v, want %s", got, c.outcome)
			}
			if l := n.logRecords(); len(l) == 0 || l[len(l)-1].Outcome != c.outcome || l[len(l)-1].Reason == "" {
				t.Fatalf("log %+v", l)
			}
		})
	}
}

func TestAddDeadlineReachedDuringTheWait(t *testing.T) {
	n := newNode(t)
	n.seenAgo(4*time.Minute + 59*time.Second)
	n.heartbeatAgo(time.Second)
	r := invoke(t, "ADD", n.conf(map[string]any{"bootGateDeadline": "5m", "maxWait": "60s"}), nil)
	if r.code != 0 || n.counters()[outcomeFailedOpenDeadline] != 1 {
		t.Fatalf("ADD: %+v counters %v", r, n.counters())
	}
}

func TestAddExemptNamespace(t *testing.T) {
	n := newNode(t)
	n.heartbeatAgo(time.Second)
	r := invoke(t, "ADD", n.conf(map[string]any{"exemptNamespaces": []string{"shop"}}), nil)
	if r.code != 0 || r.stdout != prevResult || n.counters()[outcomeExempt] != 1 {
		t.Fatalf("ADD: %+v counters %v", r, n.counters())
	}
	// The default exempts kube-system only.
	r = invoke(t, "ADD", n.conf(nil), map[string]string{"CNI_ARGS": "K8S_POD_NAMESPACE=kube-system;K8S_POD_NAME=coredns-1"})
	if r.code != 0 || n.counters()[outcomeExempt] != 2 {
		t.Fatalf("ADD kube-system: %+v counters %v", r, n.counters())
	}
}

func TestFirstSightingIsRecordedOncePerBoot(t *testing.T) {
	n := newNode(t)
	n.write(bootSeenFile, bootSeen{BootID: "a-previous-boot", UptimeMs: 1})
	invoke(t, "ADD", n.conf(map[string]any{"maxWait": "0s"}), nil)
	data, _ := os.ReadFile(filepath.Join(n.stateDir, bootSeenFile))
	var first bootSeen
	if json.Unmarshal(data, &first) != nil || first.BootID != n.bootID || first.UptimeMs <= 1 {
		t.Fatalf("boot-seen %s", data)
	}
	invoke(t, "ADD", n.conf(map[string]any{"maxWait": "0s"}), nil)
	again, _ := os.ReadFile(filepath.Join(n.stateDir, bootSeenFile))
	if !bytes.Equal(data, again) {
		t.Fatalf("boot-seen rewritten: %s then %s", data, again)
	}
}

func TestLogRotates(t *testing.T) {
	n := newNode(t)
	if err := os.MkdirAll(filepath.Join(n.stateDir, gateDir), 0o755); err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("x"), maxLogBytes+1)
	if err := os.WriteFile(filepath.Join(n.stateDir, gateDir, logFile), big, 0o644); err != nil {
		t.Fatal(err)
	}
	invoke(t, "ADD", n.conf(map[string]any{"agentStartGrace": "0s"}), nil)
	if st, err := os.Stat(filepath.Join(n.stateDir, gateDir, logFile+".1")); err != nil || st.Size() != int64(len(big)) {
		t.Fatalf("old log not moved aside: %v", err)
	}
	if l := n.logRecords(); len(l) != 1 {
		t.Fatalf("new log %+v", l)
	}
}
