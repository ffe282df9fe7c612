package namespace

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"sync"
)

// InUserNamespace reports whether this process runs in a user namespace other than the
// initial one, whose map sends every ID to itself: a process of a rootless engine, or of
// `unshare -r`, where root is an ordinary user of the host.
//
// The answer is read once per process: a Go program cannot change its user namespace once
// its runtime has started threads (unshare and setns of a user namespace need a process of
// one thread), and a runtime asks several times on every start.
//
// Equivalent to: `cat /proc/self/uid_map` and comparing with "0 0 4294967295".
func InUserNamespace() bool {
	return inUserNamespace()
}

var inUserNamespace = sync.OnceValue(func() bool {
	maps, err := OwnIDMaps("uid_map")
	return err == nil && !isIdentity(maps)
})

// OwnIDMaps reads this process's user namespace's map: file is "uid_map" or "gid_map".
func OwnIDMaps(file string) ([]IDMap, error) {
	data, err := os.ReadFile("/proc/self/" + file)
	if err != nil {
		return nil, fmt.Errorf("read own %s: %w", file, err)
	}
	return ParseIDMap(string(data))
}

// UserSubIDs returns the subordinate uid and gid ranges of the user whose ID is uid (with
// primary group gid), from SubUIDFile and SubGIDFile. A missing file means no ranges.
func UserSubIDs(uid, gid int) (uids, gids []IDRange, err error) {
	name := strconv.Itoa(uid)
	if u, err := user.LookupId(name); err == nil {
		name = u.Username
	}
	for _, f := range []struct {
		path string
		id   int
		out  *[]IDRange
	}{{SubUIDFile, uid, &uids}, {SubGIDFile, gid, &gids}} {
		file, err := os.Open(f.path)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		*f.out, err = ParseSubIDs(file, name, f.id)
		file.Close()
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", f.path, err)
		}
	}
	return uids, gids, nil
}

// Helpers that write maps with subordinate IDs (Debian package uidmap).
const (
	NewUIDMap = "newuidmap"
	NewGIDMap = "newgidmap"
)

// WriteIDMaps writes the uid and gid maps of the new user namespace of process pid, from
// outside it, the way the caller's privilege allows:
//
//   - root (in its own namespace) writes /proc/PID/uid_map and gid_map itself, as lab 03's
//     parent does;
//   - an ordinary user whose maps are its own IDs alone writes "deny" to /proc/PID/setgroups
//     first (the kernel's price for an unprivileged gid map: otherwise a user could drop a
//     group that denies it access, by setgroups inside), then the maps;
//   - an ordinary user with subordinate ranges has newuidmap and newgidmap write them: they
//     are setuid root, and check every range against /etc/subuid and /etc/subgid.
//
// Equivalent to: `newuidmap PID 0 1000 1 1 100000 65536` (and newgidmap), or
// `echo deny > /proc/PID/setgroups; echo '0 1000 1' > /proc/PID/uid_map` (and gid_map).
func WriteIDMaps(pid int, uids, gids []IDMap) error {
	euid, egid := os.Geteuid(), os.Getegid()
	switch {
	case euid == 0:
		return writeMapFiles(pid, uids, gids)
	case ownOnly(uids, euid) && ownOnly(gids, egid):
		path := fmt.Sprintf("/proc/%d/setgroups", pid)
		if err := os.WriteFile(path, []byte("deny"), 0); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
		return writeMapFiles(pid, uids, gids)
	}
	for _, h := range []struct {
		helper string
		maps   []IDMap
	}{{NewUIDMap, uids}, {NewGIDMap, gids}} {
		if err := runMapHelper(h.helper, pid, h.maps); err != nil {
			return err
		}
	}
	return nil
}

// ownOnly reports whether maps is the one line an unprivileged process may write: its own
// ID, once.
func ownOnly(maps []IDMap, id int) bool {
	return len(maps) == 1 && maps[0].Outside == id && maps[0].Size == 1
}

func writeMapFiles(pid int, uids, gids []IDMap) error {
	for _, f := range []struct {
		name string
		maps []IDMap
	}{{"uid_map", uids}, {"gid_map", gids}} {
		if len(f.maps) == 0 {
			continue
		}
		path := fmt.Sprintf("/proc/%d/%s", pid, f.name)
		if err := os.WriteFile(path, []byte(FormatIDMap(f.maps)), 0); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
	}
	return nil
}

func runMapHelper(helper string, pid int, maps []IDMap) error {
	path, err := exec.LookPath(helper)
	if err != nil {
		return fmt.Errorf("a map with subordinate IDs needs %s (Debian package uidmap): %w", helper, err)
	}
	args := []string{strconv.Itoa(pid)}
	for _, m := range maps {
		args = append(args, strconv.Itoa(m.Inside), strconv.Itoa(m.Outside), strconv.Itoa(m.Size))
	}
	out, err := exec.Command(path, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %v: %w: %s", helper, args, err, out)
	}
	return nil
}
