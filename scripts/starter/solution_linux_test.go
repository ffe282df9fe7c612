package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// edit replaces a TODO of a starter tree with a learner's code: the TODO line, and the
// lines after it up to the first empty line, closing brace of the function, or stop line.
type edit struct {
	file, todo, stop, code string
	// imports are added to the file, drop removed from it (the starter code's errors).
	imports, drop []string
}

// anotherSolution is lab 03 solved otherwise than the reference: mount(2), pivot_root(2)
// and umount2(2) called directly, an init written with syscall's Wait4, the flags computed
// another way. A grader that only accepts the reference's way would fail it.
var anotherSolution = []edit{
	{file: "labs/mount/mount_linux.go", todo: "remount target and everything", code: `
	if err := unix.Mount("none", target, "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make %s private: %w", target, err)
	}
	return nil`},
	{file: "labs/namespace/child_linux.go", todo: "bind-mount root onto itself", code: `
	if err := unix.Mount(root, root, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind %s onto itself: %w", root, err)
	}
	return unix.Chdir(root)`},
	{file: "labs/namespace/child_linux.go", todo: "pivot_root(", code: `
	// The old root goes on top of the new one, so no directory for it is needed (a
	// directory in the root would not do: with --userns, root inside may not write there).
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root: %w", err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detach the old root: %w", err)
	}
	return unix.Chdir("/")`},
	{file: "labs/namespace/child_linux.go", todo: "set the UTS namespace's hostname", code: `
	return unix.Sethostname([]byte(name))`},
	{file: "labs/namespace/init_linux.go", todo: "be an init", imports: []string{"os/signal"}, code: `
	forward := make(chan os.Signal, 8)
	signal.Notify(forward, initSignals...)
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	go func() {
		for s := range forward {
			_ = cmd.Process.Signal(s)
		}
	}()
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, 0, nil)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return 0, err
		}
		if pid == cmd.Process.Pid {
			return process.StatusCode(ws), nil
		}
	}`},
	{file: "labs/namespace/start_linux.go", todo: "the child's namespaces", stop: "r, w, err := os.Pipe()", drop: []string{"errors"}, code: `
	attr := &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	attr.Cloneflags = unix.CLONE_NEWUTS | unix.CLONE_NEWPID | unix.CLONE_NEWNS | unix.CLONE_NEWIPC | unix.CLONE_NEWNET
	if opts.Namespaces != 0 {
		attr.Cloneflags = opts.Namespaces
	}
	if opts.UserNS != nil {
		attr.Cloneflags |= unix.CLONE_NEWUSER
		mapUserNS(attr, *opts.UserNS)
	}
	flags := attr.Cloneflags`},
	{file: "labs/namespace/start_linux.go", todo: "map m for both users and groups", code: `
	attr.UidMappings = []syscall.SysProcIDMap{{ContainerID: m.Inside, HostID: m.Outside, Size: m.Size}}
	attr.GidMappings = []syscall.SysProcIDMap{{ContainerID: m.Inside, HostID: m.Outside, Size: m.Size}}
	if os.Geteuid() == 0 {
		attr.GidMappingsEnableSetgroups = true
		attr.Credential = &syscall.Credential{}
	} else {
		attr.Credential = &syscall.Credential{NoSetGroups: true}
	}`},
	{file: "03-namespaces/main.go", todo: "make every mount in this new mount namespace private", imports: []string{"containerlabs/labs/mount"}, code: `
	must(mount.MakePrivate("/"))`},
	{file: "03-namespaces/main.go", todo: "bind DIR onto itself", code: `
	must(namespace.EnterRoot(c.Root))`},
	{file: "03-namespaces/main.go", todo: "mount /proc, /dev and /sys in the new root", code: `
	if _, err := procfs.MountAll("."); err != nil {
		must(err)
	}`},
	{file: "03-namespaces/main.go", todo: "the root of the mount namespace and detach", code: `
	must(namespace.PivotRoot())`},
	{file: "03-namespaces/main.go", todo: "set the container's hostname", code: `
	must(namespace.SetHostname(c.Hostname))`},
}

// apply makes the edit in the tree at dir.
func (e edit) apply(t *testing.T, dir string) {
	path := filepath.Join(dir, e.file)
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	lines := strings.Split(string(data), "\n")
	start := -1
	for i, l := range lines {
		if strings.Contains(l, "// TODO(lab 03): ") && strings.Contains(l, e.todo) {
			start = i
			break
		}
	}
	require.NotEqual(t, -1, start, "%s has no TODO %q", e.file, e.todo)
	end := start + 1
	for end < len(lines) && strings.TrimSpace(lines[end]) != "" && lines[end] != "}" && strings.TrimSpace(lines[end]) != e.stop {
		end++
	}
	out := append(append(append([]string{}, lines[:start]...), strings.Split(strings.TrimPrefix(e.code, "\n"), "\n")...), lines[end:]...)
	text := strings.Join(out, "\n")
	for _, imp := range e.drop {
		text = strings.Replace(text, "\t\""+imp+"\"\n", "", 1)
	}
	for _, imp := range e.imports {
		if !strings.Contains(text, `"`+imp+`"`) {
			text = strings.Replace(text, "import (\n", "import (\n\t\""+imp+"\"\n", 1)
		}
	}
	require.NoError(t, os.WriteFile(path, []byte(text), 0o644))
}
