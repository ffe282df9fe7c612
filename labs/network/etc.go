package network

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// The host's resolver configuration, and the one systemd-resolved keeps with the real
// upstream servers when /etc/resolv.conf only names its local stub (127.0.0.53).
var hostResolvConfs = []string{"/etc/resolv.conf", "/run/systemd/resolve/resolv.conf"}

// WriteEtcFiles writes the files through which programs in the container learn their name
// and how to resolve names: /etc/hostname, /etc/hosts (localhost, and hostname on addr) and
// /etc/resolv.conf (the host's, without its loopback name servers), into root/etc. root is
// the container's root as the host sees it, before pivot_root, or a directory of the
// container's own from which BindEtcFiles mounts them in.
//
// An image's /etc/hosts may be a symbolic link, even one pointing at a host file; writing
// through it before pivot_root would change the host. So each file is removed and created
// anew, and creation fails rather than follow a link that appears in between.
//
// Equivalent to: `echo NAME > ROOT/etc/hostname`, `printf '127.0.0.1 localhost\nADDR NAME\n'
// > ROOT/etc/hosts` and `grep -v 'nameserver 127\.' /etc/resolv.conf > ROOT/etc/resolv.conf`.
func WriteEtcFiles(root, hostname string, addr netip.Addr) error {
	if err := checkName("hostname", hostname); err != nil {
		return err
	}
	etc := filepath.Join(root, "etc")
	info, err := os.Lstat(etc)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.Mkdir(etc, 0o755); err != nil {
			return fmt.Errorf("make %s: %w", etc, err)
		}
	case err != nil:
		return fmt.Errorf("check %s: %w", etc, err)
	case !info.IsDir():
		return fmt.Errorf("%s is not a directory (a symbolic link?): refusing to write through it", etc)
	}
	files := []struct {
		name string
		data []byte
	}{
		{"hostname", []byte(hostname + "\n")},
		{"hosts", hostsFile(hostname, addr, nil)},
		{"resolv.conf", containerResolvConf()},
	}
	for _, f := range files {
		if err := replaceFile(filepath.Join(etc, f.name), f.data); err != nil {
			return err
		}
	}
	return nil
}

// replaceFile removes path if it exists (a link is removed, not followed) and creates it
// with data; O_EXCL makes creation fail if anything, a link included, is there again.
func replaceFile(path string, data []byte) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("replace %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// hostsFile is the container's /etc/hosts: the loopback names, its own name on its
// address so that programs that look up their own hostname find it, and the others.
func hostsFile(hostname string, addr netip.Addr, others []Host) []byte {
	data := fmt.Appendf(nil, "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n%s\t%s\n", addr, hostname)
	for _, h := range others {
		data = fmt.Appendf(data, "%s\t%s\n", h.Address, strings.Join(h.Names, " "))
	}
	return data
}

// Host is a line of /etc/hosts: an address and the names that resolve to it.
type Host struct {
	Address netip.Addr
	Names   []string
}

// WriteHosts rewrites root/etc/hosts, as WriteEtcFiles writes it, with the other hosts'
// lines after its own. It writes into the file that is there, not a new one renamed over
// it: the file is bind-mounted into a running container, and a mount holds on to the
// file itself (its inode), so the container would never see a replacement. The price is
// that the update is not atomic: a lookup that reads the file at the very moment it is
// written may see part of the old list.
//
// Equivalent to: `printf '...' > ROOT/etc/hosts` (truncate and write, same inode).
func WriteHosts(root, hostname string, addr netip.Addr, others []Host) error {
	if err := checkName("hostname", hostname); err != nil {
		return err
	}
	path := filepath.Join(root, "etc", "hosts")
	f, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return fmt.Errorf("update %s: %w", path, err)
	}
	data := hostsFile(hostname, addr, others)
	// Written first and cut to length after, so a reader in between sees every new line.
	_, err = f.WriteAt(data, 0)
	if err == nil {
		err = f.Truncate(int64(len(data)))
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("update %s: %w", path, err)
	}
	return nil
}

// containerResolvConf is the host's resolver configuration as the container can use it.
func containerResolvConf() []byte {
	var out []byte
	for _, path := range hostResolvConfs {
		data, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		var servers int
		out, servers = filterResolvConf(data)
		if servers > 0 {
			return out
		}
	}
	if out == nil {
		return []byte("# the host has no /etc/resolv.conf\n")
	}
	return out
}

// filterResolvConf drops the name servers on loopback addresses from a resolv.conf, as
// Docker does: inside the container's network namespace 127.0.0.1 is the container itself.
// It returns the result and how many name servers are left.
func filterResolvConf(data []byte) ([]byte, int) {
	var out bytes.Buffer
	servers := 0
	scanner := bufio.NewScanner(bytes.NewReader(data))
	for scanner.Scan() {
		line := scanner.Text()
		fields := strings.Fields(line)
		if len(fields) >= 2 && fields[0] == "nameserver" {
			if addr, err := netip.ParseAddr(fields[1]); err == nil && addr.IsLoopback() {
				fmt.Fprintf(&out, "# %s (left out: a loopback address is the container's own)\n", line)
				continue
			}
			servers++
		}
		out.WriteString(line + "\n")
	}
	return out.Bytes(), servers
}
