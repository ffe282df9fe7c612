package runtime_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"containerlabs/labs/labtest"
	"containerlabs/labs/rootfs"
	"containerlabs/labs/runtime"
)

// TestMain lets the test binary be its own runtime: the processes the runtime starts are
// re-executions of /proc/self/exe, and IsInit tells them apart, as in any program that uses
// the package.
func TestMain(m *testing.M) {
	if runtime.IsInit() {
		code, err := runtime.Init()
		if err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
		}
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// bundle writes a busybox bundle running args with Docker's default hardening.
func bundle(t *testing.T, args ...string) string {
	dir := labtest.TempDir(t)
	root := filepath.Join(dir, "rootfs")
	require.NoError(t, os.Mkdir(root, 0o755))
	require.NoError(t, rootfs.Busybox(root), labtest.Hint("install busybox-static"))
	spec := runtime.DockerSpec(args)
	spec.Linux.CgroupsPath = "/containerlabs-test-runtime/" + filepath.Base(dir)
	data, err := json.Marshal(spec)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "config.json"), data, 0o644))
	return dir
}

func TestRunAndExecFromTheLibrary(t *testing.T) {
	labtest.RequireRoot(t)
	r := &runtime.Runtime{Root: labtest.TempDir(t)}
	out, err := os.Create(filepath.Join(labtest.TempDir(t), "out"))
	require.NoError(t, err)
	defer out.Close()

	code, err := r.Run("lib-run", runtime.CreateOptions{Bundle: bundle(t, "sh", "-c", "hostname; exit 3"), Stdout: out})
	require.NoError(t, err)
	assert.Equal(t, 3, code, "Run returns the command's exit status")
	data, _ := os.ReadFile(out.Name())
	assert.Equal(t, "container\n", string(data), "the command ran in the container's UTS namespace")

	require.NoError(t, r.Create("lib-exec", runtime.CreateOptions{Bundle: bundle(t, "sleep", "60"), Stdout: out, Stderr: out}))
	t.Cleanup(func() { _ = r.Delete("lib-exec", true) })
	st, err := r.State("lib-exec")
	require.NoError(t, err)
	assert.Equal(t, specs.StateCreated, st.Status)
	require.NoError(t, r.Start("lib-exec"))
	spec, err := r.Config("lib-exec")
	require.NoError(t, err)
	p := *spec.Process
	p.Args = []string{"sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '; exit 4"}
	require.NoError(t, out.Truncate(0))
	_, _ = out.Seek(0, 0)
	code, err = r.Exec("lib-exec", &p, runtime.ExecOptions{Stdout: out})
	require.NoError(t, err)
	assert.Equal(t, 4, code)
	data, _ = os.ReadFile(out.Name())
	assert.Equal(t, "sleep 60", strings.TrimSpace(string(data)), "exec sees the container's PID 1")

	pids, err := r.Ps("lib-exec")
	require.NoError(t, err)
	assert.Equal(t, []int{st.Pid}, pids)
	require.NoError(t, r.Delete("lib-exec", true))
	_, err = r.State("lib-exec")
	assert.ErrorIs(t, err, runtime.ErrNotExist)
	states, err := r.List()
	require.NoError(t, err)
	assert.Empty(t, states)
	matches, _ := filepath.Glob("/sys/fs/cgroup/*/containerlabs-test-runtime")
	assert.Empty(t, matches, "the cgroups are gone")
}

// TestStateLeavesTheConfigAside checks what a container's state directory holds: state.json,
// which every command reads, without the config; the config in config.json beside it,
// updated by Update; and the annotations State reports from state.json alone.
func TestStateLeavesTheConfigAside(t *testing.T) {
	labtest.RequireRoot(t)
	r := &runtime.Runtime{Root: labtest.TempDir(t)}
	dir := bundle(t, "sleep", "60")
	spec, err := runtime.LoadSpec(dir)
	require.NoError(t, err)
	spec.Annotations = map[string]string{"org.example.lab": "state"}
	data, err := json.Marshal(spec)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "config.json"), data, 0o644))
	require.NoError(t, r.Create("lib-state", runtime.CreateOptions{Bundle: dir}))
	t.Cleanup(func() { _ = r.Delete("lib-state", true) })

	state, err := os.ReadFile(filepath.Join(r.Root, "lib-state", "state.json"))
	require.NoError(t, err)
	var fields map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(state, &fields))
	assert.NotContains(t, fields, "config", "state.json leaves the config out: every command reads it")
	kept, err := os.ReadFile(filepath.Join(r.Root, "lib-state", "config.json"))
	require.NoError(t, err)
	assert.Less(t, len(state), len(kept)/2, "state.json is a fraction of the config's size")
	assert.JSONEq(t, string(data), string(kept), "config.json is the bundle's config as create read it")

	st, err := r.State("lib-state")
	require.NoError(t, err)
	assert.Equal(t, "state", st.Annotations["org.example.lab"], "state reports the annotations")

	limit := int64(64)
	require.NoError(t, r.Update("lib-state", &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: &limit}}))
	updated, err := r.Config("lib-state")
	require.NoError(t, err)
	require.NotNil(t, updated.Linux.Resources.Pids)
	assert.Equal(t, limit, *updated.Linux.Resources.Pids.Limit, "Config has the resources as updated")
	assert.NotNil(t, updated.Linux.Seccomp, "and the rest of the config")
}
