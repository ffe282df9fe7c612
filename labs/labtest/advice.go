package labtest

import (
	"regexp"
	"strings"
	"sync"
	"testing"
)

// When a check fails, the learner needs what their program said, not only what the check
// expected: a failed pivot_root shows up as "the container should start". So every run of
// a lab's binary is remembered per check, and a failed check ends with the last lines of
// that run's standard error (as "stderr| " lines, which scripts/grade.sh prints under the
// check) and, for errors the kernel is known to give for a known mistake, a hint.

// StderrPrefix starts each line of a failed check's output that quotes the program's
// standard error.
const StderrPrefix = "stderr| "

// stderrLines is how many of the last lines of standard error a failed check shows.
const stderrLines = 8

// KnownErrors map what the kernel says, as the program reports it, to the usual cause.
var KnownErrors = []struct {
	Pattern *regexp.Regexp
	Advice  string
}{
	{regexp.MustCompile(`(?i)pivot_root.*invalid argument`),
		"pivot_root(2) says EINVAL when the new root is not a mount point, or when it or the old root is on a shared mount: make every mount private first (mount.MakePrivate(\"/\"), MS_REC|MS_PRIVATE), then bind DIR onto itself (MS_BIND|MS_REC)"},
	{regexp.MustCompile(`(?i)pivot_root.*(operation not permitted|device or resource busy)`),
		"pivot_root(2) must run in a new mount namespace (CLONE_NEWNS), from inside the new root (chdir into it), with the new root a mount point"},
	{regexp.MustCompile(`(?i)mount.*operation not permitted`),
		"mount(2) needs CAP_SYS_ADMIN for the mount namespace: run as root, and mount in the child, which is in the new namespaces"},
	{regexp.MustCompile(`(?i)(rmdir|remove).*cgroup.*device or resource busy|cgroup.*(rmdir|remove).*device or resource busy`),
		"a cgroup that still has processes cannot be removed: kill everything in it (cgroup.procs) and wait for it to be empty first"},
	{regexp.MustCompile(`(?i)(cgroup\.procs|subtree_control).*(invalid argument|device or resource busy|operation not supported)`),
		"cgroup v2's rule: a cgroup with processes in it cannot give controllers to children (no internal processes); enable controllers in the parent's cgroup.subtree_control before moving anyone in"},
	{regexp.MustCompile(`(?i)overlay.*invalid argument`),
		"overlayfs refuses an upper or work dir on overlayfs or on a file system without d_type, and lowerdir lists the top layer first; `dmesg | tail` says which"},
	{regexp.MustCompile(`(?i)(uid_map|gid_map).*(operation not permitted|invalid argument)`),
		"uid_map and gid_map are written once, by the parent (outside the new user namespace), before the child calls execve"},
	{regexp.MustCompile(`(?i)file exists`),
		"something of the same name is left from an earlier run that was killed: remove stale state (a veth, a cgroup, a state directory) before making it again"},
	{regexp.MustCompile(`(?i)TODO\(lab \d\d\)`),
		"the program ran into a step of the starter that is still to do: see the TODO above"},
}

// explain is what a failed check adds about the last run of the lab's binary.
func explain(stderr string) []string {
	var out []string
	lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
	if strings.TrimSpace(stderr) == "" {
		return nil
	}
	for _, known := range KnownErrors {
		if known.Pattern.MatchString(stderr) {
			out = append(out, string(Hint("%s", known.Advice)))
		}
	}
	out = append(out, "the last lines the program wrote to stderr:")
	for _, l := range lines[max(0, len(lines)-stderrLines):] {
		out = append(out, StderrPrefix+l)
	}
	return out
}

// lastRuns holds, per running check, how to get the standard error of its latest run of a
// lab's binary.
var lastRuns sync.Map // testing.TB -> *lastRun

type lastRun struct {
	mu     sync.Mutex
	stderr func() string
}

// remember makes stderr the latest run of a check; when the check ends failed, its last lines
// are logged.
func remember(t testing.TB, stderr func() string) {
	r, loaded := lastRuns.LoadOrStore(t, &lastRun{})
	run := r.(*lastRun)
	run.mu.Lock()
	run.stderr = stderr
	run.mu.Unlock()
	if loaded {
		return
	}
	t.Cleanup(func() {
		defer lastRuns.Delete(t)
		if !t.Failed() {
			return
		}
		run.mu.Lock()
		defer run.mu.Unlock()
		if lines := explain(run.stderr()); len(lines) > 0 {
			t.Log(strings.Join(lines, "\n"))
		}
	})
}
