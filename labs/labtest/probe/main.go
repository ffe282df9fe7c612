//go:build linux

// Command probe is copied into containers by the graded checks. It performs the
// experiments the walkthroughs describe (use memory, fork, burn CPU) and the attacks of the
// escape gallery, and reports what happened in plain lines, so that a check does not
// depend on how busybox formats its output.
//
// It is built statically (CGO_ENABLED=0) so it runs in a root with no libraries at all.
//
//	probe hog MIB         allocate and touch MIB MiB of memory, reporting every 8 MiB
//	probe fork N          fork up to N sleeping children; report how many, and why it stopped
//	probe spin SECONDS    burn CPU for SECONDS of wall-clock time
//	probe sleep SECONDS [TAG] [--as UID]   sleep (a decoy or a target); TAG only marks the command line
//
// The attacks of the escape gallery (gallery.go) each end with one verdict line, "open:
// EVIDENCE" when the attack worked and "closed: WHAT STOPPED IT" when it did not. Every
// target is a decoy that the check made for the purpose: a marker file, a loop device, a
// key, a process, a copy of the lab's binary. Nothing else is written, and what is opened
// for writing on the host's kernel (a sysctl, the sysrq trigger) is closed unwritten.
package main

import (
	"fmt"
	"os"
	goruntime "runtime"
	"runtime/debug"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"containerlabs/labs/labtest"
)

const usage = `usage: probe hog MIB | fork N | spin SECONDS | sleep SECONDS [TAG] [--as UID] | ATTACK ARGS...
attacks: ` + attackNames

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	name, args := os.Args[1], os.Args[2:]
	var err error
	switch name {
	case "hog":
		err = withNumber(args, hog)
	case "fork":
		err = withNumber(args, fork)
	case "spin":
		err = withNumber(args, spin)
	case "sleep":
		err = sleep(args)
	default:
		attack, ok := attacks[name]
		if !ok {
			err = fmt.Errorf("unknown probe %q\n%s", name, usage)
			break
		}
		if len(args) != attack.args {
			err = fmt.Errorf("%s takes %d argument(s)\n%s", name, attack.args, usage)
			break
		}
		err = attack.run(args)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "probe:", err)
		os.Exit(2)
	}
}

func withNumber(args []string, f func(int) error) error {
	if len(args) != 1 {
		return fmt.Errorf("want one number\n%s", usage)
	}
	n, err := strconv.Atoi(args[0])
	if err != nil || n < 0 {
		return fmt.Errorf("%q is not a number", args[0])
	}
	return f(n)
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
	fmt.Printf("open: survived with %d MiB, no limit stopped it\n", len(chunks))
	return nil
}

// fork starts sleeping children until n exist or the kernel refuses; a fork bomb without
// the bomb. It holds them for a second (so a check can look at the host meanwhile), then
// kills and reaps every one: without a PID namespace (labs 01 and 02) nobody else would.
func fork(n int) error {
	// No garbage collector and one P: the runtime must not need a new thread once the
	// group is full, or it would die of that instead of reporting the refused fork.
	debug.SetGCPercent(-1)
	goruntime.GOMAXPROCS(1)
	var children []int
	defer func() {
		for _, pid := range children {
			_ = unix.Kill(pid, unix.SIGKILL)
		}
		for _, pid := range children {
			_, _ = unix.Wait4(pid, nil, 0, nil)
		}
	}()
	for len(children) < n {
		pid, errno := labtest.ForkSleeper()
		if errno != 0 {
			fmt.Printf("closed: forked %d children, then refused: %v\n", len(children), errno)
			time.Sleep(time.Second) // hold the limit while the checks look at the host
			return nil
		}
		children = append(children, pid)
	}
	fmt.Printf("open: forked %d children, none refused\n", n)
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

// sleep waits for SECONDS or a signal. With --as UID it first becomes that user, so it can
// be the target of the ptrace attack: a process of another user.
func sleep(args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("sleep needs SECONDS\n%s", usage)
	}
	seconds, err := strconv.Atoi(args[0])
	if err != nil {
		return fmt.Errorf("%q is not a number", args[0])
	}
	for i := 1; i < len(args); i++ {
		if args[i] == "--as" && i+1 < len(args) {
			uid, err := strconv.Atoi(args[i+1])
			if err != nil {
				return fmt.Errorf("--as %q is not a uid", args[i+1])
			}
			if err := syscall.Setresgid(uid, uid, uid); err != nil {
				return fmt.Errorf("become gid %d: %w", uid, err)
			}
			if err := syscall.Setresuid(uid, uid, uid); err != nil {
				return fmt.Errorf("become uid %d: %w", uid, err)
			}
			i++
		}
	}
	// No handler: a SIGTERM ends the process as the kernel's default action, which its
	// parent (a check) can tell from the wait status.
	time.Sleep(time.Duration(seconds) * time.Second)
	return nil
}
