package runtime

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHooks(t *testing.T) {
	dir := t.TempDir()
	shell := func(script string) specs.Hook { return specs.Hook{Path: "/bin/sh", Args: []string{"sh", "-c", script}} }
	state := State{State: specs.State{ID: "c1", Status: specs.StateCreated, Pid: 42, Bundle: "/b"}}

	err := runHooks("prestart", []specs.Hook{
		shell("cat > " + filepath.Join(dir, "first")),
		shell("echo broken >&2; exit 3"),
		shell("touch " + filepath.Join(dir, "never")),
	}, state)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "prestart hook /bin/sh: exit status 3: broken", "the error names the list, the hook and its output")
	assert.NoFileExists(t, filepath.Join(dir, "never"), "a failing hook of create stops the list: create fails")
	data, err := os.ReadFile(filepath.Join(dir, "first"))
	require.NoError(t, err)
	var got specs.State
	require.NoError(t, json.Unmarshal(data, &got), "the state arrives on stdin as JSON")
	assert.Equal(t, state.State, got)

	var logged bytes.Buffer
	log, err := NewLogger(&logged, "text", false)
	require.NoError(t, err)
	runHooksLogged(log, "poststop", []specs.Hook{shell("exit 1"), shell("touch " + filepath.Join(dir, "after"))}, state)
	assert.FileExists(t, filepath.Join(dir, "after"), "after a failing poststop hook the others still run")
	assert.Contains(t, logged.String(), "level=warning", "the failure is logged as a warning")

	one := 1
	slow := shell("sleep 10")
	slow.Timeout = &one
	err = runHooks("createRuntime", []specs.Hook{slow}, state)
	assert.ErrorContains(t, err, "killed after its timeout of 1s")
}

func TestCheckNamespacePath(t *testing.T) {
	ok := specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: "/proc/self/ns/net"}
	require.NoError(t, checkNamespacePath(ok), "a network namespace file for the network namespace")

	err := checkNamespacePath(specs.LinuxNamespace{Type: specs.CgroupNamespace, Path: "/proc/self/ns/ipc"})
	assert.ErrorContains(t, err, "path /proc/self/ns/ipc of the cgroup namespace is a ipc namespace",
		"setns(2) would join whatever the file is: the type is checked first")
	err = checkNamespacePath(specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: "/etc/hostname"})
	assert.ErrorContains(t, err, "is not a namespace file")
	err = checkNamespacePath(specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: "proc/self/ns/net"})
	assert.ErrorContains(t, err, "is not absolute")

	err = checkNamespacePath(specs.LinuxNamespace{Type: specs.MountNamespace, Path: "/proc/self/ns/mnt"})
	assert.ErrorIs(t, err, ErrUnsupported, "the runtime's own mount namespace is the host's: never joined")

	s := validSpec()
	for i, ns := range s.Linux.Namespaces {
		if ns.Type == specs.NetworkNamespace {
			s.Linux.Namespaces[i].Path = "/proc/self/ns/uts"
		}
	}
	assert.ErrorContains(t, Validate(s), "is a uts namespace", "Validate checks the paths")
}

func TestMountLabelWithoutSELinux(t *testing.T) {
	if selinuxEnabled() {
		t.Skip("this host runs SELinux: a mount label is refused here")
	}
	s := validSpec()
	s.Linux.MountLabel = "system_u:object_r:container_file_t:s0:c1,c2"
	assert.NoError(t, Validate(s), "without SELinux a mount label changes nothing and is accepted, as by runc and crun")
}

func TestHookLeavingAChildBehind(t *testing.T) {
	// The hook exits at once; its background child keeps the output pipe open.
	err := runHooks("prestart", []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "sleep 5 & exit 0"}}}, State{})
	assert.NoError(t, err, "a hook that exited 0 succeeded, whatever it left running")
}
