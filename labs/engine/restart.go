package engine

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Restart policies.
//
// Docker's daemon starts a container again when it ends, if its --restart policy says so.
// Here there is no daemon, but there is the container's monitor, which waits for the end
// anyway: when finish records the exit, it asks the policy, and instead of "exited" records
// "restarting" and the back-off; the monitor (the Go clean-up, after the idle monitor)
// sleeps for it and sets the container up again in the same process, and a detached
// container's monitor goes idle in C again. stop and kill mark the container as stopped by
// hand first, which the policy respects until the next start (Docker's
// HasBeenManuallyStopped). No process survives a reboot, so after one nothing runs until
// `start --all-restartable`, which a boot-time unit runs (see the walkthrough), brings back
// the containers Docker's daemon would start when it starts.

// The restart policies, as `run --restart` names them.
const (
	RestartNo            = "no"
	RestartOnFailure     = "on-failure"
	RestartAlways        = "always"
	RestartUnlessStopped = "unless-stopped"
)

// The back-off, as Docker's: the first restart waits 100 ms, each next one twice as long as
// the one before, at most a minute; a container that ran for 10 s or more starts over from
// 100 ms.
const (
	restartFirstDelay = 100 * time.Millisecond
	restartMaxDelay   = time.Minute
	restartResetAfter = 10 * time.Second
)

// RestartPolicy says when the monitor starts the container again after it ends.
type RestartPolicy struct {
	// Name is "no" (or empty), "on-failure", "always" or "unless-stopped".
	Name string `json:"Name"`
	// MaximumRetryCount limits on-failure's restarts; 0 means no limit.
	MaximumRetryCount int `json:"MaximumRetryCount"`
}

// ParseRestartPolicy reads --restart: no, always, unless-stopped, on-failure or
// on-failure:N (N from 0, no limit, to 2147483647).
func ParseRestartPolicy(s string) (RestartPolicy, error) {
	name, count, hasCount := strings.Cut(s, ":")
	switch name {
	case RestartNo, RestartAlways, RestartUnlessStopped:
		if hasCount {
			return RestartPolicy{}, fmt.Errorf("--restart %s: only on-failure takes a maximum retry count", s)
		}
		return RestartPolicy{Name: name}, nil
	case RestartOnFailure:
		p := RestartPolicy{Name: name}
		if hasCount {
			n, err := strconv.ParseUint(count, 10, 31)
			if err != nil {
				return RestartPolicy{}, fmt.Errorf("--restart %s: the maximum retry count %q is not a number from 0 (no limit) to 2147483647", s, count)
			}
			p.MaximumRetryCount = int(n)
		}
		return p, nil
	}
	return RestartPolicy{}, fmt.Errorf("--restart %q: want no, on-failure[:N], always or unless-stopped", s)
}

// String is the policy as --restart takes it.
func (p RestartPolicy) String() string {
	switch {
	case p.Name == "":
		return RestartNo
	case p.Name == RestartOnFailure && p.MaximumRetryCount > 0:
		return fmt.Sprintf("%s:%d", p.Name, p.MaximumRetryCount)
	}
	return p.Name
}

// restarts reports whether the policy starts the container again after it ended with
// code, having been restarted count times, and whether stop or kill ended it.
func (p RestartPolicy) restarts(code, count int, manuallyStopped bool) bool {
	if manuallyStopped {
		return false
	}
	switch p.Name {
	case RestartAlways, RestartUnlessStopped:
		return true
	case RestartOnFailure:
		return code != 0 && (p.MaximumRetryCount == 0 || count < p.MaximumRetryCount)
	}
	return false
}

// nextRestartDelay is the back-off before the next restart, after the last one's and how
// long the container ran.
func nextRestartDelay(last, ran time.Duration) time.Duration {
	if last == 0 || ran >= restartResetAfter {
		return restartFirstDelay
	}
	return min(2*last, restartMaxDelay)
}

// checkPolicies checks a new container's restart policy and health check.
func checkPolicies(cfg Config) error {
	if p := cfg.RestartPolicy; p.Name != "" && p.Name != RestartNo {
		if _, err := ParseRestartPolicy(p.String()); err != nil {
			return err
		}
		if cfg.AutoRemove {
			return errors.New("--restart and --rm conflict: a container that is removed when it ends cannot be started again")
		}
	}
	return checkHealthConfig(cfg.Healthcheck)
}

// StartRestartable starts the containers that Docker's daemon starts when it starts: those
// whose policy is always, and those with unless-stopped that were not stopped by hand. It
// is what a boot-time unit runs, since no monitor survives a reboot. It returns the names
// of the containers it started.
//
// Equivalent to: what dockerd does for restart policies when it starts.
func (e *Engine) StartRestartable() ([]string, error) {
	all, err := e.Store.List()
	if err != nil {
		return nil, err
	}
	var started []string
	var failed []string
	for _, c := range all {
		p := c.Config.RestartPolicy.Name
		if c.State.Running() || !(p == RestartAlways || (p == RestartUnlessStopped && !c.HasBeenManuallyStopped)) {
			continue
		}
		if _, err := e.Start(c.ID, nil); err != nil {
			failed = append(failed, fmt.Sprintf("%s: %v", c.Name, err))
			continue
		}
		started = append(started, c.Name)
	}
	if len(failed) > 0 {
		return started, fmt.Errorf("could not start %s", strings.Join(failed, "; "))
	}
	return started, nil
}

// markStopped records that a command, not the container, ended it, before the signal is
// sent: the monitor then records the end as final, whatever the restart policy.
func (e *Engine) markStopped(id string) error {
	unlock, err := e.Store.Lock(id)
	if err != nil {
		return err
	}
	defer unlock()
	c, err := e.Store.load(id)
	if err != nil {
		return err
	}
	if c.HasBeenManuallyStopped {
		return nil
	}
	c.HasBeenManuallyStopped = true
	return e.Store.Save(c)
}
