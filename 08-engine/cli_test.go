package main_test

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"containerlabs/labs/labtest"
	"containerlabs/labs/state"
)

// syncBuffer collects a process's output while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitFor polls until cond holds, for timeout at most.
func waitFor(timeout time.Duration, cond func() bool) bool {
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}

// startAttach runs `attach ARGS` with the given stdio, killed (its process group) when the
// test ends, and returns a channel that delivers its exit status.
func startAttach(t *testing.T, bin *labtest.Binary, stdin io.Reader, stdout, stderr io.Writer, args ...string) (*exec.Cmd, <-chan int) {
	cmd := exec.Command(bin.Path, append([]string{"attach"}, args...)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	require.NoError(t, cmd.Start())
	done := make(chan int, 1)
	go func() {
		_ = cmd.Wait()
		done <- cmd.ProcessState.ExitCode()
	}()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	})
	return cmd, done
}

func exited(t *testing.T, done <-chan int, advice labtest.Advice) int {
	select {
	case code := <-done:
		return code
	case <-time.After(15 * time.Second):
		t.Fatal(advice.With("attach did not return within 15 s"))
		return -1
	}
}

// pipe makes a pipe for attach's standard input: an *os.File, so that the attach process
// reads it itself (exec.Cmd would otherwise wait for its copy of any other reader to end).
func pipe(t *testing.T) (*os.File, *os.File) {
	r, w, err := os.Pipe()
	require.NoError(t, err)
	t.Cleanup(func() {
		r.Close()
		w.Close()
	})
	return r, w
}

// openPty makes a pseudo-terminal pair: the test types on the master, attach gets the slave.
func openPty(t *testing.T) (*os.File, *os.File) {
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	require.NoError(t, err)
	t.Cleanup(func() { master.Close() })
	require.NoError(t, unix.IoctlSetPointerInt(int(master.Fd()), unix.TIOCSPTLCK, 0))
	n, err := unix.IoctlGetInt(int(master.Fd()), unix.TIOCGPTN)
	require.NoError(t, err)
	slave, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	require.NoError(t, err)
	t.Cleanup(func() { slave.Close() })
	require.NoError(t, unix.IoctlSetWinsize(int(slave.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 33, Col: 101}))
	return master, slave
}

// TestLab08CLI holds the graded checks of Docker's command-line conventions: --format,
// --filter, attach and log rotation.
func TestLab08CLI(t *testing.T) {
	labtest.RequireRoot(t)

	t.Run("inspect --format runs a template over the inspect document", func(t *testing.T) {
		bin := setup(t)
		res := bin.Run(t, "run", "--name", "mounted", "-v", "data:/data:ro", base, "sh", "-c", "exit 3")
		require.Equal(t, 3, res.Code, res)
		res = bin.Run(t, "inspect", "--format", "{{json .Mounts}}", "mounted")
		require.Equal(t, 0, res.Code, labtest.Hint("inspect --format TEMPLATE runs a Go text/template over the document").With(res))
		var mounts []map[string]any
		require.NoError(t, json.Unmarshal([]byte(res.Stdout), &mounts), labtest.Hint("{{json .Mounts}} prints the mounts as JSON").With(res))
		require.Len(t, mounts, 1, res)
		assert.Equal(t, "/data", mounts[0]["Destination"], labtest.Hint("the template sees the keys inspect prints"))
		assert.Equal(t, false, mounts[0]["RW"], labtest.Hint("a :ro mount has RW false, as in Docker"))
		res = bin.Run(t, "inspect", "-f", "{{.Name}} {{.State.Status}} {{.State.ExitCode}} {{.State.Running}} {{.Config.Image}}", "mounted")
		assert.Equal(t, "mounted exited 3 false "+base+"\n", res.Stdout, labtest.Hint("Docker's paths: .State.Status, .State.ExitCode, .Config.Image").With(res))
		res = bin.Run(t, "inspect", "-f", "{{.State.Nonsense}}", "mounted")
		assert.NotEqual(t, 0, res.Code, labtest.Hint("a key the document lacks is an error, not an empty line").With(res))
		res = bin.Run(t, "inspect", "-f", "{{index .RepoTags 0}} {{.Os}} {{json .Config.Cmd}}", base)
		assert.Equal(t, base+" linux [\"sh\"]\n", res.Stdout, labtest.Hint("image inspect has Docker's keys too: RepoTags, Os, Config.Cmd").With(res))
	})

	t.Run("ps --format prints a table header and --filter selects containers", func(t *testing.T) {
		bin := setup(t)
		require.Equal(t, 0, bin.Run(t, "run", "-d", "--name", "web", "-v", "used:/data", base, "sleep", "60").Code)
		require.Equal(t, 0, bin.Run(t, "run", "--name", "done", base, "true").Code)
		res := bin.Run(t, "ps", "--format", `table {{.ID}}\t{{.Names}}\t{{.Status}}`)
		require.Equal(t, 0, res.Code, res)
		lines := strings.Split(strings.TrimSpace(res.Stdout), "\n")
		require.Len(t, lines, 2, labtest.Hint("a header and the one running container").With(res))
		assert.Regexp(t, `^CONTAINER ID\s+NAMES\s+STATUS$`, lines[0], labtest.Hint("'table' adds a header named after the fields"))
		assert.Regexp(t, `^[0-9a-f]{12}\s+web\s+Up `, lines[1])
		res = bin.Run(t, "ps", "--filter", "status=exited", "--format", "{{.Names}} {{.Status}}")
		assert.Regexp(t, `^done Exited \(0\) .*ago\n$`, res.Stdout, labtest.Hint("--filter status=exited shows exited containers, without -a, and no header without 'table'").With(res))
		res = bin.Run(t, "ps", "-a", "-q", "--filter", "name=^we")
		id := strings.TrimSpace(res.Stdout)
		assert.Len(t, id, 12, labtest.Hint("-q prints only short IDs; name= is a pattern").With(res))
		res = bin.Run(t, "ps", "-a", "--filter", "id="+id[:6], "--format", "{{.Names}}")
		assert.Equal(t, "web\n", res.Stdout, labtest.Hint("id= matches a prefix of the ID").With(res))
		res = bin.Run(t, "ps", "--filter", "colour=red")
		assert.Equal(t, 125, res.Code, labtest.Hint("an unknown filter is an error").With(res))

		require.Equal(t, 0, bin.Run(t, "volume", "create", "lonely").Code)
		res = bin.Run(t, "volume", "ls", "-q", "--filter", "dangling=true")
		assert.Equal(t, "lonely\n", res.Stdout, labtest.Hint("dangling volumes are those no container mounts").With(res))
		res = bin.Run(t, "volume", "ls", "-q")
		assert.Equal(t, "lonely\nused\n", res.Stdout, labtest.Hint("volume ls -q lists only names").With(res))
	})

	t.Run("images --filter dangling=true lists an image whose tag moved", func(t *testing.T) {
		bin := setup(t)
		require.Equal(t, 0, bin.Run(t, "run", "--name", "src", base, "touch", "/made").Code)
		res := bin.Run(t, "commit", "src", "labs/app:v1")
		require.Equal(t, 0, res.Code, res)
		res = bin.Run(t, "images", "--filter", "reference=labs/app", "--format", "{{.ID}}")
		committed := strings.TrimSpace(res.Stdout)
		require.Len(t, committed, 12, labtest.Hint("images --format {{.ID}} prints the image ID").With(res))
		require.Equal(t, 0, bin.Run(t, "tag", base, "labs/app:v1").Code)
		res = bin.Run(t, "images", "--filter", "dangling=true", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}")
		assert.Equal(t, "<none>:<none> "+committed+"\n", res.Stdout, labtest.Hint("an image whose only name moved stays, as <none>:<none>").With(res))
		res = bin.Run(t, "images", "--format", "table {{.Repository}}\t{{.Tag}}")
		assert.Regexp(t, `(?m)^REPOSITORY\s+TAG$`, res.Stdout, res)
		assert.Regexp(t, `(?m)^labs/app\s+v1$`, res.Stdout, res)
		res = bin.Run(t, "system", "prune")
		require.Equal(t, 0, res.Code, res)
		res = bin.Run(t, "images", "-q", "--filter", "dangling=true")
		assert.Empty(t, res.Stdout, labtest.Hint("system prune removes dangling images no container uses").With(res))
	})

	t.Run("attach sends input, Ctrl-P Ctrl-Q detaches, and the exit status comes back", func(t *testing.T) {
		bin := setup(t)
		require.Equal(t, 0, bin.Run(t, "run", "-d", "-i", "--name", "catter", base, "cat").Code)
		stdin, input := pipe(t)
		var stdout, stderr syncBuffer
		_, done := startAttach(t, bin, stdin, &stdout, &stderr, "catter")
		// The first line may go before attach is connected; send until it comes back.
		echoed := waitFor(10*time.Second, func() bool {
			go func() { _, _ = input.Write([]byte("hello through the monitor\n")) }()
			return waitFor(time.Second, func() bool { return strings.Contains(stdout.String(), "hello through the monitor") })
		})
		assert.True(t, echoed, labtest.Hint("attach writes its input to the container's stdin and prints its output").With(stdout.String(), stderr.String()))
		go func() { _, _ = input.Write([]byte{0x10, 0x11}) }()
		code := exited(t, done, labtest.Hint("Ctrl-P Ctrl-Q detaches"))
		assert.Equal(t, 0, code, labtest.Hint("a detach exits 0").With(stderr.String()))
		res := bin.Run(t, "inspect", "-f", "{{.State.Running}}", "catter")
		assert.Equal(t, "true\n", res.Stdout, labtest.Hint("after a detach the container runs on").With(res))

		require.Equal(t, 0, bin.Run(t, "run", "-d", "-i", "--name", "quitter", base, "sh", "-c", "read line; echo got $line >&2; exit 3").Code)
		stdin2, input2 := pipe(t)
		var out2, err2 syncBuffer
		_, done2 := startAttach(t, bin, stdin2, &out2, &err2, "quitter")
		time.Sleep(300 * time.Millisecond)
		go func() { _, _ = input2.Write([]byte("go\n")) }()
		code = exited(t, done2, labtest.Hint("attach returns when the container ends"))
		assert.Equal(t, 3, code, labtest.Hint("attach returns the container's exit status, as docker attach does").With(err2.String()))
		assert.Equal(t, "got go\n", err2.String(), labtest.Hint("stderr arrives on stderr"))
	})

	t.Run("attach to a -t container puts the terminal in raw mode and detaches on Ctrl-P Ctrl-Q", func(t *testing.T) {
		bin := setup(t)
		require.Equal(t, 0, bin.Run(t, "run", "-d", "-i", "-t", "--name", "shell", base, "sh").Code)
		master, slave := openPty(t)
		_, done := startAttach(t, bin, slave, slave, slave, "shell")
		var screen syncBuffer
		go func() { _, _ = io.Copy(&screen, master) }()
		typed := waitFor(10*time.Second, func() bool {
			_, _ = master.Write([]byte("echo $((6*7)); stty size\r"))
			return waitFor(time.Second, func() bool { return strings.Contains(screen.String(), "42\r\n33 101") })
		})
		assert.True(t, typed, labtest.Hint("keys go to the container's terminal, which runs the shell's line; the caller's size is passed on").With(screen.String()))
		term, err := unix.IoctlGetTermios(int(slave.Fd()), unix.TCGETS)
		require.NoError(t, err)
		assert.Zero(t, term.Lflag&unix.ECHO, labtest.Hint("attach puts the caller's terminal in raw mode: the container's terminal echoes"))
		_, err = master.Write([]byte{0x10, 0x11})
		require.NoError(t, err)
		code := exited(t, done, labtest.Hint("Ctrl-P Ctrl-Q detaches"))
		assert.Equal(t, 0, code)
		term, err = unix.IoctlGetTermios(int(slave.Fd()), unix.TCGETS)
		require.NoError(t, err)
		assert.NotZero(t, term.Lflag&unix.ECHO, labtest.Hint("attach restores the terminal when it ends"))
		res := bin.Run(t, "inspect", "-f", "{{.State.Status}}", "shell")
		assert.Equal(t, "running\n", res.Stdout, labtest.Hint("the shell runs on after a detach").With(res))
	})

	t.Run("--log-opt max-size and max-file rotate the log, and logs prints the tail", func(t *testing.T) {
		bin := setup(t)
		res := bin.Run(t, "run", "--name", "chatty", "--log-opt", "max-size=1k", "--log-opt", "max-file=2", base,
			"sh", "-c", "i=0; while [ $i -lt 300 ]; do echo line $i; i=$((i+1)); done")
		require.Equal(t, 0, res.Code, labtest.Hint("run --log-opt max-size=1k --log-opt max-file=2").With(res))
		id := strings.TrimSpace(bin.Run(t, "inspect", "-f", "{{.Id}}", "chatty").Stdout)
		files, err := filepath.Glob(filepath.Join(os.Getenv(state.EnvRoot), "engine", "containers", id, "logs", "container.log*"))
		require.NoError(t, err)
		assert.Len(t, files, 2, labtest.Hint("max-file=2 keeps two files: container.log and container.log.1").With(files))
		for _, f := range files {
			info, err := os.Stat(f)
			require.NoError(t, err)
			assert.LessOrEqual(t, info.Size(), int64(1024), labtest.Hint("max-size=1k: %s rotates before it passes 1024 bytes", filepath.Base(f)))
		}
		res = bin.Run(t, "logs", "--tail", "2", "chatty")
		assert.Equal(t, "line 298\nline 299\n", res.Stdout, labtest.Hint("logs reads the newest file last").With(res))
		res = bin.Run(t, "logs", "chatty")
		assert.NotContains(t, res.Stdout, "line 0\n", labtest.Hint("the oldest lines rotated away"))
		assert.True(t, strings.HasSuffix(res.Stdout, "line 299\n"), res)
		res = bin.Run(t, "run", "--rm", "--log-opt", "max-size=huge", base, "true")
		assert.Equal(t, 125, res.Code, labtest.Hint("a bad size is an engine error").With(res))
	})
}
