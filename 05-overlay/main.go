// 05-overlay is lab 04's container on an image: read-only layers under a writable layer of
// its own, joined by overlayfs.
//
// Instead of a directory of its own, the container gets layers: directories that many
// containers share and none may change. The child mounts an overlay of them, with the
// container's upper directory on top, and pivots into that. Every write lands in the upper
// directory, which is kept after the container exits: diff lists what changed, rm removes it.
//
// Usage:
//
//	05-overlay run --layer DIR [--layer DIR...] [--name NAME] [--memory SIZE] [--cpus N]
//	               [--cpu-shares N] [--pids-limit N] [--io-weight N] [--stats]
//	               [--hostname NAME] [--userns] COMMAND [ARG...]
//	05-overlay diff NAME     what the container changed: A (added), C (changed), D (deleted)
//	05-overlay rm NAME       remove a stopped container and its writable layer
//	05-overlay ns PID        list a process's namespaces and which it shares with the host
//
// Layers are listed lowest first. State lives under $CONTAINERLABS_ROOT
// (default /var/lib/containerlabs).
package main

import (
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
	"containerlabs/labs/overlay"
	"containerlabs/labs/process"
	"containerlabs/labs/procfs"
	"containerlabs/labs/rootfs"
	"containerlabs/labs/state"
	"containerlabs/scripts/i18n"
)

const usage = `usage:
  05-overlay run --layer DIR [--layer DIR...] [--name NAME] [--memory SIZE] [--cpus N]
                 [--cpu-shares N] [--pids-limit N] [--io-weight N] [--stats]
                 [--hostname NAME] [--userns] COMMAND [ARG...]
  05-overlay diff NAME     what the container changed: A (added), C (changed), D (deleted)
  05-overlay rm NAME       remove a stopped container and its writable layer
  05-overlay ns PID        list a process's namespaces and which it shares with the host`

// errUsage marks a command line that makes no sense; the program exits with status 2.
var errUsage = errors.New(usage)

// container is what the child needs to know; the parent sends it down the pipe.
type container struct {
	Name     string
	Layers   []string // lowest first
	Upper    string
	Work     string
	Root     string // where the overlay is mounted
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
		fmt.Fprintln(os.Stderr, "05-overlay:", i18n.T(err.Error())) // the usage, say; errors from labs/ stay English
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
	case "diff":
		if len(args) != 2 {
			return 2, errUsage
		}
		return diff(args[1])
	case "rm":
		if len(args) != 2 {
			return 2, errUsage
		}
		if err := remove(args[1]); err != nil {
			return 1, err
		}
		return 0, nil
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
	var layers layerList
	flags.Var(&layers, "layer", "a read-only layer, lowest first (repeat)")
	name := flags.String("name", "", "the container's name (default: random)")
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
	if flags.NArg() < 1 || len(layers) == 0 {
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
	if *name == "" {
		*name = state.NewName()
	}
	return container{Name: *name, Layers: layers, Hostname: *hostname, UserNS: *userns, Command: flags.Args()}, l, nil
}

// layerList collects repeated --layer flags as absolute paths.
type layerList []string

func (l *layerList) String() string { return fmt.Sprint(*l) }

func (l *layerList) Set(dir string) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	if info, err := os.Stat(abs); err != nil || !info.IsDir() {
		return errors.New(i18n.Sprintf("layer %s is not a directory", dir))
	}
	*l = append(*l, abs)
	return nil
}

// run is the outside half: what needs the host's view, then wait.
func run(c container, l limits) (code int, err error) {
	// 0. NEW: a directory of its own under the state root: the upper and work directories of
	//    its writable layer, and the mount point of its root. It outlives the run.
	// lab:05 begin: open the state store (state.Open(state.RootFromEnv())), create the container's directory with its record (store.Create), mark it stopped when run returns, and set c.Upper, c.Work and c.Root from it
	store, err := state.Open(state.RootFromEnv())
	if err != nil {
		return process.ExitSetupFailed, err
	}
	dirs, err := store.Create(c.Name, record{Layers: c.Layers})
	if err != nil {
		return process.ExitSetupFailed, err
	}
	defer dirs.Stopped()
	c.Upper, c.Work, c.Root = dirs.Upper(), dirs.Work(), dirs.Merged()
	// lab:05 starter:
	// if c.Root == "" {
	// 	return process.ExitSetupFailed, errors.New("TODO(lab 05): the container needs its directories: c.Upper, c.Work and c.Root")
	// }
	// lab:05 end
	opts := namespace.Options{Args: c.Command, Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}
	if c.UserNS {
		// With --userns, root inside is uid 100000 outside: it must reach the layers, and
		// own its writable layer.
		idmap := namespace.DefaultIDMap
		if err := namespace.GiveTo(idmap.Outside, c.Layers, c.Upper, c.Work, c.Root); err != nil {
			return process.ExitSetupFailed, err
		}
		opts.UserNS = &idmap
	}

	// 1. A cgroup for this container, with its limits written before anyone is in it.
	//    Groups that containers killed with SIGKILL left behind are removed first.
	// lab:04 begin: remove stale groups (cgroup.RemoveStale), create this container's group with its limits (cgroup.New(c.Name, l.Limits)), and remove it (Remove) when run returns
	if _, err := cgroup.RemoveStale(); err != nil {
		return process.ExitSetupFailed, err
	}
	cg, err := cgroup.New(c.Name, l.Limits)
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

	// 3. Move the child into the cgroup while it waits: everything it starts from now
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

	// 6. Ask the cgroup what happened. The OOM killer leaves only a SIGKILL behind; the
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
		fmt.Fprintln(os.Stderr, "05-overlay:", i18n.Sprintf("the container ran out of memory: the OOM killer killed %d process(es) at the %s limit (peak %s)",
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

	// 2. NEW: the container's root is an overlay: the layers, read-only, under its upper
	//    directory. Mounted in the container's mount namespace, it vanishes with it.
	// lab:05 begin: mount the overlay of c.Layers under c.Upper (with c.Work) at c.Root (overlay.Mount)
	must(overlay.Mount(c.Layers, c.Upper, c.Work, c.Root))
	// lab:05 starter:
	// must(errors.New("TODO(lab 05): mount the container's root: an overlay of its layers under its upper directory"))
	// lab:05 end

	// 3. Step into the root (pivot_root needs a mount point, which the overlay is).
	// lab:03 begin: bind the root onto itself and change into it (namespace.EnterRoot)
	must(namespace.EnterRoot(c.Root))
	// lab:03 end

	// 4. A /proc for the new PID namespace, with lab 02's /dev and /sys. "." is the root.
	// lab:03 begin: mount /proc, /dev and /sys in the new root, "." (procfs.MountAll)
	_, err := procfs.MountAll(".")
	must(err)
	// lab:03 end

	// 5. Swap the roots and detach the old one: the host's files are gone, not just hidden.
	// lab:03 begin: make "." the root of the mount namespace and detach the old one (namespace.PivotRoot)
	must(namespace.PivotRoot())
	// lab:03 end

	// 6. A hostname of our own; the host's does not change.
	// lab:03 begin: set the container's hostname, c.Hostname (namespace.SetHostname)
	must(namespace.SetHostname(c.Hostname))
	// lab:03 end

	// 7. Run the command as our child, in a cgroup namespace of its own (made now,
	//    from the cgroup we are in), and be its init: forward signals, reap orphans.
	path, err := rootfs.LookPath("/", c.Command[0], "")
	if err != nil {
		fmt.Fprintln(os.Stderr, "05-overlay:", err)
		return process.ExitCodeFor(err)
	}
	cmd := &exec.Cmd{Path: path, Args: c.Command, Dir: "/", Env: process.Env("HOSTNAME=" + c.Hostname),
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}
	code, err := namespace.RunInit(cmd)
	must(err)
	return code
}

// record is what a container's state directory remembers of how it was made.
type record struct {
	Layers []string
}

// diff prints what a container changed, compared with its layers.
func diff(name string) (int, error) {
	store, err := state.Open(state.RootFromEnv())
	if err != nil {
		return 1, err
	}
	changes, err := store.Changes(name)
	if err != nil {
		return 1, err
	}
	for _, change := range changes {
		fmt.Println(change)
	}
	return 0, nil
}

// remove deletes a stopped container's state, its writable layer with it.
func remove(name string) error {
	store, err := state.Open(state.RootFromEnv())
	if err != nil {
		return err
	}
	return store.Remove(name)
}

// must ends the child when a step of its half fails: the container cannot be made, and the
// parent passes the status on.
func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "05-overlay:", i18n.T("inside the container:"), err)
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
