package main_test

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/require"

	"containerlabs/labs/labtest"
	"containerlabs/labs/rootfs"
	"containerlabs/labs/runtime"
)

// name is the binary these checks grade.
const name = "labs-runc"

// binary returns labs-runc: $LAB_BIN/labs-runc when LAB_BIN is set, else the reference,
// built with cgo into bin/ (labtest knows it needs cgo).
func binary(t *testing.T) *labtest.Binary {
	t.Helper()
	return labtest.Lab(t, name)
}

// runc is one test's view of the runtime: the binary and a state root of the test's own.
type runc struct {
	t    *testing.T
	bin  *labtest.Binary
	root string
	// env is added to the environment of every command the test runs.
	env []string
}

func newRunc(t *testing.T) *runc {
	r := &runc{t: t, bin: binary(t), root: labtest.TempDir(t)}
	t.Cleanup(func() {
		// Whatever a failed check left running is removed, and must leave nothing.
		entries, _ := os.ReadDir(r.root)
		for _, e := range entries {
			if !strings.HasPrefix(e.Name(), ".") {
				r.run("delete", "--force", e.Name())
			}
		}
	})
	return r
}

// run runs labs-runc with the test's root and args.
func (r *runc) run(args ...string) labtest.Result {
	r.t.Helper()
	return r.bin.RunWith(r.t, labtest.Options{Env: r.env}, append([]string{"--root", r.root}, args...)...)
}

// detached runs a command that leaves a process behind (`create`, `exec --detach`). That
// process inherits the command's stdout and stderr and keeps them open while it lives, so
// they are files here, not the pipes labtest.Run reads until they close (containerd's shim,
// too, hands runc files).
func (r *runc) detached(args ...string) labtest.Result {
	r.t.Helper()
	dir := labtest.TempDir(r.t)
	stdout, err := os.Create(filepath.Join(dir, "stdout"))
	require.NoError(r.t, err)
	defer stdout.Close()
	stderr, err := os.Create(filepath.Join(dir, "stderr"))
	require.NoError(r.t, err)
	defer stderr.Close()
	cmd := exec.Command(r.bin.Path, append([]string{"--root", r.root}, args...)...)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.Env = append(os.Environ(), r.env...)
	err = cmd.Run()
	res := labtest.Result{Code: cmd.ProcessState.ExitCode()}
	if cmd.ProcessState == nil {
		res.Code, res.Err = -1, err
	}
	out, _ := os.ReadFile(stdout.Name())
	errOut, _ := os.ReadFile(stderr.Name())
	res.Stdout, res.Stderr = string(out), string(errOut)
	return res
}

// state returns the parsed `state` of id.
func (r *runc) state(id string) runtime.State {
	r.t.Helper()
	res := r.run("state", id)
	require.Equal(r.t, 0, res.Code, labtest.Hint("`labs-runc state %s` should print the OCI state", id).With(res))
	var st runtime.State
	require.NoError(r.t, json.Unmarshal([]byte(res.Stdout), &st), labtest.Hint("state prints JSON").With(res))
	return st
}

// newID returns a container ID of the test's own.
func newID() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return "labs-runc-test-" + hex.EncodeToString(b)
}

// bundle is a container's bundle: a busybox root and a config with Docker's defaults,
// which the test adjusts before write.
type bundle struct {
	dir  string
	spec *specs.Spec
}

func newBundle(t *testing.T, args ...string) *bundle {
	dir := labtest.TempDir(t)
	root := filepath.Join(dir, "rootfs")
	require.NoError(t, os.Mkdir(root, 0o755))
	if err := rootfs.Busybox(root); err != nil {
		t.Fatalf("make busybox rootfs: %v\n%s", err, labtest.Hint("install busybox-static (scripts/setup.sh does)"))
	}
	spec := runtime.DockerSpec(args)
	spec.Hostname = "labs-runc-test"
	// A cgroup parent of the test's own, which the checks look for afterwards.
	spec.Linux.CgroupsPath = "/containerlabs-test-runc/" + filepath.Base(dir)
	return &bundle{dir: dir, spec: spec}
}

// write writes config.json.
func (b *bundle) write(t *testing.T) string {
	data, err := json.MarshalIndent(b.spec, "", "  ")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(b.dir, "config.json"), data, 0o644))
	return b.dir
}

// cgroupDirs lists the directories of the bundle's cgroup that exist now, in any hierarchy.
func (b *bundle) cgroupDirs() []string {
	matches, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", "*", b.spec.Linux.CgroupsPath))
	more, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", b.spec.Linux.CgroupsPath))
	return append(matches, more...)
}

// waitFor polls cond for up to 10 seconds.
func waitFor(cond func() bool) bool {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return cond()
}

// procStatus returns the lines of /proc/PID/status that start with the given keys.
func procStatus(t *testing.T, pid int, keys ...string) map[string]string {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	require.NoError(t, err)
	out := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		k, v, ok := strings.Cut(line, ":")
		for _, want := range keys {
			if ok && k == want {
				out[k] = strings.TrimSpace(v)
			}
		}
	}
	return out
}
