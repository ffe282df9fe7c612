package main_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"containerlabs/labs/labtest"
)

// TestSelfExe attacks the runtime's binary from inside a container, as CVE-2019-5736 attacked
// runc's: see labs/runtime's selfexe_linux.go for the hole and the fix.
func TestSelfExe(t *testing.T) {
	labtest.RequireRoot(t)

	t.Run("a container cannot overwrite the runtime through a #!/proc/self/exe script (CVE-2019-5736)", func(t *testing.T) {
		// The attack runs against a copy of the runtime: if it works, the copy is what is lost.
		original, err := os.ReadFile(binary(t).Path)
		require.NoError(t, err)
		runtimeCopy := filepath.Join(labtest.TempDir(t), "labs-runc")
		require.NoError(t, os.WriteFile(runtimeCopy, original, 0o755))
		var st syscall.Stat_t
		require.NoError(t, syscall.Stat(runtimeCopy, &st))
		// The probe waits for a process running that very file (device and inode), holds it
		// through /proc/PID/exe, and writes it once it is free; its verdict goes to
		// /tmp/result when it is done.
		attack := fmt.Sprintf("/probe exe-file %d:%d 20 > /tmp/verdict 2>&1; mv /tmp/verdict /tmp/result", st.Dev, st.Ino)
		r, b, id := newRunc(t), newBundle(t, "sh", "-c", attack), newID()
		r.bin = &labtest.Binary{Name: name, Path: runtimeCopy}
		// If the attack works, the copy can no longer delete the container: the clean-up
		// uses the binary under test.
		t.Cleanup(func() { r.bin = binary(t) })
		rootfs := filepath.Join(b.dir, "rootfs")
		labtest.InstallProbe(t, rootfs)
		// A script whose interpreter is a script whose interpreter is /proc/self/exe: the
		// runtime checks the command's own interpreter before it execs, the kernel follows
		// the chain.
		require.NoError(t, os.WriteFile(filepath.Join(rootfs, "bin", "evil"), []byte("#!/bin/evil2\n"), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(rootfs, "bin", "evil2"), []byte("#!/proc/self/exe\n"), 0o755))

		require.Equal(t, 0, r.detached("run", "--detach", "--bundle", b.write(t), id).Code)
		result := filepath.Join(rootfs, "tmp", "result")
		// Each exec runs the runtime's binary inside the container for a moment; the
		// attacker needs to see it once.
		for i := 0; i < 10 && !fileExists(result); i++ {
			r.run("exec", id, "/bin/evil")
			for j := 0; j < 50 && !fileExists(result); j++ {
				time.Sleep(20 * time.Millisecond)
			}
		}
		verdict, _ := os.ReadFile(result)
		now, err := os.ReadFile(runtimeCopy)
		require.NoError(t, err)
		assert.Equal(t, len(original), len(now), labtest.Hint("the runtime's binary was changed from inside the container: start the init from a read-only view of the binary (open_tree and mount_setattr), not from /proc/self/exe"))
		assert.True(t, string(now) == string(original), labtest.Hint("the runtime's binary was changed from inside the container"))
		assert.Contains(t, string(verdict), "closed: reopen", labtest.Hint("the attacker should find the runtime's process and be refused (it said %q)", strings.TrimSpace(string(verdict))))
		assert.Contains(t, string(verdict), "read-only file system", labtest.Hint("the binary the container can reach is on a read-only mount"))
	})
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
