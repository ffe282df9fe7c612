package main_test

import (
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"containerlabs/labs/engine"
	"containerlabs/labs/labtest"
	"containerlabs/labs/mount"
	"containerlabs/labs/state"
)

// multiStage builds a script with the busybox image, then copies it and the static
// busybox into an image made FROM scratch. Its steps, numbered as the build prints them:
// 1 FROM, 2 WORKDIR, 3 RUN, 4 COPY greeting.txt, 5 RUN, 6 FROM scratch, 7 COPY busybox,
// 8 COPY hello.sh, 9 CMD.
const multiStage = `# stage 1: the busybox image writes a script
ARG BASE=labs/busybox
FROM $BASE AS build
WORKDIR /out
RUN echo 'echo built by a RUN step' > hello.sh
COPY greeting.txt message.txt
RUN cat message.txt >> hello.sh

# stage 2: only what the script needs
FROM scratch
COPY --from=build /bin/busybox /bin/busybox
COPY --from=build /out/hello.sh /hello.sh
CMD ["/bin/busybox", "sh", "/hello.sh"]
`

// buildContext writes files (name: content) into a new directory.
func buildContext(t *testing.T, files map[string]string) string {
	dir := labtest.TempDir(t)
	for name, content := range files {
		require.NoError(t, os.MkdirAll(filepath.Join(dir, filepath.Dir(name)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644))
	}
	return dir
}

// buildStep is one "Step N/M : ..." of a build's output and what followed it.
type buildStep struct {
	text   string
	cached bool
	ran    bool
}

var stepLine = regexp.MustCompile(`(?m)^Step (\d+)/(\d+) : (.*)$`)

// buildSteps splits a build's output into its steps.
func buildSteps(out string) []buildStep {
	var steps []buildStep
	starts := stepLine.FindAllStringSubmatchIndex(out, -1)
	for i, s := range starts {
		end := len(out)
		if i+1 < len(starts) {
			end = starts[i+1][0]
		}
		body := out[s[1]:end]
		steps = append(steps, buildStep{
			text:   out[s[6]:s[7]],
			cached: strings.Contains(body, " ---> Using cache"),
			ran:    strings.Contains(body, " ---> Running in "),
		})
	}
	return steps
}

func inspectImage(t *testing.T, bin *labtest.Binary, ref string) engine.ImageDocument {
	return inspectOne[engine.ImageDocument](t, bin, ref, labtest.Hint("`08-engine inspect IMAGE` prints the image's manifest and config"))
}

// TestLab08Build holds the graded checks of `08-engine build`.
func TestLab08Build(t *testing.T) {
	labtest.RequireRoot(t)

	t.Run("a multi-stage build makes a FROM scratch image that runs", func(t *testing.T) {
		bin := setup(t)
		dir := buildContext(t, map[string]string{"Dockerfile": multiStage, "greeting.txt": "echo hello from the context\n"})
		res := bin.Run(t, "build", "-t", "labs/hello", dir)
		require.Equal(t, 0, res.Code, labtest.Hint("`08-engine build -t REF DIR` builds the Dockerfile in DIR").With(res))
		steps := buildSteps(res.Stdout)
		require.Len(t, steps, 9, labtest.Hint("print `Step N/M : INSTRUCTION` for every instruction, FROM included").With(res))
		assert.Equal(t, "RUN echo 'echo built by a RUN step' > hello.sh", steps[2].text)
		assert.True(t, steps[2].ran, labtest.Hint("a RUN step runs in a container: say ` ---> Running in ID`").With(res))
		assert.Regexp(t, `(?m)^Successfully built [0-9a-f]{12}$`, res.Stdout)
		assert.Contains(t, res.Stdout, "Successfully tagged labs/hello:latest\n")

		res = bin.Run(t, "run", "--rm", "labs/hello")
		assert.Equal(t, "built by a RUN step\nhello from the context\n", res.Stdout,
			labtest.Hint("the image runs its CMD, a script stage 1 wrote and the final stage copied with COPY --from").With(res))

		img := inspectImage(t, bin, "labs/hello")
		assert.Len(t, img.Layers, 2, labtest.Hint("FROM scratch starts with no layer; each COPY adds one"))
		var empty int
		for _, h := range img.History {
			if h.EmptyLayer {
				empty++
			}
		}
		assert.Equal(t, 1, empty, labtest.Hint("CMD changes only the config: its history entry says empty_layer"))
		assert.Len(t, img.History, 3, labtest.Hint("one history entry per instruction of the final stage after FROM"))
		res = bin.Run(t, "images")
		assert.NotContains(t, res.Stdout, "labs-build-cache", labtest.Hint("images hides the build cache's images; images -a shows them"))
	})

	t.Run("a rebuild takes every step from the cache; a changed file reruns only the steps after it", func(t *testing.T) {
		bin := setup(t)
		dir := buildContext(t, map[string]string{"Dockerfile": multiStage, "greeting.txt": "echo first\n"})
		res := bin.Run(t, "build", "-t", "labs/hello", dir)
		require.Equal(t, 0, res.Code, res)
		first := inspectImage(t, bin, "labs/hello")

		res = bin.Run(t, "build", "-t", "labs/hello", dir)
		require.Equal(t, 0, res.Code, res)
		for i, s := range buildSteps(res.Stdout) {
			if !strings.HasPrefix(s.text, "FROM") {
				assert.True(t, s.cached, labtest.Hint("step %d (%s) is unchanged: print ` ---> Using cache` and reuse its image", i+1, s.text).With(res))
				assert.False(t, s.ran, labtest.Hint("a cached RUN runs no container"))
			}
		}
		assert.Equal(t, first.ID, inspectImage(t, bin, "labs/hello").ID, labtest.Hint("a fully cached build gives the same image ID"))

		require.NoError(t, os.WriteFile(filepath.Join(dir, "greeting.txt"), []byte("echo second\n"), 0o644))
		res = bin.Run(t, "build", "-t", "labs/hello", dir)
		require.Equal(t, 0, res.Code, res)
		steps := buildSteps(res.Stdout)
		require.Len(t, steps, 9, res)
		for i, want := range map[int]bool{2: true, 3: true, 4: false, 5: false, 7: true, 8: false, 9: false} {
			assert.Equal(t, want, steps[i-1].cached, labtest.Hint("after greeting.txt changed, step %d (%s) cached=%v: the COPY of a changed file and every step after it rerun; the steps before it, and COPY --from of unchanged files, do not", i, steps[i-1].text, want).With(res))
		}
		assert.Equal(t, "built by a RUN step\nsecond\n", bin.Run(t, "run", "--rm", "labs/hello").Stdout)

		res = bin.Run(t, "build", "--no-cache", "-t", "labs/hello", dir)
		require.Equal(t, 0, res.Code, res)
		assert.NotContains(t, res.Stdout, "Using cache", labtest.Hint("--no-cache runs every step"))

		require.Contains(t, bin.Run(t, "images", "-a").Stdout, "labs-build-cache", labtest.Hint("images -a lists the build cache"))
		res = bin.Run(t, "system", "prune")
		require.Equal(t, 0, res.Code, res)
		assert.NotContains(t, bin.Run(t, "images", "-a").Stdout, "labs-build-cache", labtest.Hint("system prune removes the build cache, as Docker's does").With(res))
		assert.Contains(t, bin.Run(t, "images").Stdout, "labs/hello", labtest.Hint("system prune keeps tagged images"))
	})

	t.Run("build args, .dockerignore and --target", func(t *testing.T) {
		bin := setup(t)
		dir := buildContext(t, map[string]string{
			"Dockerfile": `FROM labs/busybox AS first
ARG WHO=nobody
ENV GREETING="hello ${WHO:-?}"
COPY . /ctx/
RUN echo "$GREETING" > /greeting && ls /ctx > /listing
CMD cat /greeting /listing
FROM scratch
COPY --from=first /greeting /
`,
			".dockerignore": "*.secret\nlogs\n!logs/keep.txt\n",
			"app.txt":       "app", "key.secret": "secret", "logs/debug.txt": "noise", "logs/keep.txt": "kept",
		})
		res := bin.Run(t, "build", "--build-arg", "WHO=learner", "--target", "first", "-t", "labs/args", dir)
		require.Equal(t, 0, res.Code, res)
		assert.Len(t, buildSteps(res.Stdout), 6, labtest.Hint("--target first stops after the stage named first").With(res))
		res = bin.Run(t, "run", "--rm", "labs/args")
		assert.Equal(t, "hello learner\nDockerfile\napp.txt\nlogs\n", res.Stdout,
			labtest.Hint("--build-arg sets the ARG, ENV substitutes it, and .dockerignore keeps *.secret out of the context").With(res))
		res = bin.Run(t, "run", "--rm", "labs/args", "ls", "/ctx/logs")
		assert.Equal(t, "keep.txt\n", res.Stdout, labtest.Hint("a ! line in .dockerignore makes an exception").With(res))
	})

	t.Run("a failing RUN leaves no image, tag, container or mount; a bad line is named", func(t *testing.T) {
		bin := setup(t)
		root := os.Getenv(state.EnvRoot)
		before := bin.Run(t, "images", "-a").Stdout
		dir := buildContext(t, map[string]string{"Dockerfile": "FROM labs/busybox\nRUN echo about to fail\nRUN exit 3\nCMD [\"true\"]\n"})
		res := bin.Run(t, "build", "-t", "labs/broken", dir)
		assert.NotEqual(t, 0, res.Code, labtest.Hint("a failing step fails the build").With(res))
		assert.Contains(t, res.Stderr, "Dockerfile:3: the command '/bin/sh -c exit 3' returned a non-zero code: 3",
			labtest.Hint("say which line failed and with what status").With(res))
		assert.NotContains(t, bin.Run(t, "images").Stdout, "labs/broken", labtest.Hint("a failed build tags nothing"))
		after := bin.Run(t, "images", "-a").Stdout
		assert.Equal(t, strings.Count(before, "\n")+1, strings.Count(after, "\n"),
			labtest.Hint("only the step that succeeded (RUN echo) is in the cache; the failed one made no image").With(before, after))
		assert.Empty(t, strings.TrimSpace(bin.Run(t, "ps", "-aq").Stdout), labtest.Hint("remove the intermediate containers, also when a step fails"))
		left, err := mount.Under(root)
		assert.NoError(t, err)
		assert.Empty(t, left, labtest.Hint("unmount every step's overlay"))
		scratch, _ := filepath.Glob(filepath.Join(root, "build", "*"))
		assert.Empty(t, scratch, labtest.Hint("remove the build's scratch directories"))

		require.NoError(t, os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM labs/busybox\n\n# comment\nRUN true \\\n  && true\nFOO bar\n"), 0o644))
		res = bin.Run(t, "build", dir)
		assert.NotEqual(t, 0, res.Code, res)
		assert.Contains(t, res.Stderr, "Dockerfile:6: unknown instruction FOO", labtest.Hint("name the file and line of a bad instruction").With(res))
	})

	t.Run("a built image goes to a registry and comes back", func(t *testing.T) {
		bin := setup(t)
		server := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
		t.Cleanup(server.Close)
		ref := strings.TrimPrefix(server.URL, "http://") + "/labs/hello:v1"
		dir := buildContext(t, map[string]string{"Dockerfile": multiStage, "greeting.txt": "echo through a registry\n"})
		res := bin.Run(t, "build", "-t", ref, dir)
		require.Equal(t, 0, res.Code, res)
		built := inspectImage(t, bin, ref)
		res = bin.Run(t, "push", ref)
		require.Equal(t, 0, res.Code, labtest.Hint("a built image is an image like any other: push it").With(res))

		t.Setenv(state.EnvRoot, labtest.TempDir(t)) // an empty store, as on another machine
		res = bin.Run(t, "pull", ref)
		require.Equal(t, 0, res.Code, res)
		assert.Equal(t, built.Digest, inspectImage(t, bin, ref).Digest, labtest.Hint("the pulled image has the built image's digest"))
		res = bin.Run(t, "run", "--rm", "--network", "none", ref)
		assert.Equal(t, "built by a RUN step\nthrough a registry\n", res.Stdout, res)
	})
}
