package cgroup

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// Delegation: cgroups for an ordinary user.
//
// Every directory under /sys/fs/cgroup belongs to root, so only root can make groups and
// write limits. cgroup v2 lets root hand a subtree to a user safely, which v1 does not: the
// administrator (or systemd, for each logged-in user's user@UID.service, with
// Delegate=yes) gives the user a group's directory and its cgroup.procs,
// cgroup.subtree_control and cgroup.threads files. The user may then create groups under
// it, enable the controllers the group was given for its children, write their limits,
// and move its own processes between them: moving a process needs write access to the
// cgroup.procs of the closest group above both its old and its new group, which for two
// groups of the subtree is in the subtree. The limits the user writes cannot exceed the
// delegated group's own, which the user cannot change (its memory.max and the like stay
// root's). On v1 the same chown would let the user raise its own limits and, through
// controllers such as cpuset, reach other users' groups: no engine delegates there, and a
// rootless container on v1 gets no group (labs/runtime's Rootless).
//
// Without systemd, an administrator delegates by hand, once per boot:
//
//	mkdir /sys/fs/cgroup/user-alice /sys/fs/cgroup/user-alice/session
//	echo '+memory +pids +cpu' > /sys/fs/cgroup/cgroup.subtree_control
//	chown alice /sys/fs/cgroup/user-alice /sys/fs/cgroup/user-alice/cgroup.{procs,subtree_control,threads}
//	chown -R alice /sys/fs/cgroup/user-alice/session
//	echo $ALICES_SHELL > /sys/fs/cgroup/user-alice/session/cgroup.procs
//
// The user's processes go into a leaf (session): cgroup v2 lets only a group without
// processes of its own enable controllers for its children.

// Delegated finds the group delegated to the user this process runs as: the highest group
// on the path from the root of the v2 hierarchy down to this process's own group whose
// directory and cgroup.procs the user owns. It returns the group's path in the hierarchy
// ("/user-alice"), or an error saying why there is none.
//
// Equivalent to: `cat /proc/self/cgroup`, then `stat -c %u` up the path.
func Delegated() (string, error) {
	mode, err := Detect()
	if err != nil {
		return "", err
	}
	if mode != V2 {
		return "", fmt.Errorf("this host's cgroups are %s, where every group belongs to root and none can be delegated to a user safely: limits for a rootless container need cgroup v2", mode)
	}
	own, err := ownGroups()
	if err != nil {
		return "", err
	}
	for _, g := range own {
		if g.controllers == "" {
			return delegatedOn(DefaultRoot, g.path, os.Geteuid())
		}
	}
	return "", errors.New("/proc/self/cgroup lists no cgroup v2 group")
}

// delegatedOn is Delegated for a hierarchy mounted at root, a process whose group is own
// and a user whose ID (as this process sees it) is uid.
func delegatedOn(root, own string, uid int) (string, error) {
	path := "/"
	for _, part := range strings.Split(strings.Trim(own, "/"), "/") {
		if part == "" {
			continue
		}
		path = filepath.Join(path, part)
		if ownedBy(filepath.Join(root, path), uid) && ownedBy(filepath.Join(root, path, "cgroup.procs"), uid) {
			return path, nil
		}
	}
	return "", fmt.Errorf("no group from the root of the cgroup hierarchy down to this process's own (%s) belongs to uid %d: an administrator must delegate one (see labs/cgroup/delegate_linux.go)", own, uid)
}

func ownedBy(path string, uid int) bool {
	var st unix.Stat_t
	return unix.Stat(path, &st) == nil && int(st.Uid) == uid
}

// Controllers lists the controllers a v2 group's children may use
// (cgroup.controllers), as path in the hierarchy names it.
func Controllers(path string) ([]string, error) {
	return readList(filepath.Join(DefaultRoot, path, "cgroup.controllers"))
}

// MissingControllers lists those of want that the group at path (in the hierarchy) was not
// given.
func MissingControllers(path string, want []string) ([]string, error) {
	have, err := Controllers(path)
	if err != nil {
		return nil, err
	}
	var missing []string
	for _, c := range want {
		if !slices.Contains(have, c) {
			missing = append(missing, c)
		}
	}
	return missing, nil
}
