package build

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCacheKey(t *testing.T) {
	base := CacheKey("sha256:aaa", "RUN make", []string{"A=1", "B=2"}, "")
	assert.Len(t, base, 64)
	assert.Equal(t, base, CacheKey("sha256:aaa", "RUN make", []string{"B=2", "A=1"}, ""), "the order of the build args does not matter")
	for name, other := range map[string]string{
		"another parent":      CacheKey("sha256:bbb", "RUN make", []string{"A=1", "B=2"}, ""),
		"another instruction": CacheKey("sha256:aaa", "RUN make test", []string{"A=1", "B=2"}, ""),
		"another arg value":   CacheKey("sha256:aaa", "RUN make", []string{"A=1", "B=3"}, ""),
		"one arg fewer":       CacheKey("sha256:aaa", "RUN make", []string{"A=1"}, ""),
		"other content":       CacheKey("sha256:aaa", "RUN make", []string{"A=1", "B=2"}, "abc"),
		"scratch":             CacheKey("", "RUN make", []string{"A=1", "B=2"}, ""),
	} {
		assert.NotEqual(t, base, other, name)
	}
}

func TestContentDigest(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "app.sh")
	require.NoError(t, os.WriteFile(file, []byte("echo one"), 0o755))
	digest := func() string {
		items, err := collectSources(dir, nil, []string{"app.sh"}, false)
		require.NoError(t, err)
		d, err := contentDigest(items)
		require.NoError(t, err)
		return d
	}
	first := digest()
	require.NoError(t, os.Chtimes(file, time.Now(), time.Now().Add(time.Hour)))
	assert.Equal(t, first, digest(), "times are not content: touching a file keeps the cache")
	require.NoError(t, os.Chmod(file, 0o644))
	assert.NotEqual(t, first, digest(), "permissions are part of the content")
	require.NoError(t, os.Chmod(file, 0o755))
	assert.Equal(t, first, digest())
	require.NoError(t, os.WriteFile(file, []byte("echo two"), 0o755))
	assert.NotEqual(t, first, digest(), "changed bytes change the digest")
}

func TestArgsAndEnv(t *testing.T) {
	df := parse(t, `ARG VERSION=1.0
ARG UNUSED_GLOBAL
FROM busybox:$VERSION
ARG VERSION
ARG USER=app
ARG FROMCLI
ENV USER=env-wins
ARG DEFAULTED=${VERSION}-x
`)
	args := &buildArgs{given: map[string]string{"FROMCLI": "cli", "NOBODY": "x"}, used: map[string]bool{}}
	require.NoError(t, args.globals(df.Args))
	from, err := Expand(df.Stages[0].From.Args[0], args.lookupGlobal)
	require.NoError(t, err)
	assert.Equal(t, "busybox:1.0", from, "ARGs before FROM are usable in FROM")

	s := &stageState{args: map[string]string{}, img: imageState{cfg: &v1.ConfigFile{}}}
	for _, inst := range df.Stages[0].Instructions {
		text, change, err := s.metadata(inst, args)
		require.NoError(t, err, inst.Text)
		assert.NotEmpty(t, text)
		change(s.img.cfg)
	}
	assert.Equal(t, []string{"VERSION=1.0", "USER=app", "FROMCLI=cli", "DEFAULTED=1.0-x"}, s.argList(),
		"a redeclared global ARG takes its value; --build-arg beats a default")
	v, _ := s.lookup("USER")
	assert.Equal(t, "env-wins", v, "ENV overrides an ARG of the same name")
	assert.Equal(t, []string{"VERSION=1.0", "FROMCLI=cli", "DEFAULTED=1.0-x"}, s.argEnv(), "RUN sees the ARGs that ENV does not set")
	assert.Equal(t, []string{"NOBODY"}, args.unused())
}

func TestMetadataChanges(t *testing.T) {
	df := parse(t, `FROM busybox
ARG PORT=8080
ENV APP=/srv/app GREETING="hello world"
LABEL maintainer="$APP"
EXPOSE $PORT 53/udp
VOLUME /data
USER nobody:nogroup
CMD ["serve"]
ENTRYPOINT ["/bin/app"]
SHELL ["/bin/ash", "-c"]
STOPSIGNAL SIGINT
`)
	s := &stageState{args: map[string]string{}, img: imageState{cfg: &v1.ConfigFile{Config: v1.Config{Cmd: []string{"inherited"}}}}}
	args := &buildArgs{given: map[string]string{}, used: map[string]bool{}}
	texts := []string{}
	for _, inst := range df.Stages[0].Instructions {
		text, change, err := s.metadata(inst, args)
		require.NoError(t, err, inst.Text)
		texts = append(texts, text)
		change(s.img.cfg)
	}
	c := s.img.cfg.Config
	assert.Equal(t, []string{"APP=/srv/app", "GREETING=hello world"}, c.Env)
	assert.Equal(t, map[string]string{"maintainer": "/srv/app"}, c.Labels)
	assert.Equal(t, map[string]struct{}{"8080/tcp": {}, "53/udp": {}}, c.ExposedPorts)
	assert.Equal(t, map[string]struct{}{"/data": {}}, c.Volumes)
	assert.Equal(t, "nobody:nogroup", c.User)
	assert.Equal(t, []string{"serve"}, c.Cmd, "CMD given in the stage survives ENTRYPOINT")
	assert.Equal(t, []string{"/bin/app"}, c.Entrypoint)
	assert.Equal(t, []string{"/bin/ash", "-c"}, c.Shell)
	assert.Equal(t, "SIGINT", c.StopSignal)
	assert.Contains(t, texts, "EXPOSE 8080/tcp 53/udp", "the cache key sees substituted values")

	s = &stageState{args: map[string]string{}, img: imageState{cfg: &v1.ConfigFile{Config: v1.Config{Cmd: []string{"inherited"}, Shell: []string{"/bin/ash", "-c"}}}}}
	df = parse(t, "FROM busybox\nENTRYPOINT exec app\n")
	_, change, err := s.metadata(df.Stages[0].Instructions[0], args)
	require.NoError(t, err)
	change(s.img.cfg)
	assert.Nil(t, s.img.cfg.Config.Cmd, "ENTRYPOINT clears an inherited CMD")
	assert.Equal(t, []string{"/bin/ash", "-c", "exec app"}, s.img.cfg.Config.Entrypoint, "the shell form runs in SHELL")

	df = parse(t, "FROM busybox\nEXPOSE 99999\n")
	_, _, err = s.metadata(df.Stages[0].Instructions[0], args)
	assert.ErrorContains(t, err, "not a port number")
}

func TestWorkdir(t *testing.T) {
	s := &stageState{img: imageState{cfg: &v1.ConfigFile{}}}
	assert.Equal(t, "/app", s.workdir("app"))
	assert.Equal(t, "/", s.workdir("."))
	s.img.cfg.Config.WorkingDir = "/srv"
	assert.Equal(t, "/srv/app/", s.workdir("app/"), "a trailing slash still says directory")
	assert.Equal(t, "/srv/", s.workdir("."))
	assert.Equal(t, "/etc/x", s.workdir("/etc/x"))
}
