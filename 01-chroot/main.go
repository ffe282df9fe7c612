// 01-chroot gives a program a root directory of its own.
//
// A container starts as a directory: the files one program needs, and nothing else. This
// lab builds such a directory and runs a command with it as "/" through chroot(2). Read
// run below: it is the whole lesson, in three steps.
//
// Usage:
//
//	01-chroot rootfs DIR PROGRAM...        copy programs and the libraries they need into DIR
//	01-chroot rootfs --busybox DIR         fill DIR with a busybox userland
//	01-chroot rootfs --from-tar FILE DIR   unpack a tar (a `docker export`, - for stdin) into DIR
//	01-chroot ldd PROGRAM                  list what PROGRAM needs to start, as ldd does
//	01-chroot run DIR COMMAND [ARG...]     run COMMAND with DIR as its root directory
package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"

	"containerlabs/labs/process"
	"containerlabs/labs/rootfs"
	"containerlabs/scripts/i18n"
)

const usage = `usage:
  01-chroot rootfs DIR PROGRAM...        copy programs and their libraries into DIR
  01-chroot rootfs --busybox DIR         fill DIR with a busybox userland
  01-chroot rootfs --from-tar FILE DIR   unpack a tar (- for stdin) into DIR
  01-chroot ldd PROGRAM                  list what PROGRAM needs to start
  01-chroot run DIR COMMAND [ARG...]     run COMMAND with DIR as its root directory`

// errUsage marks a command line that makes no sense; the program exits with status 2.
var errUsage = errors.New(usage)

func main() {
	i18n.Use("") // Korean under LANG=ko_KR.UTF-8 (or CONTAINERLABS_LANG=ko), else English
	code, err := dispatch(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "01-chroot:", i18n.T(err.Error())) // the usage, say; errors from labs/ stay English
	}
	os.Exit(code)
}

func dispatch(args []string) (int, error) {
	if len(args) == 0 {
		return 2, errUsage
	}
	var err error
	switch args[0] {
	case "run":
		if len(args) < 3 {
			return 2, errUsage
		}
		return run(args[1], args[2:])
	case "rootfs":
		err = makeRootfs(args[1:])
	case "ldd":
		if len(args) != 2 {
			return 2, errUsage
		}
		err = ldd(args[1])
	default:
		return 2, errUsage
	}
	if errors.Is(err, errUsage) {
		return 2, err
	}
	if err != nil {
		return 1, err
	}
	return 0, nil
}

// run is the lab: a command, started with DIR as its root directory.
func run(dir string, command []string) (int, error) {
	// 1. Look the command up inside DIR, not on the host: after chroot, "/" means DIR. A
	//    missing dynamic loader is reported by name here, because the kernel would only
	//    say "no such file or directory" about a file that is plainly there.
	path, err := rootfs.LookPath(dir, command[0], "")
	if err != nil {
		return process.ExitCodeFor(err), err
	}

	// 2. Start it with DIR as its root (chroot) and "/" as its working directory. Nothing
	//    else changes: same processes, same network, same users as the host.
	cmd := &exec.Cmd{Path: path, Args: command} // argv[0] stays the name the user typed
	// lab:01 begin: make DIR the command's root directory (cmd.SysProcAttr's Chroot) and "/" its working directory (cmd.Dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: dir}
	cmd.Dir = "/"
	// lab:01 end
	cmd.Env = process.Env()
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr

	// 3. Wait for it and exit with its status, so `01-chroot run DIR false` fails as false does.
	code, err := process.Run(cmd)
	if err != nil {
		return process.ExitSetupFailed, err
	}
	return code, nil
}
