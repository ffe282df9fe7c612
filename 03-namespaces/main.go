// 03-namespaces turns the chrooted process into a container: new namespaces, pivot_root, and
// an init as PID 1.
//
// The program plays two parts. Started by you, it is the parent: run below. Re-executed by
// itself into new namespaces, it is the child: inside below. The two meet at a pipe: the
// child waits until the parent has done its half, then does its own and starts the command.
//
// Usage:
//
//	03-namespaces run [--hostname NAME] [--userns] DIR COMMAND [ARG...]
//	03-namespaces ns PID     list a process's namespaces and which it shares with the host
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

	"containerlabs/labs/mount"
	"containerlabs/labs/namespace"
	"containerlabs/labs/process"
	"containerlabs/labs/procfs"
	"containerlabs/labs/rootfs"
	"containerlabs/scripts/i18n"
)

const usage = `usage:
  03-namespaces run [--hostname NAME] [--userns] DIR COMMAND [ARG...]
  03-namespaces ns PID     list a process's namespaces and which it shares with the host`

// errUsage marks a command line that makes no sense; the program exits with status 2.
var errUsage = errors.New(usage)

// container is what the child needs to know; the parent sends it down the pipe.
type container struct {
	Root     string
	Hostname string
	UserNS   bool
	Command  []string
}

func main() {
	i18n.Use("") // Korean under LANG=ko_KR.UTF-8 (or CONTAINERLABS_LANG=ko), else English
	if namespace.IsChild() {
		os.Exit(inside())
	}
	code, err := dispatch(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "03-namespaces:", i18n.T(err.Error())) // the usage, say; errors from labs/ stay English
	}
	os.Exit(code)
}

func dispatch(args []string) (int, error) {
	if len(args) == 0 {
		return 2, errUsage
	}
	switch args[0] {
	case "run":
		c, err := parseRun(args[1:])
		if err != nil {
			return 2, err
		}
		return run(c)
	case "ns":
		if len(args) != 2 {
			return 2, errUsage
		}
		return namespaces(args[1])
	default:
		return 2, errUsage
	}
}

func parseRun(args []string) (container, error) {
	flags := flag.NewFlagSet("run", flag.ContinueOnError)
	flags.SetOutput(io.Discard)
	hostname := flags.String("hostname", "container", "the container's hostname")
	userns := flags.Bool("userns", false, "map root inside to an unprivileged user outside")
	if err := flags.Parse(args); err != nil || flags.NArg() < 2 {
		return container{}, errUsage
	}
	root, err := filepath.Abs(flags.Arg(0))
	if err != nil {
		return container{}, err
	}
	return container{Root: root, Hostname: *hostname, UserNS: *userns, Command: flags.Args()[1:]}, nil
}

// run is the outside half: what needs the host's view, then wait.
func run(c container) (int, error) {
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

	// 1. Re-execute this program as the child, in new UTS, PID, mount, IPC and network
	//    namespaces (and with --userns a user namespace, whose uid and gid maps we write).
	//    It starts blocked on the pipe.
	child, err := namespace.Start(opts)
	if err != nil {
		return process.ExitSetupFailed, err
	}

	// 2. Our half is done: send the description, and the child starts its half.
	if err := child.Release(c); err != nil {
		child.Kill()
		return process.ExitSetupFailed, err
	}

	// 3. Wait for the container's init and pass its status on. Ctrl-C goes to the container.
	return child.Wait()
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
	// lab:03 begin: bind DIR onto itself and change into it (namespace.EnterRoot)
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
		fmt.Fprintln(os.Stderr, "03-namespaces:", err)
		return process.ExitCodeFor(err)
	}
	cmd := &exec.Cmd{Path: path, Args: c.Command, Dir: "/", Env: process.Env("HOSTNAME=" + c.Hostname),
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}
	code, err := namespace.RunInit(cmd)
	must(err)
	return code
}

// must ends the child when a step of its half fails: the container cannot be made, and the
// parent passes the status on.
func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "03-namespaces:", i18n.T("inside the container:"), err)
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
