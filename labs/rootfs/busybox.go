package rootfs

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// BusyboxCandidates are where Debian's busybox-static package (and most distributions)
// install the busybox binary.
var BusyboxCandidates = []string{"/bin/busybox", "/usr/bin/busybox", "/usr/sbin/busybox", "/sbin/busybox"}

// FindBusybox returns the path of a statically linked busybox on this host. A static one
// is needed because it is copied into roots that have no shared libraries at all.
func FindBusybox() (string, error) {
	var dynamic []string
	for _, path := range BusyboxCandidates {
		if _, err := os.Stat(path); err != nil {
			continue
		}
		interp, err := Interpreter(path)
		if err != nil {
			continue
		}
		if interp == "" {
			return path, nil
		}
		dynamic = append(dynamic, path)
	}
	if len(dynamic) > 0 {
		return "", fmt.Errorf("busybox at %s is dynamically linked; install the static one (apt-get install busybox-static)", dynamic[0])
	}
	return "", errors.New("no busybox found; install it with: apt-get install busybox-static")
}

// Busybox builds a small but complete root file system in dir from a statically linked
// busybox: the binary at /bin/busybox, a symlink to it for every applet it provides
// (/bin/sh, /bin/ls, /usr/bin/wget, ...), the usual empty directories, and minimal
// /etc/passwd, /etc/group and /etc/hosts files so that user names resolve.
//
// Equivalent to: `busybox --install -s` inside a chroot, plus mkdir and a few echo lines.
func Busybox(dir string) error {
	busybox, err := FindBusybox()
	if err != nil {
		return err
	}
	applets, err := exec.Command(busybox, "--list-full").Output()
	if err != nil {
		return fmt.Errorf("list applets of %s: %w", busybox, err)
	}
	// A root directory is mode 0755 like "/", also when dir came from mkdtemp (0700):
	// a container whose root is an unprivileged host user (lab 03's --userns) must enter it.
	if err := os.Chmod(dir, 0o755); err != nil {
		return fmt.Errorf("make %s: %w", dir, err)
	}
	for _, d := range []struct {
		path string
		perm os.FileMode
	}{
		{"bin", 0o755}, {"sbin", 0o755}, {"usr/bin", 0o755}, {"usr/sbin", 0o755},
		{"etc", 0o755}, {"root", 0o700}, {"home", 0o755}, {"mnt", 0o755}, {"var/log", 0o755},
		{"proc", 0o555}, {"sys", 0o555}, {"dev", 0o755}, {"run", 0o755},
		{"tmp", 0o777 | os.ModeSticky}, {"var/tmp", 0o777 | os.ModeSticky},
	} {
		path := filepath.Join(dir, d.path)
		if err := os.MkdirAll(path, 0o755); err != nil {
			return fmt.Errorf("make %s: %w", path, err)
		}
		// MkdirAll's mode is filtered by the umask and ignores the sticky bit.
		if err := os.Chmod(path, d.perm); err != nil {
			return fmt.Errorf("make %s: %w", path, err)
		}
	}
	if _, err := CopyFile(busybox, filepath.Join(dir, "bin/busybox")); err != nil {
		return err
	}
	for applet := range strings.FieldsSeq(string(applets)) {
		if filepath.Base(applet) == "busybox" {
			continue
		}
		link := filepath.Join(dir, applet)
		if _, err := os.Lstat(link); err == nil {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
			return fmt.Errorf("link applet %s: %w", applet, err)
		}
		if err := os.Symlink("/bin/busybox", link); err != nil {
			return fmt.Errorf("link applet %s: %w", applet, err)
		}
	}
	files := map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
		"etc/group":  "root:x:0:\nnogroup:x:65534:\n",
		"etc/hosts":  "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n",
		// Empty, for a container engine to mount its own over (lab 06).
		"etc/hostname":    "",
		"etc/resolv.conf": "",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
	}
	return nil
}

// CopyFile copies the regular file src to dst with its permission bits, replacing dst.
// It returns the number of bytes copied.
func CopyFile(src, dst string) (int64, error) {
	data, err := os.ReadFile(src)
	if err != nil {
		return 0, fmt.Errorf("copy %s: %w", src, err)
	}
	info, err := os.Stat(src)
	if err != nil {
		return 0, fmt.Errorf("copy %s: %w", src, err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return 0, fmt.Errorf("copy %s: %w", src, err)
	}
	// Remove first: the old copy may be running ("text file busy") or be a symlink.
	if err := os.Remove(dst); err != nil && !errors.Is(err, os.ErrNotExist) {
		return 0, fmt.Errorf("copy %s to %s: %w", src, dst, err)
	}
	if err := os.WriteFile(dst, data, info.Mode().Perm()); err != nil {
		return 0, fmt.Errorf("copy %s to %s: %w", src, dst, err)
	}
	if err := os.Chmod(dst, info.Mode().Perm()); err != nil {
		return 0, fmt.Errorf("copy %s to %s: %w", src, dst, err)
	}
	return int64(len(data)), nil
}
