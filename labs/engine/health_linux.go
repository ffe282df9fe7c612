package engine

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"containerlabs/labs/runtime"
)

// healthCommand is the command line of one health check's process: PROGRAM
// container-health ID. The monitor starts it on schedule (the idle monitor in C, or
// healthChecker in Go); it does the check and records the result.
const healthCommand = "container-health"

// healthChecker is the Go monitor's schedule of health checks, for a container whose
// monitor does not go idle (one started attached, or a binary built without cgo).
type healthChecker struct {
	quit chan struct{}
	done chan struct{}
	mu   sync.Mutex
	// probe is the process of the check that runs, if one does.
	probe int
}

// idleHealthArgs are the idle monitor's arguments for the container's health check.
func (m *monitor) idleHealthArgs() []string {
	if !checksHealth(m.c.Config.Healthcheck) {
		return nil
	}
	interval := withHealthDefaults(*m.c.Config.Healthcheck).Interval
	return []string{"health-interval=" + strconv.FormatInt(int64(interval), 10)}
}

// startHealthChecks starts the schedule: a check every interval after the last one ended,
// as Docker's daemon and the idle monitor run them.
func (m *monitor) startHealthChecks() *healthChecker {
	h := &healthChecker{quit: make(chan struct{}), done: make(chan struct{})}
	interval := withHealthDefaults(*m.c.Config.Healthcheck).Interval
	go func() {
		defer close(h.done)
		for {
			select {
			case <-h.quit:
				return
			case <-time.After(interval):
			}
			h.check(m.c.ID)
		}
	}()
	return h
}

// stop ends the checks, killing the one that runs, and returns when they have ended. The
// monitor calls it as soon as the container has ended (a nil checker does nothing).
func (h *healthChecker) stop() {
	if h == nil {
		return
	}
	close(h.quit)
	h.mu.Lock()
	if h.probe > 0 {
		_ = syscall.Kill(h.probe, syscall.SIGKILL)
	}
	h.mu.Unlock()
	<-h.done
}

// check runs one check's process and waits until it has ended. It does not wait(2) for
// it: the monitor's reaper (waitFor) does, as for any child, and the end of the pipe that
// is the process's output says it is done.
func (h *healthChecker) check(id string) {
	r, w, err := os.Pipe()
	if err != nil {
		return
	}
	defer r.Close()
	devNull, err := os.Open(os.DevNull)
	if err != nil {
		w.Close()
		return
	}
	h.mu.Lock()
	pid, err := syscall.ForkExec("/proc/self/exe", []string{os.Args[0], healthCommand, id}, &syscall.ProcAttr{
		Env: os.Environ(), Files: []uintptr{devNull.Fd(), w.Fd(), w.Fd()},
	})
	if err == nil {
		h.probe = pid
	}
	h.mu.Unlock()
	w.Close()
	devNull.Close()
	if err != nil {
		return
	}
	_, _ = io.Copy(io.Discard, r)
	h.mu.Lock()
	h.probe = 0
	h.mu.Unlock()
}

// recordHealth writes a check's result into the container's record, under its lock.
func (e *Engine) recordHealth(id string, r HealthResult, cfg v1.HealthConfig, startedAt time.Time) error {
	unlock, err := e.Store.Lock(id)
	if err != nil {
		return err
	}
	defer unlock()
	c, err := e.Store.load(id)
	if err != nil || c.State.Status != StatusRunning || !c.State.StartedAt.Equal(startedAt) {
		return err // a check of a run that has ended says nothing about the next
	}
	if c.State.Health == nil {
		c.State.Health = &Health{Status: HealthStarting}
	}
	c.State.Health.record(r, cfg, startedAt)
	return e.Store.Save(c)
}

// runHealthCheck is the process of one check: it runs the test in the container (an exec,
// with the container's process settings), kills it after the timeout, and records what
// happened in the container's record.
func runHealthCheck(id string) int {
	e, err := Open(os.Getenv(envMonitor))
	if err != nil {
		fmt.Fprintln(os.Stderr, "health check:", err)
		return 1
	}
	c, err := e.Store.load(id)
	if err != nil || !checksHealth(c.Config.Healthcheck) {
		return 1
	}
	cfg := withHealthDefaults(*c.Config.Healthcheck)
	if err := e.recordHealth(id, e.healthResult(c, cfg), cfg, c.State.StartedAt); err != nil {
		fmt.Fprintln(os.Stderr, "health check:", err)
		return 1
	}
	return 0
}

func (e *Engine) healthResult(c *Container, cfg v1.HealthConfig) HealthResult {
	started := time.Now()
	result := func(code int, output string) HealthResult {
		return HealthResult{Start: started, End: time.Now(), ExitCode: code, Output: output}
	}
	id := c.ID
	args, err := healthArgs(cfg.Test)
	if err != nil {
		return result(-1, err.Error())
	}
	spec, err := e.Runtime.Config(id)
	if err != nil {
		return result(-1, err.Error())
	}
	p := *spec.Process
	p.Args, p.Terminal = args, false
	out, w, err := os.Pipe()
	if err != nil {
		return result(-1, err.Error())
	}
	output := make(chan []byte, 1)
	go func() {
		var kept bytes.Buffer
		_, _ = io.Copy(&limitedBuffer{buf: &kept, left: healthOutputLimit}, out)
		output <- kept.Bytes()
	}()
	pidFile := filepath.Join(e.Store.Dir(id), "health.pid")
	timedOut := make(chan bool, 1)
	finished := make(chan struct{})
	go func() {
		select {
		case <-finished:
			timedOut <- false
		case <-time.After(cfg.Timeout):
			if data, err := os.ReadFile(pidFile); err == nil {
				if pid, err := strconv.Atoi(strings.TrimSpace(string(data))); err == nil {
					_ = syscall.Kill(pid, syscall.SIGKILL)
				}
			}
			timedOut <- true
		}
	}()
	code, err := e.Runtime.Exec(id, &p, runtime.ExecOptions{Stdout: w, Stderr: w, Stdin: nil, PidFile: pidFile})
	close(finished)
	w.Close()
	_ = os.Remove(pidFile)
	if <-timedOut {
		return result(-1, fmt.Sprintf("Health check exceeded timeout (%s)", cfg.Timeout))
	}
	var text []byte
	select {
	case text = <-output:
	case <-time.After(time.Second):
		// A process the check left in the background holds the pipe open.
	}
	if err != nil {
		return result(code, strings.TrimSpace(string(text)+"\n"+err.Error()))
	}
	return result(code, string(text))
}

// limitedBuffer keeps the first bytes written to it and drops the rest, so that a check's
// output is read to its end (the check never blocks on a full pipe) but only its start kept.
type limitedBuffer struct {
	buf  *bytes.Buffer
	left int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if b.left > 0 {
		n := min(len(p), b.left)
		b.buf.Write(p[:n])
		b.left -= n
	}
	return len(p), nil
}
