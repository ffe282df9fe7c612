package main

import (
	"errors"
	"fmt"
	"os"

	"containerlabs/labs/engine"
	"containerlabs/labs/show"
	"containerlabs/scripts/i18n"
)

// showContainer draws a running container from the kernel's state, not from the engine's
// records (labs/show): the record gives only the PID to look at. With --html FILE it
// writes a page with the drawing, for a screen.
func showContainer(e *engine.Engine, args []string) (int, error) {
	page := ""
	if len(args) == 3 && args[0] == "--html" {
		page, args = args[1], args[2:]
	}
	if len(args) != 1 {
		return 125, fmt.Errorf("usage: 08-engine show [--html FILE] CONTAINER")
	}
	if e.Rootless != nil {
		// The host's column is /proc/1/ns, which the kernel shows only to root (and to
		// processes of root's own user namespace), never to the user's engine.
		return 125, errors.New(i18n.T("show needs root: it compares the container's namespaces with the host's (/proc/1/ns), which the kernel hides from an ordinary user; look at a rootless container with ps, /proc/PID/uid_map and /proc/PID/ns instead"))
	}
	c, err := e.Store.Get(args[0])
	if err != nil {
		return 125, err
	}
	if !c.State.Running() {
		return 125, errors.New(i18n.Sprintf("container %s is not running: there is nothing in the kernel to show", c.Name))
	}
	p, err := show.Gather(c.State.Pid)
	if err != nil {
		return 125, err
	}
	if page == "" {
		fmt.Printf("container %s\n%s", c.Name, p.Text())
		return 0, nil
	}
	if err := os.WriteFile(page, []byte(p.HTML("container "+c.Name)), 0o644); err != nil {
		return 125, err
	}
	fmt.Println(page)
	return 0, nil
}
