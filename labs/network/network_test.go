package network

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNewChecksItsValues(t *testing.T) {
	n, err := New("labs0", "10.88.0.0/16", "/state")
	require.NoError(t, err)
	assert.Equal(t, "10.88.0.1/16", n.Gateway().String())
	assert.Equal(t, "10.88.255.255", n.broadcast().String())
	assert.Equal(t, []string{"CLABS-labs0", "CLABS-labs0-POST", "CLABS-labs0-FWD"},
		[]string{n.portsChain(), n.postChain(), n.forwardChain()})

	for _, c := range []struct{ bridge, subnet, msg string }{
		{"labs0", "10.88.0.0", `subnet "10.88.0.0" is not an address range in CIDR form such as 10.88.0.0/16`},
		{"labs0", "10.88.0.5/16", "subnet 10.88.0.5/16 has host bits set: did you mean 10.88.0.0/16?"},
		{"labs0", "8.8.0.0/16", "subnet 8.8.0.0/16 is not a private range (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16)"},
		{"labs0", "fd00::/64", "subnet fd00::/64: only IPv4 subnets are supported"},
		{"labs0", "10.88.0.0/31", "subnet 10.88.0.0/31 is too small: it needs a gateway and at least one container (/30 or larger)"},
		{"a-very-long-bridge", "10.88.0.0/16", `bridge name "a-very-long-bridge": an interface name has 1 to 15 characters`},
		{"br/0", "10.88.0.0/16", `bridge name "br/0": use only letters, digits, '.', '_' and '-'`},
	} {
		_, err := New(c.bridge, c.subnet, "/state")
		if assert.Error(t, err, "%s %s", c.bridge, c.subnet) {
			assert.Equal(t, c.msg, err.Error())
		}
	}
}

func TestParsePort(t *testing.T) {
	p, err := ParsePort("8080:80")
	require.NoError(t, err)
	assert.Equal(t, Port{Host: 8080, Container: 80, Proto: "tcp"}, p)
	assert.Equal(t, "8080->80/tcp", p.String())
	p, err = ParsePort("5353:53/udp")
	require.NoError(t, err)
	assert.Equal(t, Port{Host: 5353, Container: 53, Proto: "udp"}, p)

	for in, msg := range map[string]string{
		"8080":        `published port "8080" is not HOST:CONTAINER, such as 8080:80`,
		"8080:80/sct": `published port "8080:80/sct": protocol "sct" is neither tcp nor udp`,
		"0:80":        `published port "0:80": ports are numbers from 1 to 65535`,
		"8080:70000":  `published port "8080:70000": ports are numbers from 1 to 65535`,
		"x:80":        `published port "x:80": ports are numbers from 1 to 65535`,
	} {
		_, err := ParsePort(in)
		if assert.Error(t, err, in) {
			assert.Equal(t, msg, err.Error())
		}
	}
}

func TestEndpointShowsThePairingAsIPLinkDoes(t *testing.T) {
	ep := Endpoint{HostName: "vlabs1a2b3c4d", HostIndex: 12, PeerName: "eth0", PeerIndex: 2}
	assert.Equal(t, "12: vlabs1a2b3c4d@if2", ep.HostLink())
	assert.Equal(t, "2: eth0@if12", ep.InsideLink())
}

func TestFilterResolvConfDropsLoopbackNameServers(t *testing.T) {
	out, servers := filterResolvConf([]byte("# generated\nnameserver 127.0.0.53\nnameserver 10.1.2.3\nnameserver ::1\noptions edns0\nsearch example.internal\n"))
	assert.Equal(t, 1, servers)
	assert.Equal(t, "# generated\n"+
		"# nameserver 127.0.0.53 (left out: a loopback address is the container's own)\n"+
		"nameserver 10.1.2.3\n"+
		"# nameserver ::1 (left out: a loopback address is the container's own)\n"+
		"options edns0\nsearch example.internal\n", string(out))
}

func TestWriteEtcFiles(t *testing.T) {
	root := t.TempDir()
	require.NoError(t, WriteEtcFiles(root, "web", netip.MustParseAddr("10.88.0.2")))

	hosts, err := os.ReadFile(filepath.Join(root, "etc/hosts"))
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n10.88.0.2\tweb\n", string(hosts))
	hostname, err := os.ReadFile(filepath.Join(root, "etc/hostname"))
	require.NoError(t, err)
	assert.Equal(t, "web\n", string(hostname))
	resolv, err := os.ReadFile(filepath.Join(root, "etc/resolv.conf"))
	require.NoError(t, err)
	assert.NotRegexp(t, `(?m)^nameserver (127\.|::1)`, string(resolv))
}

func TestWriteEtcFilesDoesNotFollowLinks(t *testing.T) {
	root, outside := t.TempDir(), filepath.Join(t.TempDir(), "precious")
	require.NoError(t, os.WriteFile(outside, []byte("keep me"), 0o644))
	require.NoError(t, os.Mkdir(filepath.Join(root, "etc"), 0o755))
	require.NoError(t, os.Symlink(outside, filepath.Join(root, "etc/hosts")))

	require.NoError(t, WriteEtcFiles(root, "web", netip.MustParseAddr("10.88.0.2")))
	kept, err := os.ReadFile(outside)
	require.NoError(t, err)
	assert.Equal(t, "keep me", string(kept), "the link's target is untouched")
	info, err := os.Lstat(filepath.Join(root, "etc/hosts"))
	require.NoError(t, err)
	assert.True(t, info.Mode().IsRegular(), "the link was replaced by a file")

	linked := t.TempDir()
	require.NoError(t, os.Symlink(t.TempDir(), filepath.Join(linked, "etc")))
	err = WriteEtcFiles(linked, "web", netip.MustParseAddr("10.88.0.2"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "is not a directory (a symbolic link?)")
}

func TestWriteHostsRewritesTheSameFile(t *testing.T) {
	dir := t.TempDir()
	addr := netip.MustParseAddr("10.199.41.3")
	require.NoError(t, WriteEtcFiles(dir, "db", addr))
	path := filepath.Join(dir, "etc", "hosts")
	before, err := os.Stat(path)
	require.NoError(t, err)

	others := []Host{{Address: netip.MustParseAddr("10.199.41.2"), Names: []string{"web", "www"}}}
	require.NoError(t, WriteHosts(dir, "db", addr, others))
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n10.199.41.3\tdb\n10.199.41.2\tweb www\n", string(data))
	after, err := os.Stat(path)
	require.NoError(t, err)
	assert.True(t, os.SameFile(before, after), "the file a bind mount holds is written, not replaced")

	require.NoError(t, WriteHosts(dir, "db", addr, nil))
	data, err = os.ReadFile(path)
	require.NoError(t, err)
	assert.NotContains(t, string(data), "web", "a shorter list leaves nothing of the longer one")
}
