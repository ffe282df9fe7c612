package main_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netlink"

	"containerlabs/labs/engine"
	"containerlabs/labs/labtest"
	"containerlabs/labs/mount"
	"containerlabs/labs/rootfs"
	"containerlabs/labs/state"
)

// isMountPoint reports whether dir is a mount point of this host.
func isMountPoint(dir string) bool {
	table, err := mount.Table()
	if err != nil {
		return false
	}
	for _, m := range table {
		if m.Target == dir {
			return true
		}
	}
	return false
}

// capabilities runs a container with the given options and returns its init's CapEff and
// CapBnd, as /proc shows them.
func capabilities(t *testing.T, bin *labtest.Binary, options ...string) (eff, bnd string, res labtest.Result) {
	args := append(append([]string{"run", "--rm", "--network", "none"}, options...), base, "grep", "-E", "^Cap(Eff|Bnd):", "/proc/1/status")
	res = bin.Run(t, args...)
	for _, line := range strings.Split(res.Stdout, "\n") {
		if v, ok := strings.CutPrefix(line, "CapEff:\t"); ok {
			eff = v
		}
		if v, ok := strings.CutPrefix(line, "CapBnd:\t"); ok {
			bnd = v
		}
	}
	return eff, bnd, res
}

// openStateRoot gives a check a state root as a host has one, /var/lib/containerlabs made
// by the engine in a directory everyone may pass (not a private temp dir, which would hide
// what the engine's own modes allow), with the busybox image and one whose /bin/suid is a
// setuid-root copy of busybox.
func openStateRoot(t *testing.T, bin *labtest.Binary) string {
	parent := labtest.TempDir(t)
	require.NoError(t, os.Chmod(parent, 0o755))
	root := filepath.Join(parent, "containerlabs")
	t.Setenv(state.EnvRoot, root)
	t.Cleanup(func() {
		if ids := strings.Fields(bin.Run(t, "ps", "-aq").Stdout); len(ids) > 0 {
			bin.Run(t, append([]string{"rm", "-f", "-v"}, ids...)...)
		}
		bin.Run(t, "system", "prune", "--volumes")
	})
	busybox := labtest.BusyboxRoot(t)
	labtest.InstallProbe(t, busybox)
	suid := filepath.Join(busybox, "bin", "suid")
	_, err := rootfs.CopyFile(filepath.Join(busybox, "bin", "busybox"), suid)
	require.NoError(t, err)
	require.NoError(t, os.Chmod(suid, 0o4755|os.ModeSetuid))
	res := bin.Run(t, "import", "-c", `CMD ["sh"]`, busybox, base)
	require.Equal(t, 0, res.Code, res)
	return root
}

// reachableBy lists the paths that user uid can reach (stat) on this host, by asking a
// shell that runs as that user: the kernel's own answer, every directory on the way
// included.
func reachableBy(t *testing.T, uid int, paths []string) []string {
	busybox, err := rootfs.FindBusybox()
	require.NoError(t, err)
	id := fmt.Sprint(uid)
	res := labtest.Command(t, labtest.Options{Stdin: strings.NewReader(strings.Join(paths, "\n") + "\n")},
		"setpriv", "--reuid", id, "--regid", id, "--clear-groups", "--", busybox, "sh", "-c",
		`while IFS= read -r p; do if [ -e "$p" ] || [ -L "$p" ]; then echo "$p"; fi; done`)
	require.Equal(t, 0, res.Code, res)
	return strings.Fields(res.Stdout)
}

// importWithLinks imports the busybox image with the given paths replaced by symlinks.
func importWithLinks(t *testing.T, bin *labtest.Binary, ref string, links map[string]string) {
	busybox := labtest.BusyboxRoot(t)
	for name, target := range links {
		p := filepath.Join(busybox, name)
		require.NoError(t, os.RemoveAll(p))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.Symlink(target, p))
	}
	res := bin.Run(t, "import", busybox, ref)
	require.Equal(t, 0, res.Code, res)
}

// TestLab08Security holds the graded checks of the engine's security: the holes an
// outside acceptance run found, and the classes behind them.
func TestLab08Security(t *testing.T) {
	labtest.RequireRoot(t)

	t.Run("--cap-drop ALL --cap-add NET_BIND_SERVICE leaves exactly NET_BIND_SERVICE", func(t *testing.T) {
		bin := setup(t)
		eff, bnd, res := capabilities(t, bin, "--cap-drop", "ALL", "--cap-add", "NET_BIND_SERVICE")
		require.Equal(t, 0, res.Code, res)
		advice := labtest.Hint("Docker drops first, then adds: drop ALL, add NET_BIND_SERVICE is bit 10 alone (0x400)")
		assert.Equal(t, "0000000000000400", eff, advice.With(res))
		assert.Equal(t, "0000000000000400", bnd, advice.With(res))
	})

	t.Run("--cap-add and --cap-drop follow Docker in every combination", func(t *testing.T) {
		bin := setup(t)
		for _, tc := range []struct {
			options []string
			want    string
			why     string
		}{
			{nil, "00000000a80405fb", "the defaults: Docker's set without NET_RAW"},
			{[]string{"--cap-add", "net_bind_service", "--cap-drop", "all"}, "0000000000000400", "the order on the line does not matter: drops first"},
			{[]string{"--cap-drop", "ALL"}, "0000000000000000", "drop ALL leaves nothing"},
			{[]string{"--cap-drop", "CAP_CHOWN"}, "00000000a80405fa", "a name with CAP_ drops it"},
			{[]string{"--cap-add", "NET_RAW", "--cap-drop", "net_raw"}, "00000000a80425fb", "a capability added and dropped is added"},
			{[]string{"--cap-add", "sys_time", "--cap-drop", "kill"}, "00000000aa0405db", "drop KILL (bit 5), add SYS_TIME (bit 25)"},
		} {
			eff, bnd, res := capabilities(t, bin, tc.options...)
			require.Equal(t, 0, res.Code, res)
			assert.Equal(t, tc.want, eff, labtest.Hint("%v: %s", tc.options, tc.why).With(res))
			assert.Equal(t, tc.want, bnd, labtest.Hint("%v: the bounding set is the same", tc.options))
		}
		all, _, res := capabilities(t, bin, "--cap-add", "ALL", "--cap-drop", "ALL")
		require.Equal(t, 0, res.Code, res)
		allButAdmin, _, _ := capabilities(t, bin, "--cap-add", "ALL", "--cap-drop", "SYS_ADMIN")
		assert.NotEqual(t, "0000000000000000", all, labtest.Hint("--cap-add ALL wins over --cap-drop ALL").With(res))
		var a, b uint64
		fmt.Sscanf(all, "%x", &a)
		fmt.Sscanf(allButAdmin, "%x", &b)
		assert.Equal(t, a&^(1<<21), b, labtest.Hint("--cap-add ALL --cap-drop SYS_ADMIN is everything but bit 21"))
		for _, bad := range [][]string{{"--cap-add", "FLY"}, {"--cap-drop", "CAP_NET_FLY"}} {
			res := bin.Run(t, append(append([]string{"run", "--rm"}, bad...), base, "true")...)
			assert.Equal(t, 125, res.Code, labtest.Hint("%v: an unknown capability is refused", bad).With(res))
			assert.Contains(t, res.Stderr, bad[1], labtest.Hint("the error names the unknown capability"))
		}
	})

	t.Run("ping works between containers, ARP spoofing fails with EPERM", func(t *testing.T) {
		bin := setup(t)
		for _, name := range []string{"victim", "spoofer"} {
			res := bin.Run(t, "run", "-d", "--name", name, base, "sleep", "60")
			require.Equal(t, 0, res.Code, res)
		}
		victim := inspect(t, bin, "victim").Network.IPAddress
		require.NotEmpty(t, victim)
		// The probe pings as iputils' ping does without CAP_NET_RAW: an ICMP datagram socket
		// (busybox's ping insists on a raw socket).
		res := bin.Run(t, "exec", "-u", "65534", "spoofer", "/probe", "ping", victim)
		assert.Equal(t, 0, res.Code, labtest.Hint("ICMP datagram sockets need net.ipv4.ping_group_range=\"0 2147483647\" in the container").With(res))
		assert.Equal(t, "echo reply from "+victim+"\n", res.Stdout, res)
		res = bin.Run(t, "exec", "spoofer", "/probe", "arp-spoof", victim)
		assert.NotEqual(t, 0, res.Code, labtest.Hint("a container must not forge ARP replies: drop CAP_NET_RAW by default").With(res))
		assert.Contains(t, res.Stderr, "operation not permitted", labtest.Hint("the packet socket is refused with EPERM").With(res))
		// Whatever the probe managed, the host's entry for the victim names the victim.
		victimMAC := strings.TrimSpace(bin.Run(t, "exec", "victim", "cat", "/sys/class/net/eth0/address").Stdout)
		link, err := netlink.LinkByName(bridge)
		require.NoError(t, err)
		time.Sleep(200 * time.Millisecond)
		neighbours, err := netlink.NeighList(link.Attrs().Index, netlink.FAMILY_V4)
		require.NoError(t, err)
		for _, n := range neighbours {
			if n.IP.String() == victim && n.HardwareAddr != nil {
				assert.Equal(t, victimMAC, n.HardwareAddr.String(), labtest.Hint("the host's ARP entry for %s was poisoned", victim))
			}
		}
	})

	t.Run("a user ID past the end of uid_t is refused, never run as root", func(t *testing.T) {
		bin := setup(t)
		for _, user := range []string{"4294967296", "4294967295", "-1", "0:4294967295", "65534:4294967296", "99999999999999999999"} {
			res := bin.Run(t, "run", "--rm", "--network", "none", "-u", user, base, "id")
			assert.Equal(t, 125, res.Code, labtest.Hint("-u %s must be refused: (uid_t)-1 means \"unchanged\" and 2^32 wraps to 0 (root)", user).With(res))
			assert.NotContains(t, res.Stdout, "uid=", labtest.Hint("-u %s: the command must not run at all", user).With(res))
			_, bad, _ := strings.Cut(user, ":")
			if bad == "" {
				bad = user
			}
			assert.Contains(t, res.Stderr, bad, labtest.Hint("the error names the bad value").With(res))
		}
		assert.Empty(t, strings.TrimSpace(bin.Run(t, "ps", "-aq").Stdout), labtest.Hint("a refused run leaves no container behind"))
		res := bin.Run(t, "run", "-d", "--name", "target", "--network", "none", base, "sleep", "60")
		require.Equal(t, 0, res.Code, res)
		res = bin.Run(t, "exec", "-u", "4294967296", "target", "id", "-u")
		assert.NotEqual(t, 0, res.Code, labtest.Hint("exec -u 4294967296 must be refused").With(res))
		assert.NotEqual(t, "0\n", res.Stdout, labtest.Hint("exec -u 4294967296 ran as root").With(res))
		res = bin.Run(t, "run", "--rm", "--network", "none", "-u", "2147483647:2147483647", base, "id", "-u")
		assert.Equal(t, "2147483647\n", res.Stdout, labtest.Hint("2^31-1 is the largest ID Docker takes, and it works").With(res))
	})

	t.Run("every numeric option is range-checked and names its value", func(t *testing.T) {
		bin := setup(t)
		res := bin.Run(t, "run", "-d", "--name", "steady", "--network", "none", base, "sleep", "60")
		require.Equal(t, 0, res.Code, res)
		for _, tc := range []struct {
			args []string
			bad  string
		}{
			{[]string{"run", "--memory", "99999999999999999999g", base, "true"}, "99999999999999999999g"},
			{[]string{"run", "--memory", "-64m", base, "true"}, "-64m"},
			{[]string{"run", "--cpus", "1e309", base, "true"}, "1e309"},
			{[]string{"run", "--cpus", "NaN", base, "true"}, "NaN"},
			{[]string{"run", "--cpus", "-1", base, "true"}, "-1"},
			{[]string{"run", "--pids-limit", "99999999999999999999", base, "true"}, "99999999999999999999"},
			{[]string{"run", "--pids-limit", "4194305", base, "true"}, "4194305"},
			{[]string{"run", "--pids-limit", "-1", base, "true"}, "-1"},
			{[]string{"run", "-p", "65536:80", base, "true"}, "65536"},
			{[]string{"run", "-p", "8080:0", base, "true"}, "8080:0"},
			{[]string{"run", "-p", "18446744073709551697:80", base, "true"}, "18446744073709551697"},
			{[]string{"run", "--log-opt", "max-file=4294967297", base, "true"}, "4294967297"},
			{[]string{"run", "--log-opt", "max-file=0", base, "true"}, "max-file=0"},
			{[]string{"run", "--log-opt", "max-size=99999999999999t", base, "true"}, "99999999999999t"},
			{[]string{"run", "-u", "1:99999999999", base, "true"}, "99999999999"},
			{[]string{"stop", "-t", "99999999999999999999", "steady"}, "99999999999999999999"},
			{[]string{"stop", "-t", "-5", "steady"}, "-5"},
			{[]string{"restart", "-t", "4294967296000", "steady"}, "4294967296000"},
			{[]string{"kill", "-s", "65", "steady"}, "65"},
			{[]string{"kill", "-s", "4294967305", "steady"}, "4294967305"},
			{[]string{"kill", "-s", "-9", "steady"}, "-9"},
			{[]string{"logs", "--tail", "99999999999999999999", "steady"}, "99999999999999999999"},
			{[]string{"logs", "--tail", "-3", "steady"}, "-3"},
			{[]string{"ps", "--filter", "exited=256"}, "exited=256"},
			{[]string{"exec", "-u", "4294967295", "steady", "true"}, "4294967295"},
		} {
			res := bin.Run(t, tc.args...)
			assert.Equal(t, 125, res.Code, labtest.Hint("%v: a number out of range is refused before anything happens", tc.args).With(res))
			assert.Contains(t, res.Stderr, tc.bad, labtest.Hint("%v: the error names %s", tc.args, tc.bad).With(res))
		}
		ids := strings.Fields(bin.Run(t, "ps", "-aq").Stdout)
		assert.Len(t, ids, 1, labtest.Hint("refused runs make no container"))
		assert.Equal(t, "running", inspect(t, bin, "steady").State.Status, labtest.Hint("refused stop, kill and restart leave the container running"))
	})

	t.Run("rm -f racing a --rm container's own clean-up always succeeds", func(t *testing.T) {
		bin := setup(t)
		for i := range 8 {
			res := bin.Run(t, "run", "-d", "--rm", "--network", "none", base, "sleep", "0.3")
			require.Equal(t, 0, res.Code, res)
			id := strings.TrimSpace(res.Stdout)
			// Around the moment the monitor removes it: before, during, after.
			time.Sleep(time.Duration(150+50*i) * time.Millisecond)
			res = bin.Run(t, "rm", "-f", id)
			assert.Equal(t, 0, res.Code, labtest.Hint("a container already gone is success for rm -f (as runc delete --force)").With(res))
			assert.NotContains(t, res.Stderr, "lock", res)
		}
		time.Sleep(time.Second)
		assert.Empty(t, strings.TrimSpace(bin.Run(t, "ps", "-aq").Stdout), labtest.Hint("every container is gone"))
		res := bin.Run(t, "rm", "-f", "never-existed")
		assert.Equal(t, 0, res.Code, labtest.Hint("rm -f of a container that does not exist is success").With(res))
		res = bin.Run(t, "rm", "never-existed")
		assert.Equal(t, 125, res.Code, labtest.Hint("plain rm of a container that does not exist is an error").With(res))
	})

	t.Run("commands two processes run at once on one container never trip over each other", func(t *testing.T) {
		bin := setup(t)
		// Messages a loser of a race may give: all say what happened to the container.
		fine := regexp.MustCompile(`is not running|no such container|is running: stop it first`)
		concurrently := func(commands ...[]string) []labtest.Result {
			results := make([]labtest.Result, len(commands))
			var wg sync.WaitGroup
			for i, args := range commands {
				wg.Add(1)
				go func() { defer wg.Done(); results[i] = bin.Run(t, args...) }()
			}
			wg.Wait()
			for i, res := range results {
				if res.Code != 0 {
					assert.Regexp(t, fine, res.Stderr, labtest.Hint("%v lost a race with a confusing error", commands[i]).With(res))
				}
				assert.NotContains(t, res.Stderr, "no such file or directory", labtest.Hint("%v saw the container half removed", commands[i]).With(res))
			}
			return results
		}
		for round := range 4 {
			name := fmt.Sprintf("racer%d", round)
			res := bin.Run(t, "run", "-d", "--name", name, "--network", "none", base, "sleep", "60")
			require.Equal(t, 0, res.Code, res)
			// Two stops, a kill, two starts: each ends stopped or running, never broken.
			for _, res := range concurrently([]string{"stop", "-t", "1", name}, []string{"stop", "-t", "1", name}, []string{"kill", name}) {
				_ = res
			}
			assert.Equal(t, "exited", inspect(t, bin, name).State.Status, labtest.Hint("after stop, stop and kill at once the container has exited"))
			for _, res := range concurrently([]string{"start", name}, []string{"start", name}) {
				assert.Equal(t, 0, res.Code, labtest.Hint("start of a running container does nothing, successfully (also when two race)").With(res))
			}
			c := inspect(t, bin, name)
			assert.Equal(t, "running", c.State.Status)
			monitors := 0
			procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
			for _, p := range procs {
				if cmdline, _ := os.ReadFile(p); strings.Contains(string(cmdline), "container-monitor\x00"+c.ID) {
					monitors++
				}
			}
			assert.LessOrEqual(t, monitors, 1, labtest.Hint("two starts at once made two monitors"))
			// Then everything at once; rm -f must win in the end.
			concurrently([]string{"rm", "-f", name}, []string{"stop", "-t", "1", name}, []string{"kill", name},
				[]string{"rm", "-f", name}, []string{"start", name}, []string{"rm", name})
			res = bin.Run(t, "rm", "-f", name)
			assert.Equal(t, 0, res.Code, res)
		}
		// rm of two names at once, from two processes, in both orders.
		for _, name := range []string{"a", "b"} {
			require.Equal(t, 0, bin.Run(t, "run", "-d", "--name", name, "--network", "none", base, "sleep", "60").Code)
		}
		for _, res := range concurrently([]string{"rm", "-f", "a", "b"}, []string{"rm", "-f", "b", "a"}) {
			assert.Equal(t, 0, res.Code, labtest.Hint("two rm -f of the same containers both succeed").With(res))
		}
		assert.Empty(t, strings.TrimSpace(bin.Run(t, "ps", "-aq").Stdout), labtest.Hint("no container is left"))
		root := os.Getenv(state.EnvRoot)
		left, _ := filepath.Glob(filepath.Join(root, "engine", "containers", "*"))
		assert.Empty(t, left, labtest.Hint("no container directory is left"))
		assert.Empty(t, labtest.MountsUnder(t, root), labtest.Hint("no root file system stays mounted"))
	})

	t.Run("no other user reaches a setuid-root binary of an image or a running container", func(t *testing.T) {
		bin := labtest.Lab(t, lab)
		t.Setenv(engine.EnvBridge, bridge)
		t.Setenv(engine.EnvSubnet, subnet)
		root := openStateRoot(t, bin)
		res := bin.Run(t, "run", "-d", "--name", "running", "--network", "none", base, "sleep", "60")
		require.Equal(t, 0, res.Code, res)
		id := strings.TrimSpace(res.Stdout)
		layers, _ := filepath.Glob(filepath.Join(root, "images", "layers", "*", "bin", "suid"))
		require.NotEmpty(t, layers, "the image's layer holds bin/suid")
		targets := append(layers, filepath.Join(root, "engine", "containers", id, "rootfs", "bin", "suid"))
		for _, p := range targets {
			info, err := os.Stat(p)
			require.NoError(t, err)
			require.NotZero(t, info.Mode()&os.ModeSetuid, "%s is setuid root", p)
		}
		assert.Empty(t, reachableBy(t, 65534, targets), labtest.Hint(
			"uid 65534 can reach a setuid-root binary: close the state root's directories (Docker's data root is 0710, podman's store 0700)"))
		suidRes := labtest.Command(t, labtest.Options{}, "setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups", "--", layers[0], "id")
		assert.NotContains(t, suidRes.Stdout, "euid=0", labtest.Hint("a local user ran a setuid-root binary from an image").With(suidRes))
	})

	t.Run("nothing under the state root is reachable by other users but the listed passages", func(t *testing.T) {
		bin := labtest.Lab(t, lab)
		t.Setenv(engine.EnvBridge, bridge)
		t.Setenv(engine.EnvSubnet, subnet)
		root := openStateRoot(t, bin)
		// A bit of everything: a running container with a named and an anonymous volume, a
		// stopped one, logs, the network, a committed image.
		res := bin.Run(t, "run", "-d", "--name", "busy", "-v", "named:/named", "-v", "/anon", base, "sh", "-c", "echo hi; sleep 60")
		require.Equal(t, 0, res.Code, res)
		require.Equal(t, 0, bin.Run(t, "run", "--name", "done", "--network", "none", base, "sh", "-c", "echo x > /file").Code)
		require.Equal(t, 0, bin.Run(t, "commit", "done", "labs/committed:v1").Code)
		var paths []string
		require.NoError(t, filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			paths = append(paths, p)
			if d.IsDir() && p != root && isMountPoint(p) {
				return filepath.SkipDir // a running container's root: its own files
			}
			return nil
		}))
		require.Greater(t, len(paths), 100)
		reached := reachableBy(t, 65534, paths[1:])
		if len(reached) > 10 {
			reached = append(reached[:10], fmt.Sprintf("... and %d more", len(reached)-10))
		}
		assert.Empty(t, reached, labtest.Hint("uid 65534 reaches these under the state root: close its directories (0700), or make them passages for the --userns group (0710)"))

		// Each directory of the stores on its own, as if every one above it were open:
		// closed to others, and at most passable by the --userns group.
		passages := map[string]bool{".": true, "images": true, "images/layers": true}
		content := regexp.MustCompile(`^(images/layers/[^/]+(/|$)|engine/containers/[^/]+/(upper|work|rootfs|etc|logs)(/|$)|engine/volumes/[^/]+/_data(/|$)|engine/runtime/.)`)
		for _, p := range paths {
			rel, _ := filepath.Rel(root, p)
			info, err := os.Lstat(p)
			if err != nil || !info.IsDir() || content.MatchString(rel) {
				continue
			}
			st := info.Sys().(*syscall.Stat_t)
			mode := info.Mode().Perm()
			assert.Zero(t, mode&0o007, labtest.Hint("%s (mode %04o) lets other users in", rel, mode))
			if passages[rel] {
				assert.Equal(t, os.FileMode(0o710), mode, labtest.Hint("%s is a passage for the --userns group only", rel))
				assert.Equal(t, uint32(state.PassageGroup), st.Gid, labtest.Hint("%s belongs to the group of a --userns container's root", rel))
			} else {
				assert.Zero(t, mode&0o077, labtest.Hint("%s (mode %04o) is root's alone", rel, mode))
			}
		}
	})

	t.Run("an image whose /proc is a symlink is refused", func(t *testing.T) {
		bin := setup(t)
		importWithLinks(t, bin, "labs/proclink:v1", map[string]string{"proc": "/tmp"})
		res := bin.Run(t, "run", "--rm", "--network", "none", "labs/proclink:v1", "sh", "-c", "ls /tmp | head -3")
		assert.Equal(t, 125, res.Code, labtest.Hint("procfs goes on a real directory only: refuse an image whose /proc is a symlink (runc does)").With(res))
		assert.Contains(t, res.Stderr, "/proc", labtest.Hint("the error says which mount point is wrong").With(res))
		importWithLinks(t, bin, "labs/syslink:v1", map[string]string{"sys": "../../.."})
		res = bin.Run(t, "run", "--rm", "--network", "none", "labs/syslink:v1", "true")
		assert.Equal(t, 125, res.Code, labtest.Hint("sysfs goes on a real directory only").With(res))
	})

	t.Run("volume and /etc/hosts targets are resolved inside the root, never into /proc", func(t *testing.T) {
		bin := setup(t)
		marker, content := labtest.Marker(t)
		hostDir := filepath.Dir(marker)
		elsewhere := labtest.TempDir(t)
		importWithLinks(t, bin, "labs/links:v1", map[string]string{
			"data":   "/etc",           // absolute: the container's /etc
			"up":     "../../../../..", // climbing: stops at the container's root
			"hostly": elsewhere,        // a host path: means nothing inside
		})
		res := bin.Run(t, "run", "--rm", "--network", "none", "-v", hostDir+":/data", "labs/links:v1", "cat", "/etc/marker")
		assert.Equal(t, content, res.Stdout, labtest.Hint("-v ...:/data where /data -> /etc mounts on the container's /etc").With(res))
		res = bin.Run(t, "run", "--rm", "--network", "none", "-v", hostDir+":/up/mnt/x", "labs/links:v1", "cat", "/mnt/x/marker")
		assert.Equal(t, content, res.Stdout, labtest.Hint("a climbing link stops at the container's root").With(res))
		bin.Run(t, "run", "--rm", "--network", "none", "-v", "vol:/hostly/sub", "labs/links:v1", "true")
		entries, _ := os.ReadDir(elsewhere)
		assert.Empty(t, entries, labtest.Hint("nothing was made in the host directory the link names"))

		importWithLinks(t, bin, "labs/hostslink:v1", map[string]string{"etc/hosts": "/proc/sys/kernel/core_pattern"})
		res = bin.Run(t, "run", "--rm", "labs/hostslink:v1", "true")
		assert.Equal(t, 125, res.Code, labtest.Hint("/etc/hosts -> /proc/...: the engine's bind of /etc/hosts must not land in /proc").With(res))
		assert.Contains(t, res.Stderr, "/proc", res)
	})

	t.Run("cp never reads or writes outside the container while it swaps symlinks", func(t *testing.T) {
		bin := setup(t)
		marker, content := labtest.Marker(t)
		hostDir := filepath.Dir(marker)
		// The container flips /race/d between a directory holding a file named like the
		// marker and a symlink to the host directory that holds the real marker, as fast
		// as it can: a cp that looks the path up and opens it later follows the symlink on
		// the host, with the host's root.
		script := fmt.Sprintf(`mkdir -p /race; while true; do rm -rf /race/d; mkdir /race/d; echo decoy > /race/d/marker; rm -rf /race/d; ln -s %s /race/d; done`, hostDir)
		res := bin.Run(t, "run", "-d", "--name", "racer", "--network", "none", base, "sh", "-c", script)
		require.Equal(t, 0, res.Code, res)
		out := labtest.TempDir(t)
		upload := filepath.Join(labtest.TempDir(t), "pwned")
		require.NoError(t, os.WriteFile(upload, []byte("written by cp\n"), 0o644))
		deadline := time.Now().Add(6 * time.Second)
		tries := 0
		for time.Now().Before(deadline) {
			tries++
			bin.Run(t, "cp", "racer:/race/d/marker", filepath.Join(out, "got"))
			if data, err := os.ReadFile(filepath.Join(out, "got")); err == nil {
				require.NotEqual(t, content, string(data), labtest.Hint("cp read the host's file through a symlink swapped in (CVE-2018-15664)"))
			}
			// A directory is worse: the walk down it is one long window.
			tree := filepath.Join(out, fmt.Sprint("tree", tries))
			bin.Run(t, "cp", "racer:/race", tree)
			_ = filepath.WalkDir(tree, func(p string, d os.DirEntry, err error) error {
				if err == nil && d.Type().IsRegular() {
					data, _ := os.ReadFile(p)
					require.NotEqual(t, content, string(data), labtest.Hint("cp of a directory walked into the host's through a symlink swapped in (CVE-2018-15664)"))
				}
				return nil
			})
			bin.Run(t, "cp", upload, "racer:/race/d")
			_, err := os.Stat(filepath.Join(hostDir, "pwned"))
			require.True(t, os.IsNotExist(err), labtest.Hint("cp wrote into the host's directory through a symlink swapped in (CVE-2018-15664)"))
		}
		t.Logf("%d rounds of cp in and out", tries)
		data, err := os.ReadFile(marker)
		require.NoError(t, err)
		assert.Equal(t, content, string(data))
	})

	t.Run("the seccomp profile refuses io_uring", func(t *testing.T) {
		bin := setup(t)
		res := bin.Run(t, "run", "--rm", "--network", "none", base, "/probe", "syscall", "io_uring_setup")
		require.Equal(t, 0, res.Code, res)
		assert.Equal(t, "io_uring_setup: EPERM\n", res.Stdout, labtest.Hint("take Docker's current profile: io_uring's operations bypass seccomp").With(res))
	})
}

func gunzip(t *testing.T, data []byte) []byte {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	require.NoError(t, err)
	plain, err := io.ReadAll(zr)
	require.NoError(t, err)
	return plain
}

func gzipBytes(t *testing.T, data []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, err := zw.Write(data)
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

// TestLab08Archives checks that load recognises compression by content, as docker load.
func TestLab08Archives(t *testing.T) {
	labtest.RequireRoot(t)

	t.Run("load takes a gzip-compressed archive, whatever its layers are compressed with", func(t *testing.T) {
		bin := setup(t)
		dir := labtest.TempDir(t)
		saved := filepath.Join(dir, "saved.tar")
		res := bin.Run(t, "save", "-o", saved, base)
		require.Equal(t, 0, res.Code, res)
		data, err := os.ReadFile(saved)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(saved+".gz", gzipBytes(t, data), 0o644))
		require.Equal(t, 0, bin.Run(t, "rmi", base).Code)
		res = bin.Run(t, "load", "-i", saved+".gz")
		require.Equal(t, 0, res.Code, labtest.Hint("`docker save | gzip` loads: recognise gzip by its magic bytes, 1f 8b").With(res))
		res = bin.Run(t, "run", "--rm", "--network", "none", base, "echo", "loaded")
		assert.Equal(t, "loaded\n", res.Stdout, res)
	})

	t.Run("load takes a docker-archive whose layers are plain and gzip-compressed", func(t *testing.T) {
		bin := setup(t)
		dir := labtest.TempDir(t)
		saved := filepath.Join(dir, "saved.tar")
		res := bin.Run(t, "save", "-o", saved, base)
		require.Equal(t, 0, res.Code, res)
		// The saved busybox layer made plain, and a gzip-compressed one on top, both
		// called layer.tar: only their bytes say which is which (a reader that judges all
		// layers by the first reads the second as a tar).
		var manifest []struct {
			Config string
			Layers []string
		}
		files := map[string][]byte{}
		f, err := os.Open(saved)
		require.NoError(t, err)
		tr := tar.NewReader(f)
		for {
			hdr, err := tr.Next()
			if err == io.EOF {
				break
			}
			require.NoError(t, err)
			data, err := io.ReadAll(tr)
			require.NoError(t, err)
			files[hdr.Name] = data
		}
		f.Close()
		require.NoError(t, json.Unmarshal(files["manifest.json"], &manifest))
		require.Len(t, manifest, 1)
		var top bytes.Buffer
		tw := tar.NewWriter(&top)
		require.NoError(t, tw.WriteHeader(&tar.Header{Name: "mixed", Mode: 0o644, Size: 6, Typeflag: tar.TypeReg}))
		_, err = tw.Write([]byte("mixed\n"))
		require.NoError(t, err)
		require.NoError(t, tw.Close())
		diffID, _, err := v1.SHA256(bytes.NewReader(top.Bytes()))
		require.NoError(t, err)
		var cfg map[string]any
		require.NoError(t, json.Unmarshal(files[manifest[0].Config], &cfg))
		rootfs := cfg["rootfs"].(map[string]any)
		rootfs["diff_ids"] = append(rootfs["diff_ids"].([]any), diffID.String())
		delete(cfg, "history")
		config, err := json.Marshal(cfg)
		require.NoError(t, err)
		layers := []string{"base/layer.tar", "top/layer.tar"}
		out, err := json.Marshal([]map[string]any{{"Config": "config.json", "RepoTags": []string{"labs/mixed:v1"}, "Layers": layers}})
		require.NoError(t, err)
		var archive bytes.Buffer
		aw := tar.NewWriter(&archive)
		for _, e := range []struct {
			name string
			data []byte
		}{{"manifest.json", out}, {"config.json", config}, {layers[0], gunzip(t, files[manifest[0].Layers[0]])}, {layers[1], gzipBytes(t, top.Bytes())}} {
			require.NoError(t, aw.WriteHeader(&tar.Header{Name: e.name, Mode: 0o644, Size: int64(len(e.data)), Typeflag: tar.TypeReg}))
			_, err := aw.Write(e.data)
			require.NoError(t, err)
		}
		require.NoError(t, aw.Close())
		mixed := filepath.Join(dir, "mixed.tar")
		require.NoError(t, os.WriteFile(mixed, archive.Bytes(), 0o644))
		res = bin.Run(t, "load", "-i", mixed)
		require.Equal(t, 0, res.Code, labtest.Hint("judge each layer's compression by its own first bytes, never by its name or the first layer's").With(res))
		res = bin.Run(t, "run", "--rm", "--network", "none", "labs/mixed:v1", "cat", "/mixed")
		assert.Equal(t, "mixed\n", res.Stdout, res)
	})
}
