package main

import (
	"syscall"
	"time"
)

// recheckEvery bounds how late a time-based change (deadline reached, heartbeat gone stale,
// start grace over) is noticed while holding; file changes wake the wait at once.
const recheckEvery = time.Second

// pollEvery is the fallback when inotify is unavailable (e.g. out of inotify instances).
const pollEvery = 200 * time.Millisecond

// waiter wakes on any change in the state folder (the agent's atomic renames show as
// IN_MOVED_TO) and at least every recheckEvery.
type waiter struct {
	events <-chan struct{}
	tick   *time.Ticker
	fd     int
}

func newWaiter(dir string) *waiter {
	w := &waiter{fd: -1}
	fd, err := syscall.InotifyInit1(syscall.IN_CLOEXEC)
	if err == nil {
		const mask = syscall.IN_CREATE | syscall.IN_CLOSE_WRITE | syscall.IN_MOVED_TO | syscall.IN_MOVED_FROM | syscall.IN_DELETE
		if _, err = syscall.InotifyAddWatch(fd, dir, mask); err != nil {
			syscall.Close(fd)
		}
	}
	if err != nil {
		w.tick = time.NewTicker(pollEvery)
		return w
	}
	w.fd = fd
	ch := make(chan struct{}, 1)
	go func() {
		buf := make([]byte, 4096)
		for {
			// Events are only a wake-up: the state is re-read, so their content does not matter.
			n, err := syscall.Read(fd, buf)
			if err == syscall.EINTR {
				continue
			}
			if err != nil || n <= 0 {
				return
			}
			select {
			case ch <- struct{}{}:
			default:
			}
		}
	}()
	w.events = ch
	w.tick = time.NewTicker(recheckEvery)
	return w
}

// wait blocks until a change, the next tick, or until (whichever is first).
func (w *waiter) wait(until time.Time) {
	left := time.Until(until)
	if left <= 0 {
		return
	}
	timer := time.NewTimer(left)
	defer timer.Stop()
	select {
	case <-w.events: // nil channel when polling: never ready
	case <-w.tick.C:
	case <-timer.C:
	}
}
