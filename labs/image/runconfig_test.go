package image

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"containerlabs/labs/process"
)

func TestRunConfigFollowsDockerRules(t *testing.T) {
	cfg := func(entrypoint, cmd []string) *v1.ConfigFile {
		return &v1.ConfigFile{Config: v1.Config{Entrypoint: entrypoint, Cmd: cmd, Env: []string{"A=1"}}}
	}
	for _, tc := range []struct {
		name                 string
		entrypoint, cmd, run []string
		want                 []string
	}{
		{"Cmd alone", nil, []string{"sh"}, nil, []string{"sh"}},
		{"a command replaces Cmd", nil, []string{"sh"}, []string{"ls", "/"}, []string{"ls", "/"}},
		{"Entrypoint takes Cmd as arguments", []string{"/app"}, []string{"--help"}, nil, []string{"/app", "--help"}},
		{"a command replaces Cmd, never Entrypoint", []string{"/app"}, []string{"--help"}, []string{"--version"}, []string{"/app", "--version"}},
		{"Entrypoint alone", []string{"/app"}, nil, nil, []string{"/app"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := RunConfig(cfg(tc.entrypoint, tc.cmd), tc.run)
			require.NoError(t, err)
			assert.Equal(t, tc.want, p.Args)
			assert.Equal(t, []string{"A=1", "PATH=" + process.DefaultPath}, p.Env, "a PATH is added when the image sets none")
			assert.Equal(t, "/", p.WorkingDir)
		})
	}
	_, err := RunConfig(cfg(nil, nil), nil)
	assert.ErrorContains(t, err, "no command")

	p, err := RunConfig(&v1.ConfigFile{Config: v1.Config{Cmd: []string{"x"}, Env: []string{"PATH=/opt"}, WorkingDir: "/srv", User: "app"}}, nil)
	require.NoError(t, err)
	assert.Equal(t, []string{"PATH=/opt"}, p.Env)
	assert.Equal(t, "/srv", p.WorkingDir)
	assert.Equal(t, "app", p.User)
}

func TestResolveUserReadsTheImagesFiles(t *testing.T) {
	root := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(root, "etc"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(root, "etc/passwd"),
		[]byte("root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(root, "etc/group"), []byte("root:x:0:\nstaff:x:50:app\n"), 0o644))
	for spec, want := range map[string]User{
		"":           {0, 0, "/root"},
		"app":        {1000, 1001, "/home/app"},
		"1000":       {1000, 1001, "/home/app"},
		"4242":       {4242, 0, "/"},
		"app:staff":  {1000, 50, "/home/app"},
		"app:7":      {1000, 7, "/home/app"},
		"4242:4243":  {4242, 4243, "/"},
		"root:staff": {0, 50, "/root"},
	} {
		got, err := ResolveUser(root, spec)
		require.NoError(t, err, spec)
		assert.Equal(t, want, got, spec)
	}
	_, err := ResolveUser(root, "ghost")
	assert.ErrorContains(t, err, `"ghost"`)
	_, err = ResolveUser(root, "app:ghosts")
	assert.ErrorContains(t, err, `"ghosts"`)
}

// TestResolveUserRangeChecksEveryID: no ID, given or read from the image, may become root
// by truncation ((uid_t)(2^32) == 0) or by meaning "unchanged" ((uid_t)-1).
func TestResolveUserRangeChecksEveryID(t *testing.T) {
	root := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(root, "etc"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(root, "etc/passwd"), []byte(
		"root:x:0:0:root:/root:/bin/sh\nwrapped:x:4294967296:0::/:/bin/sh\nminus:x:-1:0::/:/bin/sh\n"+
			"word:x:zero:0::/:/bin/sh\nbadgroup:x:7:4294967295::/:/bin/sh\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(root, "etc/group"), []byte("huge:x:99999999999999999999:\n"), 0o644))
	for _, spec := range []string{"4294967296", "4294967295", "-1", "2147483648", "99999999999999999999999",
		"0:4294967295", "0:-1", "+4294967296", "wrapped", "minus", "word", "badgroup", "0:huge"} {
		u, err := ResolveUser(root, spec)
		require.Error(t, err, "%s resolved to %+v", spec, u)
		value := spec
		if _, after, ok := strings.Cut(spec, ":"); ok && strings.Trim(after, "0123456789-+") == "" {
			value = after
		}
		if strings.Trim(value, "0123456789-+") == "" {
			assert.Contains(t, err.Error(), value, "the error names the bad value")
		}
	}
	u, err := ResolveUser(root, "2147483647:2147483647")
	require.NoError(t, err)
	assert.Equal(t, User{UID: MaxID, GID: MaxID, Home: "/"}, u, "MaxID itself is valid")
}

// TestResolveUserReadsInsideTheRoot: the image's /etc/passwd is read as the container sees
// it, and only if it is a regular file.
func TestResolveUserReadsInsideTheRoot(t *testing.T) {
	host := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(host, "passwd"), []byte("hostonly:x:0:0::/:/bin/sh\n"), 0o644))
	root := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(root, "etc"), 0o755))
	require.NoError(t, os.Symlink(filepath.Join(host, "passwd"), filepath.Join(root, "etc/passwd")))
	_, err := ResolveUser(root, "hostonly")
	assert.ErrorContains(t, err, "no such user", "a link to a host path leads nowhere inside the root")

	require.NoError(t, os.Remove(filepath.Join(root, "etc/passwd")))
	require.NoError(t, unix.Mkfifo(filepath.Join(root, "etc/passwd"), 0o644))
	done := make(chan error, 1)
	go func() { _, err := ResolveUser(root, "anyone"); done <- err }()
	select {
	case err := <-done:
		assert.ErrorContains(t, err, "not a regular file", "a FIFO /etc/passwd would block the engine for ever")
	case <-time.After(5 * time.Second):
		t.Fatal("ResolveUser blocked on a FIFO /etc/passwd")
	}
}

func TestNormalizeAddsLatest(t *testing.T) {
	for in, want := range map[string]string{
		"busybox":                  "busybox:latest",
		"busybox:1.36":             "busybox:1.36",
		"127.0.0.1:5000/lab/app":   "127.0.0.1:5000/lab/app:latest",
		"127.0.0.1:5000/lab/app:2": "127.0.0.1:5000/lab/app:2",
		"lab/app@sha256:" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef": "lab/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
	} {
		got, err := Normalize(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got)
	}
	_, err := Normalize("Not/Valid")
	assert.Error(t, err)
}
