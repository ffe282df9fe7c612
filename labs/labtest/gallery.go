package labtest

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"containerlabs/labs/rootfs"
)

// The escape gallery is a set of attacks that a process in a container tries against the
// host, each a subcommand of the probe (labs/labtest/probe/gallery.go), each against a
// decoy the check makes for it. Every lab runs every attack, and each outcome is a graded
// check: an attack must work (open) in the labs before the one that closes it, and fail
// (closed) from that lab on. So a lab that closes a hole too early fails as surely as one
// that leaves it open too long, and the matrix of outcomes (scripts/escapes.sh) is the
// lesson that namespaces hide things while only lab 08's hardening takes privilege away.

// Exhibit is one attack of the gallery.
type Exhibit struct {
	// Name is the probe's subcommand and the row of the matrix.
	Name string
	// Attack says what the attack tries.
	Attack string
	// ClosedBy is the first lab in which the attack fails; By names what closes it there, in
	// a few words, and Closer says how.
	ClosedBy   int
	By, Closer string
	// OnlyIn, when set, is the one lab that has what the attack needs (docker cp in lab 08).
	OnlyIn int
	try    func(g *gallery, t *testing.T) outcome
}

// Gallery lists the attacks in the order of the matrix's rows.
var Gallery = []Exhibit{
	{Name: "chroot", By: "pivot_root", Attack: `climb out of the root with chroot(2) and ".."`, ClosedBy: 3,
		Closer: "pivot_root: the host's root is no longer mounted in the container's mount namespace", try: tryChroot},
	{Name: "hostps", By: "PID namespace", Attack: "find a host process in /proc and kill it", ClosedBy: 3,
		Closer: "the PID namespace: host processes have no number inside", try: tryHostProcess},
	{Name: "sniff", By: "network namespace", Attack: "capture the host's network traffic", ClosedBy: 3,
		Closer: "the network namespace: the host's interfaces are not there", try: trySniff},
	{Name: "exe", By: "PID namespace", Attack: "overwrite the runtime's binary through /proc/PID/exe (CVE-2019-5736)", ClosedBy: 3,
		Closer: "the PID namespace: every process inside dies with the container, so none outlives the runtime to write its binary", try: tryOverwriteRuntime},
	{Name: "fork", By: "pids limit", Attack: "fork bomb: 200 processes", ClosedBy: 4,
		Closer: "the pids controller (--pids-limit)", try: tryForkBomb},
	{Name: "hog", By: "memory limit", Attack: "memory hog: 160 MiB", ClosedBy: 4,
		Closer: "the memory controller (--memory)", try: tryMemoryHog},
	{Name: "disk", By: "device cgroup", Attack: "mknod a host disk, mount it and read it", ClosedBy: 8,
		Closer: "the device cgroup refuses the disk; without CAP_SYS_ADMIN, mount(2) is refused", try: tryHostDisk},
	{Name: "sysctl", By: "read-only /proc/sys", Attack: "open a host sysctl (kernel.core_pattern) for writing", ClosedBy: 8,
		Closer: "/proc/sys is mounted read-only", try: tryVerdict("sysctl")},
	{Name: "sysrq", By: "read-only /proc parts", Attack: "open /proc/sysrq-trigger (or, without SysRq, /proc/irq) for writing", ClosedBy: 8,
		Closer: "/proc/sysrq-trigger and /proc/irq are mounted read-only", try: tryVerdict("sysrq")},
	{Name: "sysfs", By: "no CAP_SYS_ADMIN", Attack: "remount /sys read-write", ClosedBy: 8,
		Closer: "no CAP_SYS_ADMIN, and seccomp refuses mount(2)", try: tryVerdict("sysfs")},
	{Name: "keyctl", By: "seccomp", Attack: "read a key from the host root's keyring", ClosedBy: 8,
		Closer: "seccomp refuses keyctl(2): keys belong to no namespace but the user namespace", try: tryHostKey},
	{Name: "ptrace", By: "no CAP_SYS_PTRACE", Attack: "ptrace a process of another user", ClosedBy: 8,
		Closer: "no CAP_SYS_PTRACE", try: tryVerdict("ptrace")},
	{Name: "unshare", By: "no CAP_SYS_ADMIN", Attack: "make new namespaces (where a root's kernel exploits start)", ClosedBy: 8,
		Closer: "no CAP_SYS_ADMIN, and seccomp refuses unshare(2)", try: tryVerdict("unshare")},
	{Name: "rawsock", By: "no CAP_NET_RAW", Attack: "open a raw packet socket (forge frames, ARP-spoof neighbours)", ClosedBy: 8,
		Closer: "no CAP_NET_RAW (ping still works: net.ipv4.ping_group_range)", try: tryVerdict("rawsock")},
	{Name: "cp", By: "cp inside the root", Attack: "swap in a symlink while docker cp copies out (CVE-2018-15664)", ClosedBy: 8, OnlyIn: 8,
		Closer: "cp resolves the path inside the container's root as it opens it", try: tryCopySwap},
}

// Expected is what the attack should do against lab n: "open", "closed", or "" when the lab
// lacks what the attack needs.
func (e Exhibit) Expected(n int) string {
	switch {
	case e.OnlyIn != 0 && n != e.OnlyIn:
		return ""
	case n < e.ClosedBy:
		return "open"
	}
	return "closed"
}

// CheckName is the name of the check of the attack against lab n, as a subtest of
// TestEscapes: "escape chroot is open".
func (e Exhibit) CheckName(n int) string {
	return fmt.Sprintf("escape %s is %s", e.Name, e.Expected(n))
}

// GalleryLog starts the line each gallery check logs with its outcome, for scripts/escapes:
// "escape-gallery NAME LAB open|closed|failed".
const GalleryLog = "escape-gallery"

// Container runs command (a path in the root the gallery prepared) in a new container of
// bin (the lab's binary, or the copy the exe attack makes of it), with the lab's flags, and
// waits for it.
type Container func(t testing.TB, bin *Binary, flags []string, command ...string) Result

// GalleryLab tells the gallery how to make containers of one lab.
type GalleryLab struct {
	// Run runs a command in a new container (see Container).
	Run Container
	// Limits are the flags the attacks run with: labs 04 and later give them the limits they
	// offer, --memory 64m --pids-limit 64.
	Limits []string
	// Detach, for a lab with a cp command, starts /probe with args in a container in the
	// background and returns a function that copies the file at path out of it, as
	// `docker cp CONTAINER:PATH DEST` does, returning the copy's content.
	Detach func(t testing.TB, bin *Binary, probeArgs ...string) (copyOut func(path string) (string, Result))
}

// RunGallery runs every attack of the gallery against the lab named lab ("03-namespaces")
// as one check each. setup is called once, before the checks, with the lab's binary and a
// root file system (busybox with /probe), and returns how to run containers of the lab on it.
func RunGallery(t *testing.T, lab string, setup func(t *testing.T, bin *Binary, root string) GalleryLab) {
	RequireRoot(t)
	var n int
	if _, err := fmt.Sscanf(lab, "%02d-", &n); err != nil {
		t.Fatalf("%q is not a lab name", lab)
	}
	bin := Lab(t, lab)
	root := BusyboxRoot(t)
	InstallProbe(t, root)
	g := &gallery{parent: t, lab: n, name: lab, bin: bin, containers: setup(t, bin, root)}
	g.run = func(t testing.TB, bin *Binary, args ...string) Result {
		return g.containers.Run(t, bin, g.containers.Limits, append([]string{"/probe"}, args...)...)
	}
	for _, e := range Gallery {
		if e.Expected(n) == "" {
			continue
		}
		t.Run(e.CheckName(n), func(t *testing.T) {
			out := e.try(g, t)
			observed := "failed"
			if out.ran {
				observed = map[bool]string{true: "open", false: "closed"}[out.open]
			}
			t.Logf("%s %s %02d %s", GalleryLog, e.Name, n, observed)
			want := e.Expected(n)
			if !out.ran {
				t.Fatal(Hint("the attack did not run: a container of %s must start and run /probe %s to its verdict", lab, e.Name).With(out.res))
			}
			if want == "open" && !out.open {
				t.Fatal(Hint("%s: this attack should still work in lab %02d; it is closed from lab %02d on, by %s. Closing it early changes what the lab teaches", e.Attack, n, e.ClosedBy, e.Closer).With(out.evidence, out.res))
			}
			if want == "closed" && out.open {
				t.Fatal(Hint("%s: this attack must fail from lab %02d on, closed by %s", e.Attack, e.ClosedBy, e.Closer).With(out.evidence, out.res))
			}
		})
	}
}

type gallery struct {
	parent     *testing.T
	lab        int
	name       string
	bin        *Binary
	containers GalleryLab
	// run runs the probe with args in a container with the lab's limits.
	run       func(t testing.TB, bin *Binary, args ...string) Result
	disk      string // MAJOR:MINOR of the decoy disk, once made
	diskToken string
}

// outcome is what one attack did: whether it ran to a verdict, whether it worked, and the
// evidence.
type outcome struct {
	ran, open bool
	evidence  string
	res       Result
}

var verdictLine = regexp.MustCompile(`(?m)^(open|closed): (.*)$`)

// verdict reads the probe's verdict from its output.
func verdict(res Result) outcome {
	m := verdictLine.FindAllStringSubmatch(res.Stdout, -1)
	if len(m) == 0 {
		return outcome{res: res}
	}
	last := m[len(m)-1]
	return outcome{ran: true, open: last[1] == "open", evidence: last[0], res: res}
}

func token(t testing.TB) string {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

func tryVerdict(name string) func(g *gallery, t *testing.T) outcome {
	return func(g *gallery, t *testing.T) outcome {
		return verdict(g.run(t, g.bin, name))
	}
}

func tryChroot(g *gallery, t *testing.T) outcome {
	marker, secret := Marker(t)
	out := verdict(g.run(t, g.bin, "chroot", marker))
	// Either way the climb must have happened: it reaches the root of the container's mount
	// namespace, and open means the host's file is there.
	out.ran = out.ran && strings.Contains(out.res.Stdout, "reached the root of this mount namespace")
	out.open = out.open && strings.Contains(out.res.Stdout, secret)
	return out
}

// tryHostProcess starts a decoy process on the host and lets the probe look for it; the
// decoy's wait status, from the kernel, says whether the probe's SIGTERM reached it.
func tryHostProcess(g *gallery, t *testing.T) outcome {
	tag := token(t)
	decoy := exec.Command(probePath(t), "sleep", "30", "decoy-"+tag)
	decoy.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	require.NoError(t, decoy.Start())
	exited := make(chan syscall.WaitStatus, 1)
	go func() {
		_ = decoy.Wait()
		exited <- decoy.ProcessState.Sys().(syscall.WaitStatus)
	}()
	t.Cleanup(func() { _ = decoy.Process.Kill() })
	out := verdict(g.run(t, g.bin, "hostps", tag))
	select {
	case status := <-exited:
		killed := status.Signaled() && status.Signal() == syscall.SIGTERM
		out.open = out.open && killed
		out.evidence += fmt.Sprintf("\n(the decoy on the host ended: %v)", status)
	case <-time.After(2 * time.Second):
		out.open = false
		out.evidence += "\n(the decoy on the host is still alive)"
	}
	return out
}

// trySniff sends datagrams with a tag over the host's loopback while the probe listens.
func trySniff(g *gallery, t *testing.T) outcome {
	tag := token(t)
	conn, err := net.Dial("udp", "127.0.0.1:9") // discard: nothing needs to listen
	require.NoError(t, err)
	defer conn.Close()
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
				_, _ = conn.Write([]byte("sniff-decoy-" + tag))
			}
		}
	}()
	return verdict(g.run(t, g.bin, "sniff", tag))
}

func tryForkBomb(g *gallery, t *testing.T) outcome {
	out := verdict(g.run(t, g.bin, "fork", "200"))
	if out.ran && !out.open {
		out.ran = strings.Contains(out.evidence, "then refused")
	}
	return out
}

// tryMemoryHog: open when the hog survives; closed when the OOM killer ended it after it
// had started allocating.
func tryMemoryHog(g *gallery, t *testing.T) outcome {
	res := g.run(t, g.bin, "hog", "160")
	out := verdict(res)
	if !out.ran && res.Code == 137 && strings.Contains(res.Stdout, "allocated 8 MiB") {
		out = outcome{ran: true, evidence: "killed (exit 137) after " + lastLine(res.Stdout), res: res}
	}
	return out
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// tryHostDisk makes the decoy disk once: a small ext2 file system in a file, holding a file
// with a token, behind a read-only loop device.
func tryHostDisk(g *gallery, t *testing.T) outcome {
	if g.disk == "" {
		for _, tool := range []string{"mkfs.ext2", "losetup"} {
			if _, err := exec.LookPath(tool); err != nil {
				t.Skipf("needs %s (e2fsprogs, util-linux) to make the decoy disk", tool)
			}
		}
		dir := TempDir(g.parent)
		g.diskToken = token(t)
		require.NoError(t, os.Mkdir(filepath.Join(dir, "files"), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "files/secret"), []byte("containerlabs-decoy:"+g.diskToken+"\n"), 0o644))
		image := filepath.Join(dir, "disk.img")
		if out, err := exec.Command("mkfs.ext2", "-q", "-F", "-d", filepath.Join(dir, "files"), image, "1M").CombinedOutput(); err != nil {
			t.Skipf("cannot make the decoy disk: mkfs.ext2: %v: %s", err, out)
		}
		out, err := exec.Command("losetup", "--find", "--show", "--read-only", image).Output()
		if err != nil {
			t.Skipf("cannot make the decoy disk: no loop device (losetup: %v)", err)
		}
		device := strings.TrimSpace(string(out))
		g.parent.Cleanup(func() { _ = exec.Command("losetup", "--detach", device).Run() })
		var st unix.Stat_t
		require.NoError(t, unix.Stat(device, &st))
		g.disk = fmt.Sprintf("%d:%d", unix.Major(st.Rdev), unix.Minor(st.Rdev))
	}
	out := verdict(g.run(t, g.bin, "disk", g.disk))
	out.open = out.open && strings.Contains(out.evidence, g.diskToken)
	return out
}

// tryHostKey adds a key to the host root's user keyring for the probe to find.
func tryHostKey(g *gallery, t *testing.T) outcome {
	description, secret := "containerlabs-decoy-"+token(t), token(t)
	id, err := unix.AddKey("user", description, []byte(secret), unix.KEY_SPEC_USER_KEYRING)
	if err != nil {
		t.Skipf("cannot add the decoy key to root's keyring: %v", err)
	}
	t.Cleanup(func() {
		_, _ = unix.KeyctlInt(unix.KEYCTL_UNLINK, id, unix.KEY_SPEC_USER_KEYRING, 0, 0)
		_, _ = unix.KeyctlInt(unix.KEYCTL_INVALIDATE, id, 0, 0, 0)
	})
	out := verdict(g.run(t, g.bin, "keyctl", description))
	out.open = out.open && strings.Contains(out.evidence, secret)
	return out
}

// exeWait is how long the exe attack's waiter waits for the runtime's binary to be free.
const exeWait = 2 * time.Second

// tryOverwriteRuntime runs a copy of the lab's binary, in a directory whose name is the tag
// that limits the probe's targets, and watches the copy's first bytes.
func tryOverwriteRuntime(g *gallery, t *testing.T) outcome {
	tag := "decoy-runtime-" + token(t)
	dir := filepath.Join(TempDir(t), tag)
	require.NoError(t, os.Mkdir(dir, 0o755))
	copyPath := filepath.Join(dir, filepath.Base(g.bin.Path))
	_, err := rootfs.CopyFile(g.bin.Path, copyPath)
	require.NoError(t, err)
	original, err := os.ReadFile(copyPath)
	require.NoError(t, err)
	res := g.run(t, &Binary{Name: g.bin.Name, Path: copyPath}, "exe", tag, fmt.Sprint(int(exeWait.Seconds())))
	out := outcome{res: res, ran: strings.Contains(res.Stdout, "waiting in the background")}
	if m := regexp.MustCompile(`background \(PID (\d+)\)`).FindStringSubmatch(res.Stdout); m != nil {
		t.Cleanup(func() { stopWaiter(m[1], tag) })
	}
	deadline := time.Now().Add(exeWait + 500*time.Millisecond)
	for time.Now().Before(deadline) {
		now, err := os.ReadFile(copyPath)
		if err == nil && len(now) > 0 && string(now[:min(len(now), 64)]) != string(original[:64]) {
			out.open = true
			out.evidence = fmt.Sprintf("the copy of the binary now starts with %q", now[:min(len(now), 40)])
			return out
		}
		time.Sleep(20 * time.Millisecond)
	}
	out.evidence = "the copy of the binary is unchanged"
	return out
}

// stopWaiter ends the exe attack's waiter if it still runs on the host. It first lets it end
// by itself (it gives up after exeWait, and returns as soon as it has written), because on
// its way out it unmounts the procfs it mounted in the root: killed, it would leave that
// mount, and the root it is in, behind (lab 01 has no mount namespace to take them away).
// Only a process whose command line is the waiter's, with this check's tag, is waited for
// and killed, because in a PID namespace the number the probe printed is not a host PID.
func stopWaiter(pid, tag string) {
	isWaiter := func() bool {
		cmdline, err := os.ReadFile(filepath.Join("/proc", pid, "cmdline"))
		return err == nil && strings.Contains(string(cmdline), "exe-wait\x00"+tag)
	}
	for end := time.Now().Add(exeWait + time.Second); isWaiter() && time.Now().Before(end); {
		time.Sleep(20 * time.Millisecond)
	}
	if n, err := strconv.Atoi(pid); err == nil && isWaiter() {
		_ = syscall.Kill(n, syscall.SIGKILL)
	}
}

// tryCopySwap copies the path of the host's marker out of a container that keeps swapping a
// directory with a symlink to "/": open if the host's file ever comes out.
func tryCopySwap(g *gallery, t *testing.T) outcome {
	if g.containers.Detach == nil {
		t.Fatalf("%s has no cp: the gallery's lab needs Detach", g.name)
	}
	marker, secret := Marker(t)
	copyOut := g.containers.Detach(t, g.bin, "swap", marker, "4")
	var out outcome
	own := 0
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); {
		content, res := copyOut(filepath.Join("/w/d", marker))
		out.res = res
		switch {
		case content == secret:
			return outcome{ran: true, open: true, evidence: "cp copied the host's " + marker, res: res}
		case strings.Contains(content, "the container's own file"):
			own++
		}
	}
	out.ran = own > 0
	out.evidence = fmt.Sprintf("%d copies, each of the container's own file", own)
	return out
}

// probePath is the host path of the built probe (see InstallProbe).
func probePath(t testing.TB) string {
	t.Helper()
	InstallProbe(t, TempDir(t))
	return probe.path
}
