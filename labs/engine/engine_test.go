package engine

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStoreNamesAreClaimedOnce(t *testing.T) {
	s, err := OpenStore(t.TempDir())
	require.NoError(t, err)
	var wg sync.WaitGroup
	var mu sync.Mutex
	won := 0
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if s.Create(&Container{ID: NewID(), Name: "web"}) == nil {
				mu.Lock()
				won++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, 1, won, "exactly one of ten concurrent creates may claim a name")
	for _, bad := range []string{"", "..", "a/b", ".x", "-x"} {
		assert.Error(t, s.Create(&Container{ID: NewID(), Name: bad}), bad)
	}
}

func TestResolveByNameIDAndPrefix(t *testing.T) {
	s, err := OpenStore(t.TempDir())
	require.NoError(t, err)
	a := &Container{ID: "abc" + strings.Repeat("0", 61), Name: "first"}
	b := &Container{ID: "abd" + strings.Repeat("0", 61), Name: "second"}
	require.NoError(t, s.Create(a))
	require.NoError(t, s.Create(b))
	for ref, want := range map[string]string{"first": a.ID, "second": b.ID, "abc": a.ID, a.ID: a.ID} {
		got, err := s.Resolve(ref)
		require.NoError(t, err, ref)
		assert.Equal(t, want, got, ref)
	}
	_, err = s.Resolve("ab")
	assert.ErrorContains(t, err, "matches 2 containers")
	_, err = s.Resolve("zzz")
	assert.ErrorIs(t, err, ErrNotFound)
	require.NoError(t, s.Remove(a))
	_, err = s.Resolve("first")
	assert.ErrorIs(t, err, ErrNotFound, "the name is released with the container")
}

func TestReconcileMarksADeadContainerExited(t *testing.T) {
	s, err := OpenStore(t.TempDir())
	require.NoError(t, err)
	self, err := StartTime(os.Getpid())
	require.NoError(t, err)
	alive := &Container{ID: NewID(), Name: "alive", State: State{Status: StatusRunning, Pid: os.Getpid(), PidStart: self}}
	// The same PID with another start time is a different process: the container is gone.
	dead := &Container{ID: NewID(), Name: "dead", State: State{Status: StatusRunning, Pid: os.Getpid(), PidStart: self + 1}}
	require.NoError(t, s.Create(alive))
	require.NoError(t, s.Create(dead))
	got, err := s.Get("alive")
	require.NoError(t, err)
	assert.Equal(t, StatusRunning, got.State.Status)
	got, err = s.Get("dead")
	require.NoError(t, err)
	assert.Equal(t, StatusExited, got.State.Status)
	assert.Equal(t, 255, got.State.ExitCode)
	assert.Contains(t, got.State.Error, "monitor")
}

func TestLogRotatesAndReadsBack(t *testing.T) {
	dir := t.TempDir()
	l, err := OpenLog(dir, 200, 3)
	require.NoError(t, err)
	out := l.Stream("stdout", nil)
	for i := range 20 {
		_, err := out.Write([]byte("line " + strings.Repeat("x", 10) + string(rune('a'+i)) + "\n"))
		require.NoError(t, err)
	}
	_, err = out.Write([]byte("no newline"))
	require.NoError(t, err)
	require.NoError(t, Flush(out))
	require.NoError(t, l.Close())
	files, _ := filepath.Glob(filepath.Join(dir, "container.log*"))
	assert.Len(t, files, 3, "MaxFile files at most")
	entries, offset, err := ReadLog(dir, -1)
	require.NoError(t, err)
	require.NotEmpty(t, entries)
	assert.Equal(t, "no newline", entries[len(entries)-1].Log)
	assert.Equal(t, "stdout", entries[0].Stream)
	last, _, err := ReadLog(dir, 2)
	require.NoError(t, err)
	assert.Len(t, last, 2)

	l, err = OpenLog(dir, 200, 3)
	require.NoError(t, err)
	_, err = l.Stream("stderr", nil).Write([]byte("later\n"))
	require.NoError(t, err)
	more, _, err := FollowLog(dir, offset)
	require.NoError(t, err)
	require.Len(t, more, 1)
	assert.Equal(t, LogEntry{Log: "later\n", Stream: "stderr", Time: more[0].Time}, more[0])
	assert.WithinDuration(t, time.Now(), more[0].Time, time.Minute)
}

func TestParseVolume(t *testing.T) {
	v, err := OpenVolumes(t.TempDir())
	require.NoError(t, err)
	host := t.TempDir()
	m, err := v.ParseVolume("data:/data:ro", NewID)
	require.NoError(t, err)
	assert.Equal(t, Mount{Type: "volume", Name: "data", Source: m.Source, Destination: "/data"}, m)
	assert.DirExists(t, m.Source)
	m, err = v.ParseVolume(host+":/srv", NewID)
	require.NoError(t, err)
	assert.Equal(t, Mount{Type: "bind", Source: host, Destination: "/srv", RW: true}, m)
	m, err = v.ParseVolume("/cache", func() string { return "anon1" })
	require.NoError(t, err)
	assert.True(t, m.Anonymous)
	assert.Equal(t, "anon1", m.Name)
	for _, bad := range []string{"data:relative", "/no/such/host/dir:/x", "a:b:c:d", "../x:/y", "data:/a/../b"} {
		_, err := v.ParseVolume(bad, NewID)
		assert.Error(t, err, bad)
	}
	vols, err := v.List()
	require.NoError(t, err)
	assert.Len(t, vols, 2)
}

func TestBuildSpec(t *testing.T) {
	c := &Container{ID: NewID(), Config: Config{Hostname: "h", Memory: 64 << 20, CPUs: 0.5, PidsLimit: 50,
		CapAdd: []string{"net_admin"}, CapDrop: []string{"CAP_CHOWN"}, ReadOnly: true},
		Mounts: []Mount{{Type: "volume", Source: "/v", Destination: "/data"}}}
	spec, err := BuildSpec(c, Process{Args: []string{"sh"}, Env: []string{"A=1"}, WorkingDir: "/w", UID: 5, GID: 6}, "/state")
	require.NoError(t, err)
	assert.Equal(t, "h", spec.Hostname)
	assert.True(t, spec.Root.Readonly)
	assert.Equal(t, int64(64<<20), *spec.Linux.Resources.Memory.Limit)
	assert.Equal(t, int64(64<<20), *spec.Linux.Resources.Memory.Swap, "swap is included in the limit")
	assert.Equal(t, int64(50000), *spec.Linux.Resources.CPU.Quota)
	assert.Equal(t, int64(50), *spec.Linux.Resources.Pids.Limit)
	assert.Contains(t, spec.Process.Capabilities.Bounding, "CAP_NET_ADMIN")
	assert.NotContains(t, spec.Process.Capabilities.Bounding, "CAP_CHOWN")
	assert.Empty(t, spec.Process.Capabilities.Inheritable)
	assert.NotNil(t, spec.Linux.Seccomp)
	assert.Equal(t, "0 2147483647", spec.Linux.Sysctl["net.ipv4.ping_group_range"], "ping without CAP_NET_RAW")
	assert.Equal(t, "/"+CgroupParent+"/"+c.ID, spec.Linux.CgroupsPath)
	var dests []string
	for _, m := range spec.Mounts {
		dests = append(dests, m.Destination)
	}
	assert.Contains(t, dests, "/data")
	assert.Contains(t, dests, "/etc/hosts")

	c.Config = Config{Privileged: true, NetworkMode: "host"}
	spec, err = BuildSpec(c, Process{Args: []string{"sh"}}, "/state")
	require.NoError(t, err)
	assert.Nil(t, spec.Linux.Seccomp)
	assert.Empty(t, spec.Linux.MaskedPaths)
	assert.Empty(t, spec.Linux.Sysctl, "in the host's network namespace a sysctl would change the host")
	assert.False(t, slices.ContainsFunc(spec.Linux.Namespaces, func(ns specs.LinuxNamespace) bool { return ns.Type == specs.NetworkNamespace }),
		"--network host keeps the host's network namespace")

	// A user-defined network (Create has checked that it exists) is plugged into a network
	// namespace of the container's own, as the default bridge is.
	c.Config = Config{NetworkMode: "shop"}
	spec, err = BuildSpec(c, Process{Args: []string{"sh"}}, "/state")
	require.NoError(t, err)
	assert.True(t, slices.ContainsFunc(spec.Linux.Namespaces, func(ns specs.LinuxNamespace) bool { return ns.Type == specs.NetworkNamespace }))
}

func TestLogOptionsAndManyRotatedFiles(t *testing.T) {
	var cfg Config
	require.NoError(t, ParseLogOptions([]string{"max-size=1k", "max-file=12"}, &cfg))
	assert.Equal(t, int64(1024), cfg.LogMaxSize)
	assert.Equal(t, 12, cfg.LogMaxFile)
	require.NoError(t, ParseLogOptions([]string{"max-size=1.5m"}, &cfg))
	assert.Equal(t, int64(1572864), cfg.LogMaxSize)
	for _, bad := range []string{"max-size=lots", "max-size=", "max-file=0", "max-file=x", "max-file=101", "max-file=99999999999999999999", "max-size=99999999999t", "mode=non-blocking"} {
		assert.Error(t, ParseLogOptions([]string{bad}, &cfg), bad)
	}

	dir := t.TempDir()
	l, err := OpenLog(dir, 100, 12)
	require.NoError(t, err)
	out := l.Stream("stdout", nil)
	for i := range 40 {
		_, err := fmt.Fprintf(out, "line %02d\n", i)
		require.NoError(t, err)
	}
	require.NoError(t, l.Close())
	files, _ := filepath.Glob(filepath.Join(dir, "container.log*"))
	assert.Len(t, files, 12)
	entries, _, err := ReadLog(dir, -1)
	require.NoError(t, err)
	require.NotEmpty(t, entries)
	assert.Equal(t, "line 39\n", entries[len(entries)-1].Log)
	for i := 1; i < len(entries); i++ {
		assert.Less(t, entries[i-1].Log, entries[i].Log, "oldest first, across all %d files", len(files))
	}
}

// A command that takes a container's lock while the container is being removed must find
// it gone (ErrNotFound), and must not make a new lock file in the directory being emptied,
// which would fail the removal with "directory not empty" (rm -f racing a --rm monitor).
func TestRemoveRacesLock(t *testing.T) {
	s, err := OpenStore(t.TempDir())
	require.NoError(t, err)
	for i := range 50 {
		c := &Container{ID: NewID(), Name: fmt.Sprintf("c%d", i)}
		require.NoError(t, s.Create(c))
		// Files to delete make the removal long enough to be raced.
		for f := range 300 {
			require.NoError(t, os.WriteFile(filepath.Join(s.Dir(c.ID), fmt.Sprintf("f%03d", f)), nil, 0o600))
		}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if unlock, err := s.Lock(c.ID); err == nil {
					unlock()
				} else {
					assert.ErrorIs(t, err, ErrNotFound, "round %d: a lock taken during the removal", i)
				}
			}
		}()
		unlock, err := s.Lock(c.ID)
		require.NoError(t, err)
		err = s.Remove(c)
		unlock()
		close(stop)
		wg.Wait()
		require.NoError(t, err, "round %d: the removal must not trip over a racing lock", i)
		_, err = os.Stat(s.Dir(c.ID))
		require.ErrorIs(t, err, os.ErrNotExist, "round %d: the container's directory must be gone", i)
	}
	left, err := os.ReadDir(filepath.Dir(s.Dir(NewID())))
	require.NoError(t, err)
	assert.Empty(t, left, "nothing may be left in containers/, not even a tombstone")
}
