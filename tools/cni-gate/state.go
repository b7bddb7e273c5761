package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// The node-local state, shared with the agent (src/core/boot-gate.ts holds the same names and
// formats). Everything lives under stateDir, a tmpfs (/run) on a real node, so a reboot clears
// it; each record also names its boot id, so a folder that survives a reboot (or a lab where
// several "nodes" share one kernel) is never mistaken for this boot's.
const (
	verifiedFile  = "verified-boot-id" // the agent: "<boot id>\n" once it opened the gate this boot
	heartbeatFile = "heartbeat"        // the agent: {"bootId","uptimeMs","pid"} every few seconds
	bootSeenFile  = "boot-seen"        // plugin or agent, whoever is first: {"bootId","uptimeMs"}
	gateDir       = "cni-gate"         // the plugin's own files (a subfolder: its writes do not wake waiters)
	countersFile  = "counters"         // {"<outcome>": n, …}
	logFile       = "gate.log"         // JSON lines; rotated to gate.log.1 past maxLogBytes
	lockFile      = "lock"             // flock for counters and log
	maxLogBytes   = 1 << 20
	maxStateBytes = 64 << 10
)

// bootSeen records when this boot was first seen, on the kernel's boot clock (/proc/uptime):
// "since boot" for bootGateDeadline. /proc/uptime alone is not enough: in the lab every node
// shares the host kernel's uptime and only the boot id is per node.
type bootSeen struct {
	BootID   string `json:"bootId"`
	UptimeMs int64  `json:"uptimeMs"`
}

// heartbeat is the agent's sign of life, stamped with the boot clock (immune to wall-clock steps).
type heartbeat struct {
	BootID   string `json:"bootId"`
	UptimeMs int64  `json:"uptimeMs"`
	PID      int    `json:"pid"`
}

// readSmall reads a state file, refusing anything larger than maxStateBytes.
func readSmall(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxStateBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxStateBytes {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, maxStateBytes)
	}
	return data, nil
}

// readBootID reads the kernel's boot id (a UUID; anything else non-empty and short is accepted).
func readBootID(path string) (string, error) {
	data, err := readSmall(path)
	if err != nil {
		return "", err
	}
	id := strings.TrimSpace(string(data))
	if id == "" || len(id) > 64 || strings.ContainsAny(id, " \t\n") {
		return "", fmt.Errorf("%s does not hold a boot id: %q", path, clip(id, 40))
	}
	return id, nil
}

// readUptime reads CLOCK_BOOTTIME as /proc/uptime shows it ("12345.67 23456.78").
func readUptime() (time.Duration, error) {
	data, err := readSmall("/proc/uptime")
	if err != nil {
		return 0, err
	}
	field, _, _ := strings.Cut(strings.TrimSpace(string(data)), " ")
	secs, err := strconv.ParseFloat(field, 64)
	if err != nil || secs < 0 {
		return 0, fmt.Errorf("/proc/uptime: unexpected content %q", clip(string(data), 40))
	}
	return time.Duration(secs * float64(time.Second)), nil
}

// readVerified returns the boot id the agent verified, or "" (absent or unreadable: not verified).
func readVerified(stateDir string) string {
	data, err := readSmall(filepath.Join(stateDir, verifiedFile))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(data))
}

// readHeartbeat returns the agent's last heartbeat, or nil when absent or not parseable.
func readHeartbeat(stateDir string) *heartbeat {
	data, err := readSmall(filepath.Join(stateDir, heartbeatFile))
	if err != nil {
		return nil
	}
	var hb heartbeat
	if json.Unmarshal(data, &hb) != nil || hb.BootID == "" {
		return nil
	}
	return &hb
}

// ensureBootSeen returns this boot's first-sighting record, writing it when absent or left from
// another boot. Concurrent first calls each write a record a few milliseconds apart; the last
// rename wins, which moves "first seen" by those milliseconds at most.
func ensureBootSeen(stateDir, bootID string, now time.Duration) (*bootSeen, error) {
	path := filepath.Join(stateDir, bootSeenFile)
	if data, err := readSmall(path); err == nil {
		var s bootSeen
		if json.Unmarshal(data, &s) == nil && s.BootID == bootID {
			return &s, nil
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	s := &bootSeen{BootID: bootID, UptimeMs: now.Milliseconds()}
	data, _ := json.Marshal(s)
	if err := os.MkdirAll(stateDir, 0o755); err != nil {
		return nil, err
	}
	if err := writeAtomic(path, append(data, '\n')); err != nil {
		return nil, err
	}
	return s, nil
}

// writeAtomic writes a temporary file in the same folder, then renames it over path: readers see
// the old content or the new, never a part.
func writeAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	name := tmp.Name()
	_, err = tmp.Write(data)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(name, 0o644)
	}
	if err == nil {
		err = os.Rename(name, path)
	}
	if err != nil {
		os.Remove(name)
	}
	return err
}

// observe reads everything decide needs. The first-sighting record is only needed (and written)
// when this boot is not verified.
func observe(s settings, namespace string) observation {
	o := observation{namespace: namespace}
	o.bootID, o.bootErr = readBootID(s.bootIDFile)
	if o.bootErr != nil {
		return o
	}
	o.verified = readVerified(s.stateDir)
	if o.verified == o.bootID {
		return o
	}
	now, err := readUptime()
	if err != nil {
		o.seenErr = err
		return o
	}
	o.now = now
	o.seen, o.seenErr = ensureBootSeen(s.stateDir, o.bootID, now)
	o.heartbeat = readHeartbeat(s.stateDir)
	return o
}

// jsonLine is one log record.
func jsonLine(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	return b.Bytes()
}
