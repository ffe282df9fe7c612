package rootfs

import (
	"bufio"
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"containerlabs/labs/process"
)

// maxSymlinks is how many symlinks one lookup may follow before giving up, as the kernel's
// ELOOP limit does.
const maxSymlinks = 40

// Resolve returns the host path of path as a process chrooted into root would see it:
// symlinks are followed, an absolute link target starts again at root, and ".." never
// climbs above root. Components that do not exist yet are kept as they are, so Resolve can
// name a file that is about to be created.
//
// Use it whenever a host-side tool reads or writes inside a container's root directory:
// joining the paths naively would follow a container's symlink "/etc/passwd -> /etc/shadow"
// to the host's own /etc/shadow. Resolve is not a defence against a container that changes
// its files while you look (use an openat-based walk such as Unpacker's for that).
func Resolve(root, path string) (string, error) {
	root = filepath.Clean(root)
	pending := splitPath(path)
	var resolved []string
	links := 0
	for len(pending) > 0 {
		part := pending[0]
		pending = pending[1:]
		switch part {
		case "", ".":
			continue
		case "..":
			if len(resolved) > 0 {
				resolved = resolved[:len(resolved)-1]
			}
			continue
		}
		candidate := filepath.Join(root, filepath.Join(resolved...), part)
		info, err := os.Lstat(candidate)
		if err != nil || info.Mode()&fs.ModeSymlink == 0 {
			resolved = append(resolved, part)
			continue
		}
		links++
		if links > maxSymlinks {
			return "", fmt.Errorf("resolve %s in %s: too many levels of symbolic links", path, root)
		}
		target, err := os.Readlink(candidate)
		if err != nil {
			return "", fmt.Errorf("resolve %s in %s: %w", path, root, err)
		}
		if filepath.IsAbs(target) {
			resolved = nil
		}
		pending = append(splitPath(target), pending...)
	}
	return filepath.Join(root, filepath.Join(resolved...)), nil
}

func splitPath(p string) []string {
	return strings.Split(filepath.ToSlash(p), "/")
}

// ErrNotFound is process.ErrNotFound: a command that is not in the rootfs.
var ErrNotFound = process.ErrNotFound

// ErrNotRunnable is process.ErrNotRunnable: a command in the rootfs that cannot start there.
var ErrNotRunnable = process.ErrNotRunnable

// LookPath finds command inside root the way a shell inside it would: a name with a slash
// is taken as it is, a bare name is searched in the directories of searchPath (process.DefaultPath
// when empty). It returns the path as the process inside root sees it ("/usr/bin/bash").
//
// The error wraps ErrNotFound when there is no such file, or when the file is there but the
// interpreter it needs is not (the ELF interpreter of a dynamically linked binary, or the
// "#!" program of a script), naming the missing file: that is why `chroot DIR /bin/bash`
// famously says "No such file or directory" about a file that is plainly there. It wraps
// ErrNotRunnable when the file is not executable.
func LookPath(root, command, searchPath string) (string, error) {
	if searchPath == "" {
		searchPath = process.DefaultPath
	}
	candidates := []string{command}
	if !strings.Contains(command, "/") {
		candidates = nil
		for dir := range strings.SplitSeq(searchPath, ":") {
			if dir != "" {
				candidates = append(candidates, filepath.Join(dir, command))
			}
		}
	}
	for _, candidate := range candidates {
		inside := filepath.Join("/", candidate)
		host, err := Resolve(root, inside)
		if err != nil {
			return "", err
		}
		info, err := os.Stat(host)
		if err != nil || info.IsDir() {
			continue
		}
		if info.Mode().Perm()&0o111 == 0 {
			return "", fmt.Errorf("%s in %s is not executable: %w", inside, root, ErrNotRunnable)
		}
		if err := checkInterpreter(root, inside, host); err != nil {
			return "", err
		}
		return inside, nil
	}
	if strings.Contains(command, "/") {
		return "", fmt.Errorf("%s is %w in %s", command, ErrNotFound, root)
	}
	return "", fmt.Errorf("%s is %w in %s (searched %s)", command, ErrNotFound, root, searchPath)
}

// checkInterpreter makes sure the program that the kernel will load before the command is
// present inside root: the ELF interpreter of a dynamically linked binary, or the "#!" line
// of a script.
func checkInterpreter(root, inside, host string) error {
	interp, err := scriptInterpreter(host)
	if err != nil {
		return err
	}
	kind := "script interpreter"
	if interp == "" {
		kind = "ELF interpreter"
		// Files that are not ELF (and not scripts) are left to the kernel to judge.
		interp, _ = Interpreter(host)
	}
	if interp == "" {
		return nil
	}
	resolved, err := Resolve(root, interp)
	if err != nil {
		return err
	}
	if _, err := os.Stat(resolved); err != nil {
		// ErrNotFound, as the kernel's ENOENT and a shell's 127 have it: a file is missing.
		return fmt.Errorf("%s in %s needs its %s %s, which is %w there (copy it in with its libraries)",
			inside, root, kind, interp, ErrNotFound)
	}
	return nil
}

// scriptInterpreter returns the interpreter a "#!" line names, or "" if file is not a script.
func scriptInterpreter(file string) (string, error) {
	f, err := os.Open(file)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", file, err)
	}
	defer f.Close()
	line, err := bufio.NewReader(f).ReadSlice('\n')
	if !bytes.HasPrefix(line, []byte("#!")) {
		return "", nil
	}
	if err != nil && len(line) < 3 {
		return "", nil
	}
	fields := strings.Fields(string(line[2:]))
	if len(fields) == 0 {
		return "", nil
	}
	return fields[0], nil
}
