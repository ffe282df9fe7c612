package main_test

import (
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"containerlabs/labs/labtest"
)

// TestOCIConformance checks what the OCI runtime-tools validation suite and Docker's daemon
// found missing: hooks' status and failures, rlimits the Go init could not live under,
// start returning once the command runs, zero-valued resources, namespaces joined by path,
// the root's propagation. scripts/oci-validation.sh runs the whole suite.
func TestOCIConformance(t *testing.T) {
	labtest.RequireRoot(t)

	t.Run("rlimits reach the command, even an address-space limit the Go init could not live under", func(t *testing.T) {
		r, b := newRunc(t), newBundle(t, "cat", "/proc/self/limits")
		b.spec.Process.Rlimits = []specs.POSIXRlimit{
			{Type: "RLIMIT_AS", Soft: 1 << 30, Hard: 2 << 30},
			{Type: "RLIMIT_NOFILE", Soft: 100, Hard: 200},
		}
		res := r.run("run", "--bundle", b.write(t), newID())
		require.Equal(t, 0, res.Code, labtest.Hint("set the limits in the init just before execve: earlier, 1 GiB of address space kills its Go runtime").With(res))
		assert.Regexp(t, `(?m)^Max address space\s+1073741824\s+2147483648\s+bytes`, res.Stdout)
		assert.Regexp(t, `(?m)^Max open files\s+100\s+200\s+files`, res.Stdout,
			labtest.Hint("setting RLIMIT_NOFILE in the init stops Go's execve from restoring the soft limit it found at start").With(res))
	})

	t.Run("start returns once the command runs", func(t *testing.T) {
		r, b, id := newRunc(t), newBundle(t, "sleep", "60"), newID()
		require.Equal(t, 0, r.detached("create", "--bundle", b.write(t), id).Code)
		pid := r.state(id).Pid
		require.Equal(t, 0, r.run("start", id).Code)
		exe, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/exe")
		require.NoError(t, err)
		assert.NotContains(t, exe, "labs-runc", labtest.Hint(
			"start must wait for execve (the init keeps the exec fifo open, close-on-exec): a kill right after start must reach the command, not the init"))
	})

	t.Run("Docker's zero-valued resources mean unset", func(t *testing.T) {
		r, b, id := newRunc(t), newBundle(t, "sleep", "60"), newID()
		zero16, zeroU64, zero64, dflt := uint16(0), uint64(0), int64(0), uint64(math.MaxUint64)
		b.spec.Linux.Resources.BlockIO = &specs.LinuxBlockIO{Weight: &zero16}
		b.spec.Linux.Resources.CPU = &specs.LinuxCPU{Shares: &zeroU64, Quota: &zero64, Period: &zeroU64}
		b.spec.Linux.Resources.Memory = &specs.LinuxMemory{Limit: &zero64, Reservation: &zero64, Swappiness: &dflt}
		res := r.detached("create", "--bundle", b.write(t), id)
		require.Equal(t, 0, res.Code, labtest.Hint("blockIO.weight 0 and cpu.shares 0 mean 'not set', as runc reads them: write nothing").With(res))
		for _, dir := range b.cgroupDirs() {
			if data, err := os.ReadFile(filepath.Join(dir, "cpu.shares")); err == nil {
				assert.Equal(t, "1024", strings.TrimSpace(string(data)), labtest.Hint("cpu.shares 0 would become the lowest weight, 2"))
			}
		}
	})

	t.Run("hooks of create see created; a failing poststop hook does not stop the next", func(t *testing.T) {
		r, b := newRunc(t), newBundle(t, "true")
		out := labtest.TempDir(t)
		sh := func(script string) specs.Hook { return specs.Hook{Path: "/bin/sh", Args: []string{"sh", "-c", script}} }
		b.spec.Hooks = &specs.Hooks{
			Prestart: []specs.Hook{sh("cat > " + filepath.Join(out, "prestart"))},
			Poststop: []specs.Hook{sh("exit 1"), sh("touch " + filepath.Join(out, "poststop"))},
		}
		res := r.run("run", "--bundle", b.write(t), newID())
		require.Equal(t, 0, res.Code, res.String())
		data, err := os.ReadFile(filepath.Join(out, "prestart"))
		require.NoError(t, err)
		var st specs.State
		require.NoError(t, json.Unmarshal(data, &st))
		assert.Equal(t, specs.StateCreated, st.Status, labtest.Hint("the hooks of create see 'created', as runtime-tools checks"))
		assert.FileExists(t, filepath.Join(out, "poststop"), labtest.Hint("a failing poststop hook is logged; the others still run"))
	})

	t.Run("namespaces joined by path: the type is checked, a mount namespace can be joined", func(t *testing.T) {
		holder := exec.Command("unshare", "--mount", "--propagation", "private", "sleep", "60")
		require.NoError(t, holder.Start())
		t.Cleanup(func() { _ = holder.Process.Kill(); _ = holder.Wait() })
		nsPath := "/proc/" + strconv.Itoa(holder.Process.Pid) + "/ns/mnt"
		require.True(t, waitFor(func() bool {
			theirs, _ := os.Readlink(nsPath)
			ours, _ := os.Readlink("/proc/self/ns/mnt")
			return theirs != "" && theirs != ours
		}), "unshare did not make a mount namespace")

		r, b, id := newRunc(t), newBundle(t, "sleep", "60"), newID()
		setNamespacePath(b.spec, specs.MountNamespace, nsPath)
		res := r.detached("create", "--bundle", b.write(t), id)
		require.Equal(t, 0, res.Code, labtest.Hint("join the mount namespace by path, then build the root inside it").With(res))
		theirs, _ := os.Readlink(nsPath)
		container, _ := os.Readlink("/proc/" + strconv.Itoa(r.state(id).Pid) + "/ns/mnt")
		assert.Equal(t, theirs, container, labtest.Hint("the container's init is in the namespace the path names"))

		r, b = newRunc(t), newBundle(t, "true")
		setNamespacePath(b.spec, specs.NetworkNamespace, "/proc/self/ns/ipc")
		res = r.run("run", "--bundle", b.write(t), newID())
		assert.NotEqual(t, 0, res.Code)
		assert.Contains(t, res.Stderr, "is a ipc namespace", labtest.Hint("setns(2) joins whatever the file is: check the type first").With(res))
	})

	t.Run("rootfsPropagation shared makes the container's root shared", func(t *testing.T) {
		r, b := newRunc(t), newBundle(t, "cat", "/proc/self/mountinfo")
		b.spec.Linux.RootfsPropagation = "shared"
		res := r.run("run", "--bundle", b.write(t), newID())
		require.Equal(t, 0, res.Code, res.String())
		assert.Regexp(t, regexp.MustCompile(`(?m)^\d+ \d+ \S+ \S+ / \S+ shared:\d+`), res.Stdout,
			labtest.Hint("after pivot_root, give the new root the propagation asked for (a peer group of its own)").With(res))
	})
}

// setNamespacePath makes the spec's namespace of type typ the one at path.
func setNamespacePath(spec *specs.Spec, typ specs.LinuxNamespaceType, path string) {
	for i, ns := range spec.Linux.Namespaces {
		if ns.Type == typ {
			spec.Linux.Namespaces[i].Path = path
			return
		}
	}
	spec.Linux.Namespaces = append(spec.Linux.Namespaces, specs.LinuxNamespace{Type: typ, Path: path})
}
