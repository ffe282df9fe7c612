//go:build linux

// Command probe is copied into containers by the graded checks. It performs the
// experiments the walkthroughs describe (escape a chroot, use memory, fork, burn CPU) and
// reports what happened in plain lines, so that a check does not depend on how busybox
// formats its output.
//
// It is built statically (CGO_ENABLED=0) so it runs in a root with no libraries at all.
//
//	probe escape FILE   leave the chroot, then print FILE from the real root
//	probe hog MIB       allocate and touch MIB MiB of memory, reporting every 8 MiB
//	probe fork N        fork up to N sleeping children; report how many, and why it stopped
//	probe spin SECONDS  burn CPU for SECONDS of wall-clock time
package main

import (
	"fmt"
	"os"
	"strconv"
	"time"

	"containerlabs/labs/labtest"
	"containerlabs/labs/rootfs"
)

const usage = `usage: probe escape FILE | hog MIB | fork N | spin SECONDS`

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	var err error
	switch arg := os.Args[2]; os.Args[1] {
	case "escape":
		err = escape(arg)
	case "hog":
		err = withNumber(arg, hog)
	case "fork":
		err = withNumber(arg, fork)
	case "spin":
		err = withNumber(arg, spin)
	default:
		err = fmt.Errorf("unknown probe %q\n%s", os.Args[1], usage)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "probe:", err)
		os.Exit(1)
	}
}

func withNumber(arg string, f func(int) error) error {
	n, err := strconv.Atoi(arg)
	if err != nil || n < 0 {
		return fmt.Errorf("%q is not a number", arg)
	}
	return f(n)
}

// escape leaves a chroot and prints a file of the real root: if the file a test planted
// on the host comes out, the process was not contained.
func escape(file string) error {
	if err := rootfs.EscapeChroot(); err != nil {
		return err
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("the chroot trick reached the root of this mount namespace, but %s is not there: %w", file, err)
	}
	fmt.Print(string(data))
	return nil
}

// hog allocates memory and writes to every page, so it is really charged to the cgroup
// (untouched pages cost nothing). Beyond a memory limit, the OOM killer ends it.
func hog(mib int) error {
	var chunks [][]byte
	for i := 1; i <= mib; i++ {
		chunk := make([]byte, 1<<20)
		for j := 0; j < len(chunk); j += 4096 {
			chunk[j] = 1
		}
		chunks = append(chunks, chunk)
		if i%8 == 0 {
			fmt.Printf("allocated %d MiB\n", i)
		}
	}
	fmt.Printf("survived with %d MiB\n", len(chunks))
	return nil
}

// fork starts sleeping children until n exist or the kernel refuses; a fork bomb without
// the bomb. The children end when the container's init does.
func fork(n int) error {
	for i := 0; i < n; i++ {
		if errno := labtest.ForkSleeper(); errno != 0 {
			fmt.Printf("forked %d children, then refused: %v\n", i, errno)
			time.Sleep(time.Second) // hold the limit while the checks look at the host
			return nil
		}
	}
	fmt.Printf("forked %d children, none refused\n", n)
	return nil
}

// spin keeps one CPU busy for the given wall-clock time; a CPU quota stretches it out.
func spin(seconds int) error {
	fmt.Println("spinning")
	end := time.Now().Add(time.Duration(seconds) * time.Second)
	x := 0
	for time.Now().Before(end) {
		for i := 0; i < 1000; i++ {
			x += i
		}
	}
	fmt.Println("done spinning", x%2)
	return nil
}
