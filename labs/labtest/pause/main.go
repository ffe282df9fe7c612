//go:build linux

// Command pause is the first process of a pod sandbox: the container that holds a pod's
// namespaces (network, IPC, UTS, and PID when the pod shares one) while the pod's other
// containers come and go. Kubernetes runs its own pause image for this; the CRI checks build
// this one instead, so that no image comes from a registry.
//
// It does nothing but wait. As PID 1 of a shared PID namespace it is also the reaper of
// every orphan in the pod, so it collects each exited child's status; SIGINT and SIGTERM end
// it, which is how the runtime stops a pod sandbox.
//
// It is built statically (CGO_ENABLED=0) so it runs in an image that holds nothing else.
package main

import (
	"os"
	"os/signal"

	"golang.org/x/sys/unix"
)

func main() {
	// The kernel delivers to a PID 1 only the signals it has a handler for; Notify installs
	// them. Blocking on the channel is Go's pause(2): the process sleeps until a signal.
	signals := make(chan os.Signal, 16)
	signal.Notify(signals, unix.SIGCHLD, unix.SIGINT, unix.SIGTERM)
	for sig := range signals {
		if sig != unix.SIGCHLD {
			os.Exit(0)
		}
		reap()
	}
}

// reap collects every child that has exited, so none stays a zombie. One SIGCHLD may stand
// for several children, so it waits until none is left.
func reap() {
	for {
		var status unix.WaitStatus
		pid, err := unix.Wait4(-1, &status, unix.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return
		}
	}
}
