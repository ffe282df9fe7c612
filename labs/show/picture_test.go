package show

import (
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func sample() *Picture {
	return &Picture{
		PID: 4242, Command: []string{"httpd", "-f", "<script>"},
		Namespaces: []Namespace{{Type: "net", Inode: 7, HostInode: 1}, {Type: "user", Inode: 3, HostInode: 3}},
		Cgroup:     "/sys/fs/cgroup/memory/containerlabs/c1",
		Gauges:     []Gauge{{Name: "memory", Used: 16 << 20, Limit: 64 << 20, Unit: "bytes"}, {Name: "cpu", Limit: 0.5, Unit: "CPUs"}},
		Root:       Root{FSType: "overlay", Lowers: []string{"/l/top", "/l/base"}, Upper: "/c/upper", Work: "/c/work"},
		Mounts:     []Mount{{Target: "/", FSType: "overlay"}, {Target: "/proc/sys", FSType: "proc", ReadOnly: true}},
		Inside:     []Link{{Name: "eth0", Kind: "veth", Addresses: []string{"10.88.0.2/16"}}},
		HostEnds:   []Link{{Name: "vlabs1", Peer: "eth0", Master: "labs0", Isolated: true}},
		Bridges:    []Link{{Name: "labs0", Addresses: []string{"10.88.0.1/16"}}},
		Gateway:    "10.88.0.1",
		Rules:      []string{"-t nat -A CLABS-labs0 -p tcp --dport 8080 -j DNAT --to-destination 10.88.0.2:80"},
		Hardening:  Hardening{Capabilities: 14, AllCapabilities: 41, CapEff: "00000000a80425fb", Seccomp: "filter", NoNewPrivs: true},
	}
}

func TestTextShowsEachMechanism(t *testing.T) {
	text := sample().Text()
	for _, want := range []string{
		"net      7            1            own", "user     3            3            shared with the host",
		"[######..................] 16.0 MiB of 64.0 MiB", "quota 0.50 CPUs",
		"upper  /c/upper", "lower  /l/top   (read-only layers, top first)", "lower  /l/base",
		"/proc/sys", "ro", "inside  eth0", "vlabs1 (the other end of eth0", "on bridge labs0, isolated",
		"default via 10.88.0.1", "DNAT --to-destination 10.88.0.2:80", "capabilities 14 of 41",
	} {
		assert.Contains(t, text, want)
	}
}

func TestHTMLEscapesAndDraws(t *testing.T) {
	page := sample().HTML("web & co")
	assert.Contains(t, page, "<svg")
	assert.Contains(t, page, "web &amp; co")
	assert.NotContains(t, page, "<script>", "every text is escaped")
	assert.Contains(t, page, "upper (writable): /c/upper")
}

func TestGatherOfThisProcessSharesTheHost(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("needs Linux")
	}
	p, err := Gather(os.Getpid())
	if err != nil && strings.Contains(err.Error(), "permission denied") {
		t.Skip("reading the host's namespaces needs root")
	}
	require.NoError(t, err)
	for _, ns := range p.Namespaces {
		assert.False(t, ns.Own(), "a test on the host is in the host's %s namespace", ns.Type)
	}
	assert.Nil(t, p.Inside, "the host's network is not drawn as a container's")
	assert.NotEmpty(t, p.Mounts)
}
