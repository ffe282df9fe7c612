// 02-proc gives the new root the kernel's pseudo file systems.
//
// Lab 01 showed that `ps` fails in a bare root: ps reads /proc, and the root had none. This
// lab mounts /proc (with a minimal /dev and a read-only /sys) inside the root before the
// command starts, and unmounts them when it ends. Read run below: it is lab 01's run plus
// one step. Then try `02-proc inspect PID` on the command while it runs.
//
// Usage:
//
//	02-proc run DIR COMMAND [ARG...]   run COMMAND with DIR as its root, /proc mounted inside
//	02-proc inspect PID                print what /proc tells about a process
package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"

	"containerlabs/labs/process"
	"containerlabs/labs/procfs"
	"containerlabs/labs/rootfs"
	"containerlabs/scripts/i18n"
)

const usage = `usage:
  02-proc run DIR COMMAND [ARG...]   run COMMAND with DIR as its root, /proc mounted inside
  02-proc inspect PID                print what /proc tells about a process`

// errUsage marks a command line that makes no sense; the program exits with status 2.
var errUsage = errors.New(usage)

func main() {
	i18n.Use("") // Korean under LANG=ko_KR.UTF-8 (or CONTAINERLABS_LANG=ko), else English
	code, err := dispatch(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "02-proc:", i18n.T(err.Error())) // the usage, say; errors from labs/ stay English
	}
	os.Exit(code)
}

func dispatch(args []string) (int, error) {
	if len(args) == 0 {
		return 2, errUsage
	}
	switch args[0] {
	case "run":
		if len(args) < 3 {
			return 2, errUsage
		}
		return run(args[1], args[2:])
	case "inspect":
		if len(args) != 2 {
			return 2, errUsage
		}
		return inspect(args[1])
	default:
		return 2, errUsage
	}
}

// run is the lab: lab 01's chroot, with /proc, /dev and /sys mounted inside DIR.
func run(dir string, command []string) (code int, err error) {
	// 1. Look the command up inside DIR, not on the host: after chroot, "/" means DIR.
	path, err := rootfs.LookPath(dir, command[0], "")
	if err != nil {
		return process.ExitCodeFor(err), err
	}

	// 2. NEW: mount /proc, /dev and /sys inside DIR, and unmount them however the command
	//    ends. These are mounts on the host: while the command runs, `findmnt` lists them.
	// lab:02 begin: mount /proc, /dev and /sys inside DIR (procfs.MountAll), and unmount them (Unmount) however run returns
	mounted, err := procfs.MountAll(dir)
	if err != nil {
		return process.ExitSetupFailed, err
	}
	defer func() {
		if unmountErr := mounted.Unmount(); unmountErr != nil && err == nil {
			err = fmt.Errorf("clean up: %w", unmountErr)
		}
	}()
	// lab:02 end

	// 3. Start it with DIR as its root (chroot) and "/" as its working directory.
	cmd := &exec.Cmd{Path: path, Args: command} // argv[0] stays the name the user typed
	// lab:01 begin: make DIR the command's root directory (cmd.SysProcAttr's Chroot) and "/" its working directory (cmd.Dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: dir}
	cmd.Dir = "/"
	// lab:01 end
	cmd.Env = process.Env()
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr

	// 4. Wait for it and exit with its status. Ctrl-C reaches the command, not us, so the
	//    deferred unmount always runs.
	code, err = process.Run(cmd)
	if err != nil {
		return process.ExitSetupFailed, err
	}
	return code, nil
}

// inspect prints what the kernel publishes about a process in /proc/PID.
func inspect(arg string) (int, error) {
	pid, err := strconv.Atoi(arg)
	if err != nil || pid <= 0 {
		return 2, errors.New(i18n.Sprintf("inspect: %q is not a process ID", arg))
	}
	p, err := procfs.Inspect(pid)
	if err != nil {
		return 1, err
	}
	fmt.Print(p.Describe())
	nss, err := procfs.DescribeNamespaces(pid)
	if err != nil {
		return 1, err
	}
	fmt.Print("\n", nss)
	return 0, nil
}
