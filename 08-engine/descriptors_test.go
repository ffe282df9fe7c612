package main_test

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"containerlabs/labs/labtest"
)

// TestLab08SecurityDescriptors checks the class of CVE-2024-21626: no descriptor of the
// host may be open in the container's init when it enters the working directory, because
// /proc/self/fd/N is a path to wherever descriptor N points, and -w can name it. It runs
// with the other security checks (-run TestLab08Security).
func TestLab08SecurityDescriptors(t *testing.T) {
	labtest.RequireRoot(t)

	t.Run("no working directory through /proc/self/fd reaches the host", func(t *testing.T) {
		bin := setup(t)
		// The host's /proc lists this test's PID; the container's PID namespace does not.
		hostPID := strconv.Itoa(os.Getpid())
		for n := 3; n <= 20; n++ {
			dir := fmt.Sprintf("/proc/self/fd/%d", n)
			res := bin.Run(t, "run", "--rm", "-w", dir, base, "sh", "-c", "pwd -P; ls -a")
			assert.NotContains(t, res.Stdout, "\n"+hostPID+"\n", labtest.Hint("-w %s listed the host's /proc: a descriptor of the host was open when the init entered it", dir).With(res))
			if res.Code != 0 {
				assert.Contains(t, res.Stderr, "working directory "+dir, labtest.Hint("a working directory that cannot be entered fails with an error that names it").With(res))
				assert.NotContains(t, res.Stderr, "veth", labtest.Hint("the error is the working directory's, found before the network is plugged in").With(res))
				continue
			}
			assert.True(t, strings.HasPrefix(res.Stdout, "/"), labtest.Hint("-w %s: the command runs in a directory inside the container (pwd prints an absolute path)", dir).With(res))
		}
	})
}
