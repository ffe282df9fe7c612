package namespace

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"golang.org/x/sys/unix"

	"containerlabs/labs/process"
)

// initSignals are the signals the init passes on to its command. SIGKILL and SIGSTOP cannot
// be caught, and SIGCHLD is the init's own business.
var initSignals = []os.Signal{
	syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT,
	syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGWINCH,
}

// RunInit starts cmd as the only child of this process, which must be PID 1 of its PID
// namespace, and does an init's duties until cmd exits:
//
//   - every signal in initSignals is passed on to cmd. The kernel does not deliver a signal to
//     a namespace's PID 1 unless it has a handler for it, so without this `docker stop`
//     (SIGTERM) would do nothing to most containers;
//   - every orphan re-parented to PID 1 is reaped, so none stays a zombie.
//
// When cmd exits, RunInit returns its status as a shell reports it. The caller exits with
// it; as PID 1 exits, the kernel kills whatever else is left in the namespace.
//
// cmd starts in a new cgroup namespace of its own. It is made here and not by Start, because
// a cgroup namespace's root is the cgroup its creator is in at that moment: only now has the
// parent moved us into the container's cgroup (lab 04), so only now will the container see
// its own cgroup as "/".
func RunInit(cmd *exec.Cmd) (int, error) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Cloneflags |= unix.CLONE_NEWCGROUP
	// lab:03 begin: be an init: start cmd, pass initSignals on to it, and reap every child with wait4(-1) until cmd itself exits; return its status (process.StatusCode)
	signals := make(chan os.Signal, 16)
	signal.Notify(signals, initSignals...)
	defer signal.Stop(signals)
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	main := cmd.Process.Pid
	go func() {
		for sig := range signals {
			_ = cmd.Process.Signal(sig)
		}
	}()
	for {
		var status unix.WaitStatus
		pid, err := unix.Wait4(-1, &status, 0, nil)
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case err != nil:
			return 0, fmt.Errorf("reap children: %w", err)
		case pid == main:
			return process.StatusCode(syscall.WaitStatus(status)), nil
		}
		// Any other pid was an orphan: wait4 has reaped it, which is all it needed.
	}
	// lab:03 starter:
	// fmt.Fprintln(os.Stderr, "TODO(lab 03): be an init: pass signals on and reap orphans (skipped: a plain parent runs the command)")
	// return process.Run(cmd) // a plain parent: it neither reaps orphans nor is a proper PID 1
	// lab:03 end
}
