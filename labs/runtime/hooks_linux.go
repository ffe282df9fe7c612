package runtime

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// runHooks runs a list of OCI hooks in order, each with the container's state as JSON on its
// stdin, and stops at the first that fails. Hooks are how a tool plugs into a container's
// life without being a runtime: a network plugin configures the namespace in createRuntime,
// a tracer attaches in startContainer, a cleaner removes leftovers in poststop. Where each
// list runs:
//
//	prestart, createRuntime   by the runtime, on the host, once the namespaces exist and
//	                          before pivot_root (prestart is the deprecated older name)
//	createContainer           by the init, in the container's namespaces, before pivot_root
//	startContainer            by the init, inside the container, just before the command
//	poststart                 by `start`, once the command runs (failures only warn)
//	poststop                  by `delete`, once the container is gone (failures only warn)
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
		ctx := context.Background()
		cancel := func() {}
		if h.Timeout != nil {
			ctx, cancel = context.WithTimeout(ctx, time.Duration(*h.Timeout)*time.Second)
		}
		cmd := exec.CommandContext(ctx, h.Path)
		if len(h.Args) > 0 {
			cmd.Args = h.Args
		}
		cmd.Env = h.Env
		cmd.Stdin = bytes.NewReader(data)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		timedOut := ctx.Err() != nil
		cancel()
		if timedOut {
			return fmt.Errorf("%s hook %s: killed after its timeout of %ds", kind, h.Path, *h.Timeout)
		}
		if err != nil {
			return fmt.Errorf("%s hook %s: %w: %s", kind, h.Path, err, strings.TrimSpace(out.String()))
		}
	}
	return nil
}
