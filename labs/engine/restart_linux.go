package engine

import (
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"containerlabs/labs/engine/idlemonitor"
	"containerlabs/labs/process"
)

// errRestartCancelled is why a restart does not happen: the container was stopped, or
// removed, during the back-off.
var errRestartCancelled = errors.New("the restart was cancelled: the container was stopped or removed")

// releaseDelay is how long an attached container runs before its monitor gives the
// memory of its set-up back.
const releaseDelay = 500 * time.Millisecond

// run watches the container until it ends, and starts it again for as long as its restart
// policy says so. A detached container is watched by the idle monitor, which also starts
// its health checks, and which comes back (as the clean-up, carryOn) when the container
// has ended; a container started attached keeps this Go monitor.
func (m *monitor) run() int {
	for {
		// The container runs: its neighbours learn its name.
		_ = m.e.refreshHosts(userNetworksOf(m.c))
		if m.caller == nil && idlemonitor.Available {
			m.becomeIdle() // returns only if it could not
		}
		if checksHealth(m.c.Config.Healthcheck) {
			m.health = m.startHealthChecks()
		}
		// The set-up's garbage is given back to the kernel a moment after the start rather
		// than by the scavenger, minutes later: the monitor then idles at its smallest. Not
		// at once: the forced collection stops the world for milliseconds, and a short
		// command (run --rm IMAGE true) would end, and wait for it, meanwhile.
		release := time.AfterFunc(releaseDelay, debug.FreeOSMemory)
		code := m.watch()
		release.Stop()
		if m = m.afterExit(); m == nil {
			return code
		}
	}
}

// carryOn is the clean-up's way back into run, once finish has recorded the end.
func (m *monitor) carryOn(code int) int {
	if m = m.afterExit(); m == nil {
		return code
	}
	return m.run()
}

// afterExit follows a recorded end: the container's neighbours forget its name, and, if
// finish recorded it as restarting, the monitor waits out the back-off and sets the
// container up again. It returns the monitor of the new run, or nil.
func (m *monitor) afterExit() *monitor {
	_ = m.e.refreshHosts(userNetworksOf(m.c))
	if m.c.State.Status != StatusRestarting {
		return nil
	}
	if !m.e.waitBackoff(m.c.ID, m.c.State.RestartDelay) {
		return nil
	}
	next := &monitor{e: m.e, restarting: true}
	if code, err := next.setUp(m.c.ID); err != nil {
		next.tearDown()
		m.e.endRestarts(m.c.ID, code, err)
		return nil
	}
	return next
}

// planRestart turns an exit that finish is recording into a restart, if the policy says
// so: the record says "restarting", with the back-off to wait.
func (m *monitor) planRestart() {
	c := m.c
	if c.Config.AutoRemove || !c.Config.RestartPolicy.restarts(c.State.ExitCode, c.RestartCount, c.HasBeenManuallyStopped) {
		return
	}
	c.State.Status = StatusRestarting
	c.State.RestartDelay = nextRestartDelay(c.State.RestartDelay, c.State.FinishedAt.Sub(c.State.StartedAt))
	c.State.Pid, c.State.PidStart = 0, 0
}

// startable is setUp's check that the container may be started: not already running; and,
// for a restart, still restarting and not stopped by hand meanwhile.
func (m *monitor) startable(c *Container) error {
	if !m.restarting {
		if c.State.Running() {
			return fmt.Errorf("%w: %s", ErrAlreadyRunning, c.Name)
		}
		return nil
	}
	if c.State.Status != StatusRestarting || c.HasBeenManuallyStopped {
		return errRestartCancelled
	}
	return nil
}

// noteStart makes the health "starting" again, and counts a restart, or, for a start by
// hand, begins the count and the back-off anew and forgets that the container was stopped
// by hand.
func (m *monitor) noteStart(c *Container) {
	c.State.Health = nil
	if checksHealth(c.Config.Healthcheck) {
		c.State.Health = &Health{Status: HealthStarting}
	}
	if m.restarting {
		c.RestartCount++
		return
	}
	c.RestartCount, c.HasBeenManuallyStopped, c.State.RestartDelay = 0, false, 0
}

// waitBackoff sleeps for the back-off before a restart, watching the record: stop (or
// rm -f) during it cancels the restart, and the container is recorded as exited.
func (e *Engine) waitBackoff(id string, delay time.Duration) bool {
	deadline := time.Now().Add(delay)
	for {
		c, err := e.Store.load(id)
		if err != nil {
			return false // removed
		}
		if c.HasBeenManuallyStopped || c.State.Status != StatusRestarting {
			e.endRestarts(id, 0, errRestartCancelled)
			return false
		}
		left := time.Until(deadline)
		if left <= 0 {
			return true
		}
		time.Sleep(min(left, 50*time.Millisecond))
	}
}

// endRestarts records that a restarting container stays exited: it was stopped during the
// back-off (its last exit status stands), or starting it again failed (the error says why).
func (e *Engine) endRestarts(id string, code int, err error) {
	unlock, lockErr := e.Store.Lock(id)
	if lockErr != nil {
		return
	}
	defer unlock()
	c, loadErr := e.Store.load(id)
	if loadErr != nil || c.State.Status != StatusRestarting {
		return
	}
	c.State.Status = StatusExited
	if !errors.Is(err, errRestartCancelled) {
		if code == 0 {
			code = process.ExitSetupFailed
		}
		c.State.ExitCode, c.State.Error = code, fmt.Sprintf("restart: %v", err)
	}
	c.State.FinishedAt = time.Now().UTC()
	_ = e.Store.Save(c)
}

// checkAttachable refuses a restart policy for a container started attached: its monitor
// ends with it, and a restarted container would have no terminal to come back to.
func checkAttachable(c *Container, attach *Attach) error {
	if attach == nil || c.Config.RestartPolicy.Name == "" || c.Config.RestartPolicy.Name == RestartNo {
		return nil
	}
	return fmt.Errorf("container %s has --restart %s: start it detached (run -d, start without -a)", c.Name, c.Config.RestartPolicy)
}
