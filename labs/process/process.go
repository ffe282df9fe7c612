// Package process starts a command, relays the signals a terminal sends to it, and reports
// how it ended the way a shell does: its exit code, or 128 plus the signal that killed it.
//
// Every lab's program ends by passing its command's status on as its own, so that
// `01-chroot run DIR false; echo $?` prints 1 and a command killed by SIGKILL shows 137,
// exactly as if the command had run without the lab around it.
package process

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
)

// Forwarded are the signals a supervisor relays to its command instead of dying of them:
// the ones a terminal or a service manager sends to ask a program to stop.
var Forwarded = []os.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT}

// Run starts cmd, relays the Forwarded signals to it while it runs, waits for it, and
// returns its exit status as a shell would report it. The error is non-nil only when the
// command could not be started at all.
func Run(cmd *exec.Cmd) (int, error) {
	// Catch signals before starting, so a Ctrl-C that arrives during the start is not lost.
	relay := CatchSignals()
	defer relay.Stop()
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	return relay.Wait(cmd)
}

// Relay holds the Forwarded signals that arrive for a supervisor, so that they do not kill
// it, and hands them to its command.
type Relay struct {
	signals chan os.Signal
}

// CatchSignals starts catching the Forwarded signals. Call it before starting a command and
// until the command is waited for: a supervisor that dies of Ctrl-C in between cannot clean up.
func CatchSignals() *Relay {
	r := &Relay{signals: make(chan os.Signal, 8)}
	signal.Notify(r.signals, Forwarded...)
	return r
}

// Wait relays caught signals (also those caught before it was called) to the started
// command until it exits, and returns its exit status as a shell would report it.
func (r *Relay) Wait(cmd *exec.Cmd) (int, error) {
	done := make(chan struct{})
	go func() {
		for {
			select {
			case sig := <-r.signals:
				_ = cmd.Process.Signal(sig)
			case <-done:
				return
			}
		}
	}()
	err := cmd.Wait()
	close(done)
	if err != nil {
		if _, exited := err.(*exec.ExitError); !exited {
			return 0, fmt.Errorf("wait for %s: %w", cmd.Path, err)
		}
	}
	return ExitCode(cmd.ProcessState), nil
}

// Stop stops catching signals; they have their default effect again.
func (r *Relay) Stop() {
	signal.Stop(r.signals)
}

// ExitCode reports how a finished process ended, as a shell's $? would: its exit code, or
// 128 plus the number of the signal that killed it.
func ExitCode(state *os.ProcessState) int {
	if ws, ok := state.Sys().(syscall.WaitStatus); ok {
		return StatusCode(ws)
	}
	return state.ExitCode()
}

// StatusCode converts a raw wait(2) status to the shell convention, for callers that reap
// with wait4 themselves (an init process does).
func StatusCode(ws syscall.WaitStatus) int {
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}

// Env is the environment a command gets inside a new root: the host's environment is not
// carried in (it names host paths and leaks the host's secrets), only a default PATH, HOME
// and, so that terminal programs work, the caller's TERM.
func Env(extra ...string) []string {
	env := []string{"PATH=" + DefaultPath, "HOME=/root"}
	if term := os.Getenv("TERM"); term != "" {
		env = append(env, "TERM="+term)
	}
	return append(env, extra...)
}

// DefaultPath is the $PATH a containerized command gets when nothing sets one; it is the
// one Docker uses.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// The exit statuses a shell, and Docker, use for a command that never ran.
const (
	// ExitSetupFailed: the program failed before it could start the command (Docker's 125).
	ExitSetupFailed = 125
	// ExitNotRunnable: the command exists but cannot be executed.
	ExitNotRunnable = 126
	// ExitNotFound: there is no such command.
	ExitNotFound = 127
)

// ErrNotFound marks an error about a command that does not exist; it maps to ExitNotFound.
var ErrNotFound = errors.New("not found")

// ErrNotRunnable marks an error about a command that exists but cannot be started (not
// executable, or its interpreter is missing); it maps to ExitNotRunnable.
var ErrNotRunnable = errors.New("cannot be run")

// ExitCodeFor returns the exit status a program should end with after err kept it from
// running its command: 127 for ErrNotFound, 126 for ErrNotRunnable, 125 otherwise.
func ExitCodeFor(err error) int {
	switch {
	case errors.Is(err, ErrNotFound):
		return ExitNotFound
	case errors.Is(err, ErrNotRunnable):
		return ExitNotRunnable
	default:
		return ExitSetupFailed
	}
}
