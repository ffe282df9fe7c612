// Command probe is copied into containers by the graded checks. It reports what it sees
// from inside (its PID, hostname, namespaces, limits) and performs the experiments the
// walkthroughs describe (escape a chroot, use memory, fork), so that a check does not
// depend on how busybox formats its output.
//
// It is built statically (CGO_ENABLED=0) so it runs in a root with no libraries at all.
//
//	probe escape FILE   leave the chroot, then print FILE from the real root
package main

import (
	"fmt"
	"os"

	"containerlabs/labs/rootfs"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: probe escape FILE")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "escape":
		err = escape(os.Args[2:])
	default:
		err = fmt.Errorf("unknown probe %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "probe:", err)
		os.Exit(1)
	}
}

// escape leaves a chroot and prints a file of the real root: if the file a test planted
// on the host comes out, the process was not contained.
func escape(args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("usage: probe escape FILE")
	}
	if err := rootfs.EscapeChroot(); err != nil {
		return err
	}
	data, err := os.ReadFile(args[0])
	if err != nil {
		return fmt.Errorf("the chroot trick reached the root of this mount namespace, but %s is not there: %w", args[0], err)
	}
	fmt.Print(string(data))
	return nil
}
