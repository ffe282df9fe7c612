package main_test

import (
	"fmt"
	"image/png"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"containerlabs/labs/cgroup"
	"containerlabs/labs/labtest"
	"containerlabs/labs/mount"
)

// TestShow checks `08-engine show` against what the check reads from the kernel itself.
func TestShow(t *testing.T) {
	labtest.RequireRoot(t)
	bin := setup(t)
	port := freePort(t)
	res := bin.Run(t, "run", "-d", "--name", "pictured", "--memory", "64m", "-p", fmt.Sprintf("%d:80", port), base, "sleep", "60")
	require.Equal(t, 0, res.Code, res)
	pid := inspect(t, bin, "pictured").State.Pid
	require.NotZero(t, pid)

	t.Run("show draws namespaces, cgroup, overlay and network from the kernel", func(t *testing.T) {
		res := bin.Run(t, "show", "pictured")
		require.Equal(t, 0, res.Code, labtest.Hint("`08-engine show CONTAINER` draws a running container").With(res))
		text := res.Stdout
		for _, typ := range []string{"mnt", "net", "pid", "uts", "ipc"} {
			link, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", pid, typ))
			require.NoError(t, err)
			inode := strings.TrimSuffix(strings.SplitN(link, "[", 2)[1], "]")
			assert.Regexp(t, `(?m)^\s+`+typ+`\s+`+inode+`\s+\d+\s+own$`, text, labtest.Hint("the %s namespace, inode %s, is the container's own", typ, inode))
		}
		limit, dir, err := cgroup.ReadOf(pid, "memory", "memory.limit_in_bytes", "memory.max")
		require.NoError(t, err)
		assert.Equal(t, "67108864", limit)
		assert.Contains(t, text, "cgroup "+dir, labtest.Hint("the cgroup is the one /proc/PID/cgroup names"))
		assert.Contains(t, text, "of 64.0 MiB")
		table, err := mount.TableOf(strconv.Itoa(pid))
		require.NoError(t, err)
		for _, m := range table {
			if m.Target == "/" && m.FSType == "overlay" {
				upper := m.SuperOptions[strings.Index(m.SuperOptions, "upperdir=")+len("upperdir="):]
				upper, _, _ = strings.Cut(upper, ",")
				assert.Contains(t, text, "upper  "+upper, labtest.Hint("the upper dir is the overlay's, from mountinfo"))
			}
		}
		// The host end of the container's eth0: the interface whose index is eth0's iflink.
		iflink, err := os.ReadFile(fmt.Sprintf("/proc/%d/root/sys/class/net/eth0/iflink", pid))
		require.NoError(t, err)
		index, _ := strconv.Atoi(strings.TrimSpace(string(iflink)))
		peer, err := net.InterfaceByIndex(index)
		require.NoError(t, err)
		assert.Regexp(t, `host\s+`+peer.Name+` \(the other end of eth0.*on bridge `+bridge, text, labtest.Hint("the veth pair and the bridge, from netlink"))
		assert.Regexp(t, `DNAT.*:80`, text, labtest.Hint("the published port's DNAT rule, from iptables"))
		assert.Contains(t, text, "seccomp filter")
	})

	t.Run("show --html draws a page a browser renders", func(t *testing.T) {
		page := filepath.Join(labtest.TempDir(t), "pictured.html")
		res := bin.Run(t, "show", "--html", page, "pictured")
		require.Equal(t, 0, res.Code, res)
		data, err := os.ReadFile(page)
		require.NoError(t, err)
		assert.Contains(t, string(data), "<svg")
		screenshot(t, page)
	})
}

// screenshot renders page in headless Chromium and checks the picture: the right size, and
// drawn (many colours, not one blank one).
func screenshot(t *testing.T, page string) {
	browser := ""
	for _, name := range []string{"chromium", "chromium-browser"} {
		if path, err := exec.LookPath(name); err == nil {
			browser = path
			break
		}
	}
	if browser == "" {
		t.Skip("needs chromium (apt-get install chromium; scripts/test.sh installs it) to render the page")
	}
	dir := labtest.TempDir(t)
	shot := filepath.Join(dir, "screenshot.png")
	res := labtest.Command(t, labtest.Options{Timeout: 90 * time.Second}, browser,
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+filepath.Join(dir, "profile"), "--window-size=1240,1100",
		"--screenshot="+shot, "file://"+page)
	f, err := os.Open(shot)
	require.NoError(t, err, "chromium made no screenshot:\n%v", res)
	defer f.Close()
	img, err := png.Decode(f)
	require.NoError(t, err)
	bounds := img.Bounds()
	assert.Equal(t, 1240, bounds.Dx())
	colours := map[[3]uint32]bool{}
	for y := bounds.Min.Y; y < bounds.Max.Y; y += 4 {
		for x := bounds.Min.X; x < bounds.Max.X; x += 4 {
			r, g, b, _ := img.At(x, y).RGBA()
			colours[[3]uint32{r >> 8, g >> 8, b >> 8}] = true
		}
	}
	assert.Greater(t, len(colours), 20, "the screenshot should show the drawing, not a blank page")
	t.Logf("screenshot of %s: %s, %dx%d, %d colours", page, shot, bounds.Dx(), bounds.Dy(), len(colours))
}
