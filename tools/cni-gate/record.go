package main

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// logRecord is one line of gate.log: every call that did not simply pass a verified boot.
type logRecord struct {
	Time        string `json:"time"`
	Event       string `json:"event"` // "hold" (a wait begins) or "add" (the call's outcome)
	Outcome     string `json:"outcome,omitempty"`
	ContainerID string `json:"containerId,omitempty"`
	Pod         string `json:"pod,omitempty"`
	BootID      string `json:"bootId,omitempty"`
	HeldMs      int64  `json:"heldMs,omitempty"`
	Reason      string `json:"reason,omitempty"`
}

// lockWait bounds how long a call waits for another call's counter or log update (each takes
// microseconds; a holder stuck for longer is skipped, the count lost, the decision unchanged).
const lockWait = time.Second

// recordCall counts the outcome and, when log is not nil, appends it to gate.log, under one
// flock so that concurrent calls neither lose counts nor interleave lines. Errors are returned
// for stderr; they never change what the call answers.
func recordCall(stateDir string, outcome string, log *logRecord) error {
	dir := filepath.Join(stateDir, gateDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	unlock, err := lock(filepath.Join(dir, lockFile))
	if err != nil {
		return err
	}
	defer unlock()
	var errs []error
	if outcome != "" {
		errs = append(errs, bumpCounter(filepath.Join(dir, countersFile), outcome))
	}
	if log != nil {
		errs = append(errs, appendLog(filepath.Join(dir, logFile), jsonLine(log)))
	}
	return errors.Join(errs...)
}

func lock(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR|syscall.O_CLOEXEC, 0o644)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(lockWait)
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) || time.Now().After(deadline) {
			f.Close()
			return nil, err
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// bumpCounter adds one to a counter of the counters file (a JSON object of outcome → count).
// An unreadable file starts over from zero rather than blocking counting for the rest of the boot.
func bumpCounter(path, outcome string) error {
	counts := map[string]int64{}
	if data, err := readSmall(path); err == nil {
		_ = json.Unmarshal(data, &counts)
	}
	counts[outcome]++
	data, err := json.Marshal(counts)
	if err != nil {
		return err
	}
	return writeAtomic(path, append(data, '\n'))
}

// appendLog appends a line, first moving a log larger than maxLogBytes to <log>.1 (memory on a
// tmpfs stays bounded at twice that).
func appendLog(path string, line []byte) error {
	if st, err := os.Stat(path); err == nil && st.Size() > maxLogBytes {
		if err := os.Rename(path, path+".1"); err != nil {
			return err
		}
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND|syscall.O_CLOEXEC, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(line)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
