package namespace

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"

	"containerlabs/labs/process"
)

// envChild marks the re-executed child. Its value is the number of the descriptor on which
// the parent's pipe arrives.
const envChild = "CONTAINERLABS_CHILD"

// childPipeFD is the descriptor of the pipe in the child: ExtraFiles start at 3, after
// stdin, stdout and stderr.
const childPipeFD = 3

// Namespaces are the namespaces every container gets from the start. The cgroup namespace is
// not among them: RunInit creates it for the command, once the parent has moved the child
// into its cgroup (see RunInit).
const Namespaces = unix.CLONE_NEWUTS | unix.CLONE_NEWPID | unix.CLONE_NEWNS | unix.CLONE_NEWIPC | unix.CLONE_NEWNET

// IDMap maps a range of user or group IDs inside a user namespace to a range outside it,
// one line of /proc/PID/uid_map: "Inside Outside Size".
type IDMap struct {
	Inside, Outside, Size int
}

// DefaultIDMap maps IDs 0-65535 inside to 100000-165535 outside, the first range that
// /etc/subuid conventionally hands out: root in the container is uid 100000 on the host.
var DefaultIDMap = IDMap{Inside: 0, Outside: 100000, Size: 65536}

// Options describe the child that Start creates.
type Options struct {
	// Namespaces are the CLONE_NEW* flags of the child; zero means Namespaces.
	Namespaces uintptr
	// UserNS, when set, adds a new user namespace whose IDs are mapped this way, for both
	// users and groups, and makes the child root inside it.
	UserNS *IDMap
	// Args are appended to the child's command line, which starts with "init": ps shows
	// them for PID 1. The child does not read them.
	Args []string
	// Stdin, Stdout and Stderr are the child's, and through it the command's.
	Stdin          io.Reader
	Stdout, Stderr io.Writer
}

// Child is the parent's handle on a child started by Start.
type Child struct {
	// PID is the child's process ID as the host sees it. Inside, it is PID 1.
	PID   int
	cmd   *exec.Cmd
	pipe  *os.File
	relay *process.Relay
}

// Start re-executes the running program (/proc/self/exe) as a child in new namespaces. The
// child starts blocked in Receive until the parent calls Release. If the parent dies first,
// the kernel kills the child (PR_SET_PDEATHSIG), so no half-made container outlives it.
//
// Equivalent to: `unshare --uts --pid --mount --ipc --net --fork PROGRAM` with the program
// waiting on a pipe.
func Start(opts Options) (*Child, error) {
	// lab:03 begin: the child's namespaces: opts.Namespaces (Namespaces if zero), plus CLONE_NEWUSER and the ID maps (mapUserNS) when opts.UserNS is set, as attr.Cloneflags
	flags := opts.Namespaces
	if flags == 0 {
		flags = Namespaces
	}
	attr := &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if m := opts.UserNS; m != nil {
		flags |= unix.CLONE_NEWUSER
		mapUserNS(attr, *m)
	}
	attr.Cloneflags = flags
	// lab:03 starter:
	// var flags uintptr
	// attr := &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	// // Keep this check: a child without its own mount namespace would change the host's
	// // mounts and pivot the host's root.
	// if attr.Cloneflags&unix.CLONE_NEWNS == 0 {
	// 	return nil, errors.New("TODO(lab 03): start the child in new namespaces (attr.Cloneflags)")
	// }
	// lab:03 end
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("make the parent-child pipe: %w", err)
	}
	defer r.Close()
	cmd := &exec.Cmd{
		Path:        "/proc/self/exe",
		Args:        append([]string{"init"}, opts.Args...),
		Env:         append(os.Environ(), envChild+"="+strconv.Itoa(childPipeFD)),
		Stdin:       opts.Stdin,
		Stdout:      opts.Stdout,
		Stderr:      opts.Stderr,
		ExtraFiles:  []*os.File{r},
		SysProcAttr: attr,
	}
	// Signals are caught from here on, so that a Ctrl-C during the parent's half cannot kill
	// the parent between creating things and removing them; Wait hands them to the child.
	relay := process.CatchSignals()
	if err := cmd.Start(); err != nil {
		relay.Stop()
		w.Close()
		return nil, fmt.Errorf("start a child in new namespaces (flags %s): %w", FlagNames(flags), err)
	}
	return &Child{PID: cmd.Process.Pid, cmd: cmd, pipe: w, relay: relay}, nil
}

// mapUserNS sets up the user namespace of the child: its uid and gid maps, and uid and gid 0
// inside it.
//
// The maps say what IDs inside mean outside; only a process outside the namespace (the
// parent) may write them, once, to /proc/PID/uid_map and gid_map. They must be written
// before the child calls execve: a process whose uid is not mapped to the namespace's root
// at execve loses every capability there. So the parent writes them in the short window
// between clone and execve, and the child then switches to uid and gid 0 (the mapped host
// ID) before it execs. Go's os/exec does exactly that for the fields set here, the way
// runc's C helper does it by hand.
//
// An unprivileged parent must write "deny" to /proc/PID/setgroups before the gid map, and
// then the child cannot call setgroups(2) at all. A root parent need not, so it keeps
// setgroups working inside (su and login need it).
//
// Equivalent to: `echo '0 100000 65536' > /proc/PID/uid_map` (and gid_map) from outside,
// then setgroups, setresgid(0) and setresuid(0) inside.
func mapUserNS(attr *syscall.SysProcAttr, m IDMap) {
	// lab:03 begin: map m for both users and groups (attr.UidMappings, GidMappings), keep setgroups for a root parent, and make the child uid and gid 0 (attr.Credential)
	ids := []syscall.SysProcIDMap{{ContainerID: m.Inside, HostID: m.Outside, Size: m.Size}}
	root := os.Geteuid() == 0
	attr.UidMappings = ids
	attr.GidMappings = ids
	attr.GidMappingsEnableSetgroups = root
	attr.Credential = &syscall.Credential{Uid: 0, Gid: 0, NoSetGroups: !root}
	// lab:03 end
}

// ReachableBy checks that a process running as uid (with gid) on the host can reach dir:
// every directory on the way must let it pass. A container in a user namespace runs as an
// unprivileged host uid, and a root directory under a private temp dir (mode 0700) is out
// of its reach, which would otherwise fail later as a puzzling "permission denied".
func ReachableBy(dir string, uid, gid int) error {
	for d := dir; ; d = filepath.Dir(d) {
		var st unix.Stat_t
		if err := unix.Stat(d, &st); err != nil {
			return fmt.Errorf("check %s: %w", d, err)
		}
		perm := st.Mode & 0o7
		switch {
		case int(st.Uid) == uid:
			perm = (st.Mode >> 6) & 0o7
		case int(st.Gid) == gid:
			perm = (st.Mode >> 3) & 0o7
		}
		if perm&1 == 0 {
			return fmt.Errorf("uid %d cannot pass through %s (mode %04o): allow it with chmod o+x %s", uid, d, st.Mode&0o7777, d)
		}
		if d == "/" {
			return nil
		}
	}
}

// GiveTo prepares a container in a user namespace, whose root is the unprivileged host
// uid, to use its directories: uid must be able to pass through every read-only layer, and
// owns (and can reach) each directory in own, such as its writable layer and mount point.
//
// Equivalent to: `chown UID DIR` for each owned DIR, and ReachableBy for all of them.
func GiveTo(uid int, layers []string, own ...string) error {
	for _, layer := range layers {
		if err := ReachableBy(layer, uid, uid); err != nil {
			return err
		}
	}
	for _, dir := range own {
		if err := os.Chown(dir, uid, uid); err != nil {
			return fmt.Errorf("give %s to uid %d: %w", dir, uid, err)
		}
		if err := ReachableBy(dir, uid, uid); err != nil {
			return err
		}
	}
	return nil
}

// Release ends the parent's half: it sends config (JSON) to the child, which is waiting
// for it in Receive, and closes the pipe.
func (c *Child) Release(config any) error {
	defer c.pipe.Close()
	if err := json.NewEncoder(c.pipe).Encode(config); err != nil {
		return fmt.Errorf("send the container's description to the child: %w", err)
	}
	return nil
}

// Wait relays SIGINT, SIGTERM, SIGHUP and SIGQUIT to the child until it exits, and returns
// its exit status: the container's command's status, as the child's init passes it on.
func (c *Child) Wait() (int, error) {
	defer c.relay.Stop()
	return c.relay.Wait(c.cmd)
}

// Kill ends a child that will not be released (the parent's half failed) and reaps it.
func (c *Child) Kill() {
	c.pipe.Close()
	_ = c.cmd.Process.Kill()
	_, _ = c.cmd.Process.Wait()
	c.relay.Stop()
}

// FlagNames spells CLONE_NEW* flags out by name, for error messages.
func FlagNames(flags uintptr) string {
	names := ""
	for _, f := range []struct {
		flag uintptr
		name string
	}{
		{unix.CLONE_NEWUSER, "CLONE_NEWUSER"}, {unix.CLONE_NEWUTS, "CLONE_NEWUTS"},
		{unix.CLONE_NEWPID, "CLONE_NEWPID"}, {unix.CLONE_NEWNS, "CLONE_NEWNS"},
		{unix.CLONE_NEWIPC, "CLONE_NEWIPC"}, {unix.CLONE_NEWNET, "CLONE_NEWNET"},
		{unix.CLONE_NEWCGROUP, "CLONE_NEWCGROUP"},
	} {
		if flags&f.flag != 0 {
			if names != "" {
				names += "|"
			}
			names += f.name
		}
	}
	return names
}
