// netwarden-cni-gate is the boot gate of netwarden: a chained CNI plugin, last in the node's
// conflist. On ADD it passes the previous plugin's result through unchanged once this boot's data
// path has been verified by the netwarden agent; before that it holds the call and then fails
// with code 11 so that the runtime sets the pod up again: at once when the agent verifies during
// the hold (the retry runs the whole chain after the verification, and passes), else at maxWait.
// It fails open — passes through and says so — when the boot is older than bootGateDeadline,
// when the agent is not running, or when anything it needs cannot be read. DEL, CHECK, GC and
// STATUS always succeed: the plugin owns no network resources. Behaviour and state files:
// docs/cni-gate.md.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

const pluginName = "netwarden-cni-gate"

// supportedVersions: chaining (prevResult) exists since spec 0.3.0; 1.x minor versions are
// compatible with each other (spec: "backwards and forwards compatible within major versions").
var supportedVersions = []string{"0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"}

// Error codes of the CNI spec (section 5, "Well-known Error Codes").
const (
	codeIncompatibleVersion = 1
	codeInvalidEnv          = 4
	codeIOFailure           = 5
	codeDecodeFailure       = 6
	codeInvalidConfig       = 7
	codeTryAgainLater       = 11
)

// maxStdinBytes bounds the configuration read from stdin (real ones are a few KiB).
const maxStdinBytes = 4 << 20

// cniError is the spec's error result, printed on stdout with a non-zero exit.
type cniError struct {
	CNIVersion string `json:"cniVersion"`
	Code       int    `json:"code"`
	Msg        string `json:"msg"`
	Details    string `json:"details,omitempty"`
}

func main() {
	os.Exit(run(os.Getenv, os.Stdin, os.Stdout, os.Stderr))
}

// run is the whole plugin: one call, its environment, stdin and outputs; returns the exit code.
func run(getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	start := time.Now()
	switch cmd := getenv("CNI_COMMAND"); cmd {
	case "ADD":
		return add(getenv, stdin, stdout, stderr, start)
	case "VERSION":
		data, _ := readStdin(stdin)
		v := "1.1.0"
		var in struct {
			CNIVersion string `json:"cniVersion"`
		}
		if json.Unmarshal(data, &in) == nil && in.CNIVersion != "" {
			v = in.CNIVersion
		}
		out, _ := json.Marshal(map[string]any{"cniVersion": v, "supportedVersions": supportedVersions})
		stdout.Write(out)
		return 0
	case "DEL", "CHECK", "GC", "STATUS":
		// Nothing to undo, check or collect: the plugin creates no interface, address or rule.
		// STATUS never reports "not ready" while the boot is unverified: containerd would then
		// report NetworkReady=false and the kubelet would mark the whole Node NotReady.
		_, _ = readStdin(stdin)
		return 0
	case "":
		fmt.Fprintf(stderr, "%s: the netwarden boot gate CNI plugin (CNI spec %s–%s); the container runtime runs it, see docs/cni-gate.md\n",
			pluginName, supportedVersions[0], supportedVersions[len(supportedVersions)-1])
		return fail(stdout, "", codeInvalidEnv, "CNI_COMMAND is not set", "")
	default:
		return fail(stdout, "", codeInvalidEnv, fmt.Sprintf("CNI_COMMAND %q is not one of ADD, DEL, CHECK, GC, STATUS, VERSION", clip(cmd, 20)), "")
	}
}

func add(getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer, start time.Time) int {
	var missing []string
	for _, k := range []string{"CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME"} {
		if getenv(k) == "" {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return fail(stdout, "", codeInvalidEnv, "missing environment variables: "+strings.Join(missing, ", "), "")
	}
	data, err := readStdin(stdin)
	if err != nil {
		return fail(stdout, "", codeIOFailure, err.Error(), "")
	}
	req, err := parseRequest(data)
	if err != nil {
		return fail(stdout, "", codeDecodeFailure, err.Error(), "")
	}
	if !versionSupported(req.cniVersion) {
		return fail(stdout, req.cniVersion, codeIncompatibleVersion,
			fmt.Sprintf("cniVersion %q is not supported (supported: %s)", req.cniVersion, strings.Join(supportedVersions, ", ")), "")
	}
	if req.prevResult == nil {
		return fail(stdout, req.cniVersion, codeInvalidConfig,
			pluginName+" got no prevResult: it must be chained after the plugin that sets up the interface (last in a conflist)", "")
	}
	result, err := passThrough(req.prevResult, req.cniVersion)
	if err != nil {
		return fail(stdout, req.cniVersion, codeDecodeFailure, err.Error(), "")
	}
	c := call{
		s:           req.settings,
		containerID: getenv("CNI_CONTAINERID"),
		stderr:      stderr,
		start:       start,
	}
	c.namespace, c.pod = podOf(getenv("CNI_ARGS"))

	if len(req.problems) > 0 {
		c.finish(verdict{pass: true, outcome: outcomeFailedOpenError, reason: "invalid configuration: " + strings.Join(req.problems, "; ")}, "", false)
		stdout.Write(result)
		return 0
	}
	o := observe(c.s, c.namespace)
	v := decide(c.s, o)
	if v.pass {
		c.finish(v, o.bootID, false)
	} else {
		v = c.hold(o, v)
	}
	if v.outcome == outcomeReleased {
		// The plugins before this one ran while the data path was unverified: what they set up
		// for the pod (its rules, routes, policy) may be the broken state the gate exists to
		// keep out. Failing makes the runtime tear the sandbox down (DEL) and the kubelet set it
		// up afresh a second later, the whole chain now after the verification; that ADD passes.
		return fail(stdout, req.cniVersion, codeTryAgainLater,
			networkNotReady+": this set-up began before netwarden verified this boot's data path (verified now): set it up again",
			fmt.Sprintf("held %s, released", round(time.Since(start))))
	}
	if !v.pass {
		return fail(stdout, req.cniVersion, codeTryAgainLater,
			networkNotReady+": this node's data path is not verified yet (netwarden boot gate): try again later",
			fmt.Sprintf("held %s: %s", round(time.Since(start)), v.reason))
	}
	stdout.Write(result)
	return 0
}

// networkNotReady opens every "try again" message: the kubelet retries a pod whose sync error
// contains "network is not ready" after 1–1.5 s (pkg/kubelet/pod_workers.go, completeWork:
// backOffOnTransientErrorPeriod), any other sandbox error after 10–15 s. The runtime's error
// carries the plugin's msg, so these words decide how soon a held pod is set up again.
const networkNotReady = "network is not ready"

// call is one ADD being decided.
type call struct {
	s           settings
	containerID string
	namespace   string
	pod         string
	stderr      io.Writer
	start       time.Time
}

// hold waits for the verdict to turn into a pass, at most until maxWait after the call began.
func (c *call) hold(o observation, v verdict) verdict {
	c.record("hold", "", o.bootID, 0, v.reason)
	w := newWaiter(c.s.stateDir)
	until := c.start.Add(c.s.maxWait)
	for time.Now().Before(until) {
		w.wait(until)
		o = observe(c.s, c.namespace)
		v = decide(c.s, o)
		if v.pass {
			if v.outcome == outcomePassed {
				v.outcome = outcomeReleased
			}
			c.finish(v, o.bootID, true)
			return v
		}
	}
	c.record("add", outcomeRetry, o.bootID, time.Since(c.start).Milliseconds(), v.reason)
	return v
}

// finish records a passing call: the counter always, a log line unless it is the plain pass of
// a verified boot (the hot path, once per pod, not worth a line). heldMs is logged only for a
// call that waited.
func (c *call) finish(v verdict, bootID string, waited bool) {
	held := int64(0)
	if waited {
		held = max(time.Since(c.start).Milliseconds(), 1)
	}
	if strings.HasPrefix(v.outcome, "failed_open") {
		fmt.Fprintf(c.stderr, "%s: failing open (%s): %s\n", pluginName, v.outcome, v.reason)
	}
	if v.outcome == outcomePassed {
		if err := recordCall(c.s.stateDir, v.outcome, nil); err != nil {
			fmt.Fprintf(c.stderr, "%s: could not count the call: %v\n", pluginName, err)
		}
		return
	}
	c.record("add", v.outcome, bootID, held, v.reason)
}

func (c *call) record(event, outcome, bootID string, heldMs int64, reason string) {
	rec := &logRecord{
		Time:        time.Now().UTC().Format(time.RFC3339Nano),
		Event:       event,
		Outcome:     outcome,
		ContainerID: c.containerID,
		Pod:         c.pod,
		BootID:      bootID,
		HeldMs:      heldMs,
		Reason:      reason,
	}
	if err := recordCall(c.s.stateDir, outcome, rec); err != nil {
		fmt.Fprintf(c.stderr, "%s: could not record the call: %v\n", pluginName, err)
	}
}

func fail(stdout io.Writer, cniVersion string, code int, msg, details string) int {
	if cniVersion == "" {
		cniVersion = "1.1.0"
	}
	out, _ := json.Marshal(cniError{CNIVersion: cniVersion, Code: code, Msg: pluginName + ": " + msg, Details: details})
	stdout.Write(out)
	return 1
}

func readStdin(r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxStdinBytes+1))
	if err != nil {
		return nil, fmt.Errorf("cannot read the network configuration from stdin: %v", err)
	}
	if len(data) > maxStdinBytes {
		return nil, fmt.Errorf("the network configuration on stdin is larger than %d bytes", maxStdinBytes)
	}
	return data, nil
}

func versionSupported(v string) bool {
	for _, s := range supportedVersions {
		if v == s {
			return true
		}
	}
	return strings.HasPrefix(v, "1.")
}

// passThrough returns prevResult as this plugin's result: byte for byte when it names its
// cniVersion, else with the request's cniVersion added (the runtime reads the version from it).
func passThrough(prev json.RawMessage, cniVersion string) ([]byte, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(prev, &m); err != nil || m == nil {
		return nil, fmt.Errorf("prevResult is not a JSON object")
	}
	if _, ok := m["cniVersion"]; ok {
		return prev, nil
	}
	m["cniVersion"], _ = json.Marshal(cniVersion)
	return json.Marshal(m)
}

// podOf reads K8S_POD_NAMESPACE and K8S_POD_NAME from CNI_ARGS ("K=V;K=V", as containerd and
// CRI-O pass them).
func podOf(cniArgs string) (namespace, pod string) {
	var name string
	for _, kv := range strings.Split(cniArgs, ";") {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "K8S_POD_NAMESPACE":
			namespace = v
		case "K8S_POD_NAME":
			name = v
		}
	}
	if namespace != "" || name != "" {
		pod = namespace + "/" + name
	}
	return namespace, pod
}
