package runtime_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"containerlabs/labs/labtest"
	"containerlabs/labs/rootfs"
	"containerlabs/labs/runtime"
)

// TestMountDestinationsStayInsideTheRoot runs containers whose images plant symlinks where
// the config mounts things: every destination is resolved inside the root, procfs and
// sysfs go on real directories only, and nothing is mounted into /proc through a link.
func TestMountDestinationsStayInsideTheRoot(t *testing.T) {
	labtest.RequireRoot(t)
	r := &runtime.Runtime{Root: labtest.TempDir(t)}
	volume := labtest.TempDir(t)
	require.NoError(t, os.WriteFile(filepath.Join(volume, "marker"), []byte("from the volume\n"), 0o644))
	run := func(t *testing.T, links map[string]string, mounts []specs.Mount, args ...string) (string, error) {
		dir := labtest.TempDir(t)
		root := filepath.Join(dir, "rootfs")
		require.NoError(t, os.Mkdir(root, 0o755))
		require.NoError(t, rootfs.Busybox(root))
		for name, target := range links {
			p := filepath.Join(root, name)
			require.NoError(t, os.RemoveAll(p))
			require.NoError(t, os.Symlink(target, p))
		}
		spec := runtime.DockerSpec(args)
		spec.Linux.CgroupsPath = "/containerlabs-test-runtime/" + filepath.Base(dir)
		spec.Mounts = append(spec.Mounts, mounts...)
		data, err := json.Marshal(spec)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, "config.json"), data, 0o644))
		out := filepath.Join(labtest.TempDir(t), "out")
		f, err := os.Create(out)
		require.NoError(t, err)
		defer f.Close()
		_, err = r.Run(filepath.Base(dir), runtime.CreateOptions{Bundle: dir, Stdout: f, Stderr: f})
		text, _ := os.ReadFile(out)
		return string(text), err
	}
	bind := func(dest string) specs.Mount {
		return specs.Mount{Destination: dest, Type: "bind", Source: volume, Options: []string{"rbind", "ro"}}
	}

	t.Run("an image whose /proc is a symlink is refused", func(t *testing.T) {
		_, err := run(t, map[string]string{"proc": "/tmp"}, nil, "true")
		require.Error(t, err)
		assert.Contains(t, err.Error(), "symlink")
		assert.Contains(t, err.Error(), "/proc")
		assert.Contains(t, err.Error(), "must be mounted on ordinary directory", "runc's words, which runc's tests and its users match")
	})

	t.Run("an image whose /sys is a symlink is refused", func(t *testing.T) {
		_, err := run(t, map[string]string{"sys": "../../../../sys"}, nil, "true")
		require.Error(t, err)
		assert.Contains(t, err.Error(), "/sys")
	})

	t.Run("a destination through an absolute link lands inside the root", func(t *testing.T) {
		out, err := run(t, map[string]string{"data": "/etc"}, []specs.Mount{bind("/data")}, "cat", "/etc/marker")
		require.NoError(t, err, out)
		assert.Equal(t, "from the volume\n", out, "/data -> /etc is the container's /etc")
	})

	t.Run("a destination through a climbing link lands inside the root", func(t *testing.T) {
		out, err := run(t, map[string]string{"data": "../../../../../../home"}, []specs.Mount{bind("/data/../data")}, "cat", "/home/marker")
		require.NoError(t, err, out)
		assert.Equal(t, "from the volume\n", out)
	})

	t.Run("a link to a host path leads nowhere", func(t *testing.T) {
		_, err := run(t, map[string]string{"data": volume}, []specs.Mount{bind("/data")}, "true")
		assert.Error(t, err, "the host path does not exist inside the root")
	})

	t.Run("nothing is mounted into /proc through a link", func(t *testing.T) {
		hosts := filepath.Join(volume, "marker")
		_, err := run(t, map[string]string{"etc/hosts": "/proc/sys/kernel/core_pattern"},
			[]specs.Mount{{Destination: "/etc/hosts", Type: "bind", Source: hosts, Options: []string{"rbind"}}}, "true")
		require.Error(t, err)
		assert.Contains(t, err.Error(), "inside /proc")
		_, err = run(t, nil, []specs.Mount{bind("/proc/self/attr")}, "true")
		require.Error(t, err)
		assert.Contains(t, err.Error(), "inside /proc")
	})

	t.Run("only a procfs goes at /proc: a bind of the host's procfs, never of a directory", func(t *testing.T) {
		_, err := run(t, nil, []specs.Mount{bind("/proc")}, "true")
		require.Error(t, err, "a directory bound at /proc would stand in for procfs")
		assert.Contains(t, err.Error(), "nothing but procfs")
		hostProc := specs.Mount{Destination: "/proc", Type: "bind", Source: "/proc", Options: []string{"rbind", "nosuid", "nodev", "noexec"}}
		self := strconv.Itoa(os.Getpid())
		out, err := run(t, nil, []specs.Mount{hostProc}, "cat", "/proc/"+self+"/comm")
		require.NoError(t, err, "the host's procfs is procfs: runc lets a config bind it at /proc (%s)", out)
		comm, err := os.ReadFile("/proc/self/comm")
		require.NoError(t, err)
		assert.Equal(t, string(comm), out, "the host's /proc, bound at /proc, shows this test's PID")
	})
}
