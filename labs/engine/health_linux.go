package engine

import (
	"bytes"
	"encoding/json"
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
// container-health ID. It prints the result as JSON on its standard output.
const healthCommand = "container-health"

// healthChecker runs a container's health checks from its monitor.
type healthChecker struct {
	quit chan struct{}
	done chan struct{}
	mu   sync.Mutex
	// probe is the process of the check that runs, if one does.
	probe int
}

// startHealthChecks starts the monitor's timer: every interval a check, its result written
// into the record.
func (m *monitor) startHealthChecks() *healthChecker {
	h := &healthChecker{quit: make(chan struct{}), done: make(chan struct{})}
	cfg := withHealthDefaults(*m.c.Config.Healthcheck)
	go h.loop(m.e, m.c.ID, cfg, m.c.State.StartedAt)
	return h
}

func (h *healthChecker) loop(e *Engine, id string, cfg v1.HealthConfig, startedAt time.Time) {
	defer close(h.done)
	for {
		select {
		case <-h.quit:
			return
		case <-time.After(cfg.Interval):
		}
		r := h.check(id, cfg.Timeout)
		select {
		case <-h.quit:
			return // the container ended meanwhile: the check says nothing about it
		default:
		}
		_ = e.recordHealth(id, r, cfg, startedAt)
	}
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

// check runs one check in a process of its own and reads its result. The monitor does not
// wait(2) for that process: its reaper (waitFor) does, as for any child; the end of the
// result's pipe says the process is done.
func (h *healthChecker) check(id string, timeout time.Duration) HealthResult {
	started := time.Now()
	fail := func(format string, args ...any) HealthResult {
		return HealthResult{Start: started, End: time.Now(), ExitCode: -1, Output: fmt.Sprintf(format, args...)}
	}
	r, w, err := os.Pipe()
	if err != nil {
		return fail("start the health check: %v", err)
	}
	defer r.Close()
	devNull, err := os.Open(os.DevNull)
	if err != nil {
		w.Close()
		return fail("start the health check: %v", err)
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
		return fail("start the health check: %v", err)
	}
	defer func() {
		h.mu.Lock()
		h.probe = 0
		h.mu.Unlock()
	}()
	// The process enforces the timeout itself; this is the backstop if it hangs.
	_ = r.SetReadDeadline(time.Now().Add(timeout + 10*time.Second))
	data, err := io.ReadAll(r)
	if err != nil {
		_ = syscall.Kill(pid, syscall.SIGKILL)
		return fail("the health check's process did not finish: %v", err)
	}
	var result HealthResult
	if err := json.Unmarshal(data, &result); err != nil {
		return fail("the health check's process failed: %s", strings.TrimSpace(string(data)))
	}
	return result
}

// recordHealth writes a check's result into the container's record, under its lock.
func (e *Engine) recordHealth(id string, r HealthResult, cfg v1.HealthConfig, startedAt time.Time) error {
	unlock, err := e.Store.Lock(id)
	if err != nil {
		return err
	}
	defer unlock()
	c, err := e.Store.load(id)
	if err != nil || c.State.Status != StatusRunning {
		return err
	}
	if c.State.Health == nil {
		c.State.Health = &Health{Status: HealthStarting}
	}
	c.State.Health.record(r, cfg, startedAt)
	return e.Store.Save(c)
}

// runHealthCheck is the process of one check: it runs the test in the container (an exec,
// with the container's process settings), kills it after the timeout, and prints what
// happened as a HealthResult.
func runHealthCheck(id string) int {
	r := healthResult(id)
	_ = json.NewEncoder(os.Stdout).Encode(r)
	return 0
}

func healthResult(id string) HealthResult {
	started := time.Now()
	result := func(code int, output string) HealthResult {
		return HealthResult{Start: started, End: time.Now(), ExitCode: code, Output: output}
	}
	e, err := Open(os.Getenv(envMonitor))
	if err != nil {
		return result(-1, err.Error())
	}
	c, err := e.Store.load(id)
	if err != nil {
		return result(-1, err.Error())
	}
	if !checksHealth(c.Config.Healthcheck) {
		return result(-1, "the container has no health check")
	}
	cfg := withHealthDefaults(*c.Config.Healthcheck)
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
