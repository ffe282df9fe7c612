// Package labtest is the harness behind the graded checks in each lab's folder.
//
// A graded check runs a lab's binary as a learner would, from the outside, and asserts what
// the kernel really did (a file appeared in the upper dir, a process was OOM-killed). When it
// fails, it says what to fix in a line that starts with "hint: ", which scripts/grade.sh
// prints next to the check's name.
//
// The binary under test is the reference build of the lab, or, when LAB_BIN names a
// directory, the learner's own binary of the same name in it. Every check asks for the
// binary itself (Lab), so a missing or broken binary fails each check with a hint instead of
// stopping the whole suite, and the score stays meaningful: 0/8, not a crash.
//
// The escape gallery (gallery.go) runs the probe's attacks against every lab, and kernel.go
// reads what the checks trust: the kernel's own state.
//
// Only tests, and the workshop's tools in scripts/ (the grader's escape matrix), import this
// package.
package labtest

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
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

	"containerlabs/labs/mount"
	"containerlabs/labs/procfs"
	"containerlabs/labs/rootfs"
	"containerlabs/scripts/i18n"
)

// EnvBinDir names the environment variable that points the checks at a learner's binaries.
const EnvBinDir = "LAB_BIN"

// DefaultTimeout bounds every command a check runs, so a hung container fails the check
// instead of the whole test run.
const DefaultTimeout = 60 * time.Second

// Advice is the learner-facing advice of a check: a line that starts with "hint: ", which
// the grader prints next to a failed check. Pass it as the message of an assertion, alone
// or with the evidence attached: assert.Equal(t, 0, res.Code, labtest.Hint("...").With(res)).
type Advice string

// Hint formats the advice a failed check gives, in the learner's language: format is looked up
// in scripts/i18n's catalogue, Korean when CONTAINERLABS_LANG or the locale asks for it (the
// grader sets CONTAINERLABS_LANG for its --lang).
func Hint(format string, args ...any) Advice {
	hintLanguage.Do(func() { i18n.Use("") })
	return Advice("hint: " + i18n.Sprintf(format, args...))
}

// hintLanguage chooses the language of the hints once per test process.
var hintLanguage sync.Once

// With returns the advice followed by the evidence (a Result, say), one item per line.
func (a Advice) With(evidence ...any) string {
	var b strings.Builder
	b.WriteString(string(a))
	for _, e := range evidence {
		fmt.Fprintf(&b, "\n%v", e)
	}
	return b.String()
}

// RequireRoot skips t unless the test runs as root, which every kernel-facing check needs.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: run the tests with sudo (scripts/test.sh does)")
	}
}

// RepoRoot returns the directory that holds go.mod, found by walking up from the current
// directory (go test runs each package in its own folder).
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the current directory")
		}
		dir = parent
	}
}

// Binary is a lab program under test.
type Binary struct {
	// Name is the lab, such as "01-chroot"; Path is the executable.
	Name, Path string
}

var (
	buildMu sync.Mutex
	built   = map[string]builtLab{}
)

type builtLab struct {
	path string
	err  error
}

// Lab returns the binary of the named lab ("01-chroot"). With LAB_BIN set it is
// $LAB_BIN/NAME; otherwise the reference source in the repository is built into bin/ once
// per test process. If there is no usable binary, t fails with a hint and stops.
func Lab(t testing.TB, name string) *Binary {
	t.Helper()
	path, err := locate(name)
	if err != nil {
		if dir := os.Getenv(EnvBinDir); dir != "" {
			t.Fatalf("%v\n%s", err, Hint("put your build of %s in %s: go build -o %s/%s ./%s", name, dir, dir, name, name))
		}
		t.Fatalf("%v\n%s", err, Hint("the reference %s does not build; run: go build ./%s", name, name))
	}
	return &Binary{Name: name, Path: path}
}

func locate(name string) (string, error) {
	buildMu.Lock()
	defer buildMu.Unlock()
	if b, ok := built[name]; ok {
		return b.path, b.err
	}
	path, err := locateUncached(name)
	built[name] = builtLab{path, err}
	return path, err
}

func locateUncached(name string) (string, error) {
	if dir := os.Getenv(EnvBinDir); dir != "" {
		path, err := filepath.Abs(filepath.Join(dir, name))
		if err != nil {
			return "", err
		}
		info, err := os.Stat(path)
		if err != nil {
			return "", fmt.Errorf("%s=%s has no binary %s: %w", EnvBinDir, dir, name, err)
		}
		if info.IsDir() || info.Mode().Perm()&0o111 == 0 {
			return "", fmt.Errorf("%s is not an executable file", path)
		}
		return path, nil
	}
	if pkg, ok := cgoPrograms[name]; ok {
		return buildWith(name, pkg, true)
	}
	return build(name, name)
}

// cgoPrograms are the programs that need cgo, and where their source is: the engine and the
// runtime join namespaces in a C constructor (labs/runtime/nsenter) and compile seccomp
// filters with libseccomp. They are linked statically, like the labs' pure Go binaries.
var cgoPrograms = map[string]string{
	"08-engine": "08-engine",
	"labs-runc": "08-engine/labs-runc",
}

// CgoBuildFlags are the go build flags of a static binary that uses cgo: the os/user and
// net packages in pure Go (glibc's NSS cannot work in a static binary) and the external
// linker told to link statically. scripts/build.sh uses the same.
var CgoBuildFlags = []string{"-tags", "osusergo,netgo", "-ldflags", "-linkmode external -extldflags -static"}

// build compiles the package at pkg (relative to the repository root) into bin/name.
func build(name, pkg string) (string, error) {
	return buildWith(name, pkg, false)
}

func buildWith(name, pkg string, cgo bool) (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	out := filepath.Join(root, "bin", name)
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return "", err
	}
	// Several test packages may build at once; a lock file keeps their builds apart.
	lock, err := os.OpenFile(filepath.Join(root, "bin", ".build.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", err
	}
	args := []string{"build", "-o", out}
	// Static binaries: they can be copied into a root that has no libraries.
	env := "CGO_ENABLED=0"
	if cgo {
		args, env = append(args, CgoBuildFlags...), "CGO_ENABLED=1"
	}
	cmd := exec.Command("go", append(args, "./"+pkg)...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), env)
	if output, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build %s: %v\n%s", name, err, output)
	}
	return out, nil
}

// Result is what a finished command left behind.
type Result struct {
	Stdout, Stderr string
	// Code is the exit status as a shell reports it (128+N when killed by signal N), or -1
	// if the command could not be started.
	Code int
	// TimedOut is true when the command was killed for running past its timeout.
	TimedOut bool
	// Err is set when the command could not be started.
	Err error
}

// String summarises the result for a failure message.
func (r Result) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "exit status %d", r.Code)
	if r.TimedOut {
		b.WriteString(" (killed after the timeout)")
	}
	if r.Err != nil {
		fmt.Fprintf(&b, " (%v)", r.Err)
	}
	fmt.Fprintf(&b, "\n--- stdout:\n%s\n--- stderr:\n%s", clip(r.Stdout), clip(r.Stderr))
	return b.String()
}

func clip(s string) string {
	const max = 3000
	if len(s) > max {
		return s[:max] + "\n[... clipped]"
	}
	return s
}

// Options change how Run starts a command.
type Options struct {
	// Timeout overrides DefaultTimeout.
	Timeout time.Duration
	// Stdin is fed to the command; nil means /dev/null.
	Stdin io.Reader
	// Env adds variables to the test's own environment.
	Env []string
	// Dir is the working directory.
	Dir string
}

// Run runs the binary with args and waits for it (DefaultTimeout at most).
func (b *Binary) Run(t testing.TB, args ...string) Result {
	t.Helper()
	return b.RunWith(t, Options{}, args...)
}

// RunWith runs the binary with args and the given options and waits for it. The binary
// speaks English (englishOnly, usage.go) unless opts.Env says otherwise.
func (b *Binary) RunWith(t testing.TB, opts Options, args ...string) Result {
	t.Helper()
	opts.Env = append([]string{englishOnly}, opts.Env...)
	res := Command(t, opts, b.Path, args...)
	remember(t, func() string { return res.Stderr })
	return res
}

// Command runs any program the way Binary.Run does: in its own process group, killed with
// that group when the timeout passes.
func Command(t testing.TB, opts Options, path string, args ...string) Result {
	t.Helper()
	timeout := opts.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	cmd := exec.Command(path, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr, cmd.Stdin, cmd.Dir = &stdout, &stderr, opts.Stdin, opts.Dir
	cmd.Env = append(os.Environ(), opts.Env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return Result{Code: -1, Err: err}
	}
	pid := cmd.Process.Pid
	timer := time.AfterFunc(timeout, func() { _ = syscall.Kill(-pid, syscall.SIGKILL) })
	err := cmd.Wait()
	timedOut := !timer.Stop()
	res := Result{Stdout: stdout.String(), Stderr: stderr.String(), TimedOut: timedOut}
	var exitErr *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exitErr):
	default:
		res.Err = err
	}
	res.Code = exitCode(cmd.ProcessState)
	return res
}

func exitCode(state *os.ProcessState) int {
	if ws, ok := state.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return state.ExitCode()
}

// Process is a command started in the background by Start.
type Process struct {
	Cmd            *exec.Cmd
	stdout, stderr *lockedBuffer
	done           chan struct{}
}

// Start runs the binary with args in the background. The process is killed (by its own
// process group, which Start created) when the test ends, if it has not exited by then.
func (b *Binary) Start(t testing.TB, args ...string) *Process {
	t.Helper()
	p := &Process{stdout: &lockedBuffer{}, stderr: &lockedBuffer{}, done: make(chan struct{})}
	p.Cmd = exec.Command(b.Path, args...)
	p.Cmd.Env = append(os.Environ(), englishOnly)
	p.Cmd.Stdout, p.Cmd.Stderr = p.stdout, p.stderr
	p.Cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.Cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", b.Path, err)
	}
	remember(t, p.stderr.String)
	go func() {
		_ = p.Cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = syscall.Kill(-p.Cmd.Process.Pid, syscall.SIGKILL)
			<-p.done
		}
	})
	return p
}

// Wait waits up to timeout for the process to exit and returns its result.
func (p *Process) Wait(timeout time.Duration) Result {
	select {
	case <-p.done:
		return Result{Stdout: p.stdout.String(), Stderr: p.stderr.String(), Code: exitCode(p.Cmd.ProcessState)}
	case <-time.After(timeout):
		_ = syscall.Kill(-p.Cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
		return Result{Stdout: p.stdout.String(), Stderr: p.stderr.String(), Code: exitCode(p.Cmd.ProcessState), TimedOut: true}
	}
}

// Stdout returns what the process has written to its standard output so far.
func (p *Process) Stdout() string { return p.stdout.String() }

// Stderr returns what the process has written to its standard error so far.
func (p *Process) Stderr() string { return p.stderr.String() }

// WaitForOutput waits until the process's standard output contains want.
func (p *Process) WaitForOutput(want string, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if strings.Contains(p.stdout.String(), want) {
			return true
		}
		select {
		case <-p.done:
			return strings.Contains(p.stdout.String(), want)
		case <-time.After(20 * time.Millisecond):
		}
	}
	return false
}

// Await waits (10 s at most) until the process has written want to its standard output;
// if it does not, t fails with the advice and what the process wrote.
func (p *Process) Await(t testing.TB, want string, advice Advice) {
	t.Helper()
	if !p.WaitForOutput(want, 10*time.Second) {
		t.Fatal(advice.With(fmt.Sprintf("(waited for %q)", want), p.Wait(time.Second)))
	}
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TempDir returns a new directory that is removed when the test ends. Unlike t.TempDir it
// first unmounts everything mounted beneath it, and refuses to delete it if that fails:
// removing a directory that still holds a bind mount of the host, or its /proc, would
// delete or corrupt host files through it.
func TempDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "containerlabs-test-")
	if err != nil {
		t.Fatalf("make temp dir: %v", err)
	}
	dir, err = filepath.EvalSymlinks(dir)
	if err != nil {
		t.Fatalf("make temp dir: %v", err)
	}
	t.Cleanup(func() { RemoveTree(t, dir) })
	return dir
}

// RemoveTree unmounts everything beneath dir and removes it, failing t (and keeping dir) if
// a mount cannot be undone.
func RemoveTree(t testing.TB, dir string) {
	t.Helper()
	if err := mount.UnmountAll(dir); err != nil {
		t.Errorf("unmount everything under %s: %v (left in place)", dir, err)
		return
	}
	if left, err := mount.Under(dir); err != nil || len(left) > 0 {
		t.Errorf("mounts remain under %s: %v %v (left in place)", dir, left, err)
		return
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Errorf("remove %s: %v", dir, err)
	}
}

// BusyboxRoot returns a fresh busybox root file system in a TempDir.
func BusyboxRoot(t testing.TB) string {
	t.Helper()
	dir := TempDir(t)
	if err := rootfs.Busybox(dir); err != nil {
		t.Fatalf("make busybox rootfs: %v\n%s", err, Hint("install busybox-static (scripts/setup.sh does)"))
	}
	return dir
}

// tool is a static helper program the checks copy into container roots, built once per
// test process.
type tool struct {
	name, pkg string
	once      sync.Once
	path      string
	err       error
}

var (
	probe = &tool{name: "probe", pkg: "labs/labtest/probe"}
	pause = &tool{name: "pause", pkg: "labs/labtest/pause"}
)

// install copies the tool into root as /NAME.
func (tl *tool) install(t testing.TB, root string) {
	t.Helper()
	tl.once.Do(func() {
		// In the cgroup v2 VM there is no Go toolchain: the script puts the built tools
		// beside the lab binaries.
		if dir := os.Getenv(EnvBinDir); dir != "" {
			if _, err := os.Stat(filepath.Join(dir, tl.name)); err == nil {
				tl.path = filepath.Join(dir, tl.name)
				return
			}
		}
		tl.path, tl.err = build(tl.name, tl.pkg)
	})
	if tl.err != nil {
		t.Fatalf("build the %s: %v", tl.name, tl.err)
	}
	if _, err := rootfs.CopyFile(tl.path, filepath.Join(root, tl.name)); err != nil {
		t.Fatalf("install the %s: %v", tl.name, err)
	}
}

// InstallProbe copies the static probe program (labs/labtest/probe) into root as /probe,
// for checks that ask what a process inside a container sees.
func InstallProbe(t testing.TB, root string) {
	t.Helper()
	probe.install(t, root)
}

// InstallPause copies the static pause program (labs/labtest/pause) into root as /pause:
// the process that holds a pod's namespaces, for the CRI checks' pause image.
func InstallPause(t testing.TB, root string) {
	t.Helper()
	pause.install(t, root)
}

// Marker writes a file with random content into a new host directory that no container
// root contains, and returns its path and content. A check that reads the content back from
// inside a container has proven that the container reached the host's files.
func Marker(t testing.TB) (path, content string) {
	t.Helper()
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("make marker: %v", err)
	}
	content = hex.EncodeToString(b)
	path = filepath.Join(TempDir(t), "marker")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatalf("make marker: %v", err)
	}
	return path, content
}

// Children returns the PIDs of the processes whose parent is pid, read from /proc.
func Children(pid int) []int {
	all, _ := procfs.PIDs()
	var children []int
	for _, child := range all {
		p, err := procfs.Inspect(child)
		if err == nil && p.PPID == pid {
			children = append(children, child)
		}
	}
	return children
}

// WaitForChild waits until pid has a child process and returns the child's PID.
func WaitForChild(t testing.TB, pid int) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if children := Children(pid); len(children) > 0 {
			return children[0]
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("process %d started no child within 10s", pid)
	return 0
}

// MountsUnder returns the mount points at or beneath dir, for checks that nothing is left.
func MountsUnder(t testing.TB, dir string) []string {
	t.Helper()
	infos, err := mount.Under(dir)
	if err != nil {
		t.Fatalf("read mount table: %v", err)
	}
	var targets []string
	for _, m := range infos {
		targets = append(targets, m.Target)
	}
	return targets
}

// Snapshot is what a check compares before and after a lab ran, to prove the lab left the
// host as it found it: the mount table, network links and addresses, iptables rules and
// the cgroups under the labs' parent.
type Snapshot struct {
	Mounts, Links, Addresses, Rules, Cgroups []string
}

// TakeSnapshot records the host state that the labs may change.
func TakeSnapshot(t testing.TB) Snapshot {
	t.Helper()
	var s Snapshot
	if table, err := mount.Table(); err == nil {
		for _, m := range table {
			s.Mounts = append(s.Mounts, m.Target+" "+m.FSType)
		}
	}
	s.Links = lines(commandOutput("ip", "-o", "link", "show"), func(l string) string {
		// "12: vethX@if11: <...> ..." -> "vethX@if11"; counters and state do not matter.
		if _, rest, ok := strings.Cut(l, ": "); ok {
			name, _, _ := strings.Cut(rest, ":")
			return name
		}
		return l
	})
	s.Addresses = lines(commandOutput("ip", "-o", "addr", "show"), func(l string) string {
		f := strings.Fields(l)
		if len(f) >= 4 {
			return f[1] + " " + f[3]
		}
		return l
	})
	for _, table := range []string{"filter", "nat", "mangle"} {
		s.Rules = append(s.Rules, lines(commandOutput("iptables-save", "-t", table), func(l string) string {
			switch {
			case strings.HasPrefix(l, "#"):
				return "" // comments carry timestamps
			case strings.HasPrefix(l, "*"), l == "COMMIT":
				// A table that the first rule created stays, empty, after the last is gone
				// (iptables-nft); an empty table is as good as none.
				return ""
			case strings.HasPrefix(l, ":"):
				// ":CHAIN POLICY [packets:bytes]" -> ":CHAIN POLICY"; built-in chains exist
				// in every table that exists.
				f := strings.Fields(l)
				if len(f) >= 2 && !builtinChains[strings.TrimPrefix(f[0], ":")] {
					return f[0] + " " + f[1]
				}
				return ""
			}
			return l
		})...)
	}
	_ = filepath.Walk("/sys/fs/cgroup", func(path string, info os.FileInfo, err error) error {
		if err == nil && info.IsDir() && strings.Contains(path, "containerlabs") {
			s.Cgroups = append(s.Cgroups, path)
		}
		return nil
	})
	return s
}

// AssertUnchanged fails t, with advice, for everything that differs from the snapshot now.
func (s Snapshot) AssertUnchanged(t testing.TB, advice Advice) {
	t.Helper()
	now := TakeSnapshot(t)
	for _, c := range []struct {
		what        string
		before, now []string
	}{
		{"mounts", s.Mounts, now.Mounts}, {"network links", s.Links, now.Links},
		{"addresses", s.Addresses, now.Addresses}, {"iptables rules", s.Rules, now.Rules},
		{"cgroups", s.Cgroups, now.Cgroups},
	} {
		added, removed := difference(c.before, c.now)
		if len(added) > 0 || len(removed) > 0 {
			t.Errorf("%s changed: left behind %q, gone %q\n%s", c.what, added, removed, advice)
		}
	}
}

var builtinChains = map[string]bool{"PREROUTING": true, "INPUT": true, "FORWARD": true, "OUTPUT": true, "POSTROUTING": true}

func commandOutput(name string, args ...string) string {
	out, _ := exec.Command(name, args...).Output()
	return string(out)
}

func lines(text string, normalise func(string) string) []string {
	var out []string
	for l := range strings.SplitSeq(text, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			if l = normalise(l); l != "" {
				out = append(out, l)
			}
		}
	}
	return out
}

func difference(before, after []string) (added, removed []string) {
	count := map[string]int{}
	for _, b := range before {
		count[b]++
	}
	for _, a := range after {
		if count[a] > 0 {
			count[a]--
			continue
		}
		added = append(added, a)
	}
	for b, n := range count {
		for range n {
			removed = append(removed, b)
		}
	}
	return added, removed
}
