// 04-cgroups is lab 03's container with limits: memory, CPU, processes and disk time.
//
// Namespaces decide what a container can see; a cgroup decides how much it can use. The
// parent creates the container's cgroup with its limits and moves the child into it while
// the child still waits on the pipe, so the command never runs a moment without limits.
// When the container ends, the parent reads what the cgroup recorded (did the OOM killer
// strike? how much CPU was used?) and removes it. run below is lab 03's run plus those steps.
//
// Usage:
//
//	04-cgroups run [--memory SIZE] [--cpus N] [--cpu-shares N] [--pids-limit N]
//	               [--io-weight N] [--stats] [--hostname NAME] [--userns] DIR COMMAND [ARG...]
//	04-cgroups ns PID     list a process's namespaces and which it shares with the host
package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"

	"containerlabs/labs/cgroup"
	"containerlabs/labs/mount"
	"containerlabs/labs/namespace"
	"containerlabs/labs/process"
	"containerlabs/labs/procfs"
	"containerlabs/labs/rootfs"
	"containerlabs/scripts/i18n"
)

const usage = `usage:
  04-cgroups run [--memory SIZE] [--cpus N] [--cpu-shares N] [--pids-limit N]
                 [--io-weight N] [--stats] [--hostname NAME] [--userns] DIR COMMAND [ARG...]
  04-cgroups ns PID     list a process's namespaces and which it shares with the host`

// errUsage marks a command line that makes no sense; the program exits with status 2.
var errUsage = errors.New(usage)

// container is what the child needs to know; the parent sends it down the pipe.
type container struct {
	Root     string
	Hostname string
	UserNS   bool
	Command  []string
}

// limits are what only the parent needs: the cgroup's settings, and whether to print stats.
type limits struct {
	cgroup.Limits
	stats bool
}

func main() {
	i18n.Use("") // Korean under LANG=ko_KR.UTF-8 (or CONTAINERLABS_LANG=ko), else English
	if namespace.IsChild() {
		os.Exit(inside())
	}
	code, err := dispatch(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "04-cgroups:", i18n.T(err.Error())) // the usage, say; errors from labs/ stay English
	}
	os.Exit(code)
}

func dispatch(args []string) (int, error) {
	if len(args) == 0 {
		return 2, errUsage
	}
	switch args[0] {
	case "run":
		c, l, err := parseRun(args[1:])
		if err != nil {
			return 2, err
		}
		return run(c, l)
	case "ns":
		if len(args) != 2 {
			return 2, errUsage
		}
		return namespaces(args[1])
	default:
		return 2, errUsage
	}
}

func parseRun(args []string) (container, limits, error) {
	var l limits
	flags := flag.NewFlagSet("run", flag.ContinueOnError)
	flags.SetOutput(io.Discard)
	hostname := flags.String("hostname", "container", "the container's hostname")
	userns := flags.Bool("userns", false, "map root inside to an unprivileged user outside")
	memory := flags.String("memory", "", "memory limit, swap included (64m, 1g)")
	cpus := flags.String("cpus", "", "CPU quota in CPUs (0.5 is half a CPU)")
	flags.Uint64Var(&l.CPUShares, "cpu-shares", 0, "relative CPU weight (default 1024)")
	flags.Int64Var(&l.PidsMax, "pids-limit", 0, "most processes and threads")
	ioWeight := flags.Uint("io-weight", 0, "relative disk time weight, 10 to 1000")
	flags.BoolVar(&l.stats, "stats", false, "print what the container used when it ends")
	if err := flags.Parse(args); err != nil {
		return container{}, l, fmt.Errorf("%v\n%s", err, i18n.T(usage))
	}
	if flags.NArg() < 2 {
		return container{}, l, errUsage
	}
	var err error
	if *memory != "" {
		if l.MemoryBytes, err = cgroup.ParseSize(*memory); err != nil {
			return container{}, l, fmt.Errorf("--memory: %w", err)
		}
		if l.MemoryBytes < cgroup.MinMemory {
			return container{}, l, errors.New(i18n.Sprintf("--memory %s is too small: the container's init alone needs %s", *memory, cgroup.FormatSize(cgroup.MinMemory)))
		}
	}
	if *cpus != "" {
		if l.CPUs, err = cgroup.ParseCPUs(*cpus); err != nil {
			return container{}, l, fmt.Errorf("--cpus: %w", err)
		}
	}
	if l.PidsMax != 0 && l.PidsMax < cgroup.MinPids {
		return container{}, l, errors.New(i18n.Sprintf("--pids-limit %d is too small: the container's init (a Go program) needs several threads; use at least %d", l.PidsMax, cgroup.MinPids))
	}
	l.IOWeight = uint16(min(*ioWeight, 65535))
	if err := l.Validate(); err != nil {
		return container{}, l, err
	}
	root, err := filepath.Abs(flags.Arg(0))
	if err != nil {
		return container{}, l, err
	}
	return container{Root: root, Hostname: *hostname, UserNS: *userns, Command: flags.Args()[1:]}, l, nil
}

// run is the outside half: what needs the host's view, then wait.
func run(c container, l limits) (code int, err error) {
	// 0. Check the command exists inside DIR before creating anything.
	if _, err := rootfs.LookPath(c.Root, c.Command[0], ""); err != nil {
		return process.ExitCodeFor(err), err
	}
	opts := namespace.Options{Args: c.Command, Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}
	if c.UserNS {
		// With --userns, root inside is uid 100000 outside, and that uid must reach DIR.
		idmap := namespace.DefaultIDMap
		if err := namespace.ReachableBy(c.Root, idmap.Outside, idmap.Outside); err != nil {
			return process.ExitSetupFailed, err
		}
		opts.UserNS = &idmap
	}

	// 1. NEW: a cgroup for this container, with its limits written before anyone is in it.
	//    Groups that containers killed with SIGKILL left behind are removed first.
	// lab:04 begin: remove stale groups (cgroup.RemoveStale), create this container's group with its limits (cgroup.New(containerID(), l.Limits)), and remove it (Remove) when run returns
	if _, err := cgroup.RemoveStale(); err != nil {
		return process.ExitSetupFailed, err
	}
	cg, err := cgroup.New(containerID(), l.Limits)
	if err != nil {
		return process.ExitSetupFailed, err
	}
	defer func() {
		if removeErr := cg.Remove(); removeErr != nil && err == nil {
			err = fmt.Errorf("clean up: %w", removeErr)
		}
	}()
	// lab:04 end

	// 2. Re-execute this program as the child, in new UTS, PID, mount, IPC and network
	//    namespaces (and with --userns a user namespace, whose uid and gid maps we write).
	//    It starts blocked on the pipe.
	child, err := namespace.Start(opts)
	if err != nil {
		return process.ExitSetupFailed, err
	}

	// 3. NEW: move the child into the cgroup while it waits: everything it starts from now
	//    on is born inside, and counted.
	// lab:04 begin: move the waiting child into the group (cg.Add(child.PID)); kill it if that fails
	if err := cg.Add(child.PID); err != nil {
		child.Kill()
		return process.ExitSetupFailed, err
	}
	// lab:04 end

	// 4. Our half is done: send the description, and the child starts its half.
	if err := child.Release(c); err != nil {
		child.Kill()
		return process.ExitSetupFailed, err
	}

	// 5. Wait for the container's init and pass its status on. Ctrl-C goes to the container.
	code, err = child.Wait()
	if err != nil {
		return process.ExitSetupFailed, err
	}

	// 6. NEW: ask the cgroup what happened. The OOM killer leaves only a SIGKILL behind; the
	//    cgroup's counters say who sent it.
	// lab:04 begin: read the group's stats (cg.Stats); print them with --stats (cg.Report); if the OOM killer struck, say so, with the limit, and exit 137
	stats, err := cg.Stats()
	if err != nil {
		return code, err
	}
	if l.stats {
		fmt.Fprint(os.Stderr, cg.Report(stats))
	}
	if stats.OOMKills > 0 {
		fmt.Fprintln(os.Stderr, "04-cgroups:", i18n.Sprintf("the container ran out of memory: the OOM killer killed %d process(es) at the %s limit (peak %s)",
			stats.OOMKills, cgroup.FormatSize(l.MemoryBytes), cgroup.FormatSize(int64(stats.MemoryPeakBytes))))
		return 137, nil
	}
	// lab:04 end
	return code, nil
}

// inside is the child's half: what needs the container's view, then the command under an init.
func inside() int {
	var c container
	must(namespace.Receive(&c)) // blocks until the parent's half is done

	// 1. Stop mount events from travelling between this namespace and the host's: on a
	//    systemd host "/" is shared, and without this our mounts would appear on the host.
	// lab:03 begin: make every mount in this new mount namespace private (mount.MakePrivate)
	must(mount.MakePrivate("/"))
	// lab:03 end

	// 2. Make DIR a mount point of its own and step into it (pivot_root needs a mount point).
	// lab:03 begin: bind the root onto itself and change into it (namespace.EnterRoot)
	must(namespace.EnterRoot(c.Root))
	// lab:03 end

	// 3. A /proc for the new PID namespace, with lab 02's /dev and /sys. "." is DIR.
	// lab:03 begin: mount /proc, /dev and /sys in the new root, "." (procfs.MountAll)
	_, err := procfs.MountAll(".")
	must(err)
	// lab:03 end

	// 4. Swap the roots and detach the old one: the host's files are gone, not just hidden.
	// lab:03 begin: make "." the root of the mount namespace and detach the old one (namespace.PivotRoot)
	must(namespace.PivotRoot())
	// lab:03 end

	// 5. A hostname of our own; the host's does not change.
	// lab:03 begin: set the container's hostname, c.Hostname (namespace.SetHostname)
	must(namespace.SetHostname(c.Hostname))
	// lab:03 end

	// 6. Run the command as our child, in a cgroup namespace of its own (made now,
	//    from the cgroup we are in), and be its init: forward signals, reap orphans.
	path, err := rootfs.LookPath("/", c.Command[0], "")
	if err != nil {
		fmt.Fprintln(os.Stderr, "04-cgroups:", err)
		return process.ExitCodeFor(err)
	}
	cmd := &exec.Cmd{Path: path, Args: c.Command, Dir: "/", Env: process.Env("HOSTNAME=" + c.Hostname),
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}
	code, err := namespace.RunInit(cmd)
	must(err)
	return code
}

// containerID names the container's cgroup: random, so concurrent containers never collide.
func containerID() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "c" + hex.EncodeToString(b)
}

// must ends the child when a step of its half fails: the container cannot be made, and the
// parent passes the status on.
func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "04-cgroups:", i18n.T("inside the container:"), err)
		os.Exit(process.ExitSetupFailed)
	}
}

// namespaces prints the namespaces of a process and which of them it shares with the host.
func namespaces(arg string) (int, error) {
	pid, err := strconv.Atoi(arg)
	if err != nil || pid <= 0 {
		return 2, errors.New(i18n.Sprintf("ns: %q is not a process ID", arg))
	}
	table, err := procfs.DescribeNamespaces(pid)
	if err != nil {
		return 1, err
	}
	fmt.Print(table)
	return 0, nil
}
