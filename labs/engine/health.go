package engine

import (
	"errors"
	"fmt"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Health checks.
//
// A health check is a command run inside the container on a schedule (an exec, as
// `docker exec` runs one): status 0 means healthy, anything else a failure, and Retries
// failures in a row make the container unhealthy. During the start period failures do not
// count, so a slow service is "starting" rather than "unhealthy" while it comes up. Docker's
// daemon runs the checks; here the container's monitor keeps the schedule: the idle
// monitor's poll(2) wakes when a check is due and starts `PROGRAM container-health ID`,
// a short-lived Go process that does the exec (reaping what it starts, so the monitor goes
// on reaping only its own children), enforces the timeout and writes the result into the
// record. Between checks nothing of Go stays in memory: a check costs a process start,
// not a resident Go monitor.

// The health states, as Docker's.
const (
	HealthStarting  = "starting"
	HealthHealthy   = "healthy"
	HealthUnhealthy = "unhealthy"
)

// Docker's defaults for what a health check leaves unset, and how much of each run it
// keeps: the last five results, the first 4 KiB of each one's output.
const (
	DefaultHealthInterval = 30 * time.Second
	DefaultHealthTimeout  = 30 * time.Second
	DefaultHealthRetries  = 3
	healthLogEntries      = 5
	healthOutputLimit     = 4096
	// minHealthDuration is the shortest interval or timeout Docker accepts.
	minHealthDuration = time.Millisecond
)

// Health is what the health checks found: the verdict, the failures in a row, and the
// last runs (State.Health in inspect).
type Health struct {
	Status        string         `json:"Status"`
	FailingStreak int            `json:"FailingStreak"`
	Log           []HealthResult `json:"Log"`
}

// HealthResult is one run of the health check.
type HealthResult struct {
	Start    time.Time `json:"Start"`
	End      time.Time `json:"End"`
	ExitCode int       `json:"ExitCode"`
	Output   string    `json:"Output"`
}

// checksHealth reports whether a container with this configuration has a health check.
func checksHealth(h *v1.HealthConfig) bool {
	return h != nil && len(h.Test) > 0 && h.Test[0] != "NONE"
}

// MergeHealthcheck is the health check a container gets: the image's (HEALTHCHECK), with
// what the command line set (--health-*) in its place; --no-healthcheck is Test ["NONE"].
func MergeHealthcheck(image, cmdline *v1.HealthConfig) *v1.HealthConfig {
	if cmdline == nil {
		return image
	}
	merged := *cmdline
	if image != nil {
		if len(merged.Test) == 0 {
			merged.Test = image.Test
		}
		if merged.Interval == 0 {
			merged.Interval = image.Interval
		}
		if merged.Timeout == 0 {
			merged.Timeout = image.Timeout
		}
		if merged.StartPeriod == 0 {
			merged.StartPeriod = image.StartPeriod
		}
		if merged.Retries == 0 {
			merged.Retries = image.Retries
		}
	}
	return &merged
}

// withHealthDefaults fills in Docker's defaults for what a health check leaves unset.
func withHealthDefaults(h v1.HealthConfig) v1.HealthConfig {
	if h.Interval == 0 {
		h.Interval = DefaultHealthInterval
	}
	if h.Timeout == 0 {
		h.Timeout = DefaultHealthTimeout
	}
	if h.Retries == 0 {
		h.Retries = DefaultHealthRetries
	}
	return h
}

// checkHealthConfig checks a health check's values, naming the bad one.
func checkHealthConfig(h *v1.HealthConfig) error {
	if h == nil {
		return nil
	}
	if len(h.Test) > 0 {
		switch h.Test[0] {
		case "NONE":
		case "CMD", "CMD-SHELL":
			if len(h.Test) < 2 || h.Test[1] == "" {
				return fmt.Errorf("health check %q has no command", h.Test)
			}
		default:
			return fmt.Errorf("health check %q: the test starts with CMD, CMD-SHELL or NONE", h.Test)
		}
	}
	for _, d := range []struct {
		name  string
		value time.Duration
	}{{"--health-interval", h.Interval}, {"--health-timeout", h.Timeout}} {
		if d.value != 0 && d.value < minHealthDuration {
			return fmt.Errorf("%s %s: want at least %s (or 0 for the default)", d.name, d.value, minHealthDuration)
		}
	}
	if h.StartPeriod < 0 {
		return fmt.Errorf("--health-start-period %s: want 0 or more", h.StartPeriod)
	}
	if h.Retries < 0 {
		return fmt.Errorf("--health-retries %d: want 0 (the default, %d) or more", h.Retries, DefaultHealthRetries)
	}
	return nil
}

// ParseHealthDuration reads a health check's duration option (--health-interval 500ms),
// refusing what Docker refuses: a negative value, or one below a millisecond but 0.
func ParseHealthDuration(option, value string) (time.Duration, error) {
	d, err := time.ParseDuration(value)
	if err != nil {
		return 0, fmt.Errorf("%s %q: want a duration such as 30s, 500ms or 1m30s", option, value)
	}
	if d < 0 || (d > 0 && d < minHealthDuration) {
		return 0, fmt.Errorf("%s %s: want 0 or at least %s", option, value, minHealthDuration)
	}
	return d, nil
}

// record adds a check's result to the health, as Docker's daemon does: success makes the
// container healthy; a failure counts, unless the container is still starting within its
// start period, and Retries of them in a row make it unhealthy.
func (h *Health) record(r HealthResult, cfg v1.HealthConfig, startedAt time.Time) {
	h.Log = append(h.Log, r)
	if len(h.Log) > healthLogEntries {
		h.Log = h.Log[len(h.Log)-healthLogEntries:]
	}
	if r.ExitCode == 0 {
		h.Status, h.FailingStreak = HealthHealthy, 0
		return
	}
	if h.Status == HealthStarting && r.Start.Sub(startedAt) < cfg.StartPeriod {
		return
	}
	h.FailingStreak++
	if h.FailingStreak >= cfg.Retries {
		h.Status = HealthUnhealthy
	}
}

// healthArgs is the command a health check's test runs.
func healthArgs(test []string) ([]string, error) {
	if len(test) < 2 {
		return nil, errors.New("the health check has no command")
	}
	if test[0] == "CMD-SHELL" {
		return []string{"/bin/sh", "-c", test[1]}, nil
	}
	return test[1:], nil
}
