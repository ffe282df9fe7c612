package runtime

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// runHooks runs a list of OCI hooks in order, each with the container's state as JSON on its
// stdin, and stops at the first that fails: the operation that runs them fails with it.
// Hooks are how a tool plugs into a container's life without being a runtime: a network
// plugin configures the namespace in createRuntime (Docker's libnetwork-setkey is a prestart
// hook that reads the state to find the container), a tracer attaches in startContainer, a
// cleaner removes leftovers in poststop. Where each list runs, and the status its hooks read:
//
//	prestart, createRuntime   by the runtime, on the host, once the namespaces exist and
//	                          before pivot_root (prestart is the deprecated older name);
//	                          "created", as crun gives it and runtime-tools checks
//	createContainer           by the init, in the container's namespaces, before pivot_root;
//	                          "created"
//	startContainer            by the init, inside the container, just before the command;
//	                          "created"
//	poststart                 by `start`, once the command runs; "running"
//	poststop                  by `delete`, once the container is gone; "stopped"
//
// A failing poststart or poststop hook cannot undo what has happened: runHooksLogged runs
// those lists to the end and logs each failure as a warning, as the specification says.
//
// Equivalent to: `echo STATE | HOOK ARGS...` with the hook's environment, under `timeout`.
func runHooks(kind string, hooks []specs.Hook, state State) error {
	if len(hooks) == 0 {
		return nil
	}
	data, err := json.Marshal(state)
	if err != nil {
		return fmt.Errorf("%s hooks: %w", kind, err)
	}
	for _, h := range hooks {
		if err := runHook(kind, h, data); err != nil {
			return err
		}
	}
	return nil
}

// runHooksLogged runs every hook of a list whose failure cannot fail the operation
// (poststart, poststop), and logs each failure instead of stopping at it.
func runHooksLogged(log *Logger, kind string, hooks []specs.Hook, state State) {
	if len(hooks) == 0 {
		return
	}
	data, err := json.Marshal(state)
	if err != nil {
		log.Warnf("%s hooks: %v", kind, err)
		return
	}
	for _, h := range hooks {
		if err := runHook(kind, h, data); err != nil {
			log.Warnf("%v", err)
		}
	}
}

// runHook runs one hook with state on its stdin, killing it after its timeout.
func runHook(kind string, h specs.Hook, state []byte) error {
	ctx := context.Background()
	cancel := func() {}
	if h.Timeout != nil {
		ctx, cancel = context.WithTimeout(ctx, time.Duration(*h.Timeout)*time.Second)
	}
	defer cancel()
	cmd := exec.CommandContext(ctx, h.Path)
	if len(h.Args) > 0 {
		cmd.Args = h.Args
	}
	cmd.Env = h.Env
	cmd.Stdin = bytes.NewReader(state)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	// A child the hook left behind (a daemon, a `sleep` of a killed shell) may hold the
	// output pipe open: once the hook itself has exited, its output is read for one more
	// second at most.
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	if errors.Is(err, exec.ErrWaitDelay) {
		err = nil // the hook exited with status 0; only its leftover held the pipe
	}
	if ctx.Err() != nil {
		return fmt.Errorf("%s hook %s: killed after its timeout of %ds", kind, h.Path, *h.Timeout)
	}
	if err != nil {
		return fmt.Errorf("%s hook %s: %w: %s", kind, h.Path, err, strings.TrimSpace(out.String()))
	}
	return nil
}
