//go:build !linux

package namespace

// InUserNamespace reports whether this process runs in a user namespace (Linux only).
func InUserNamespace() bool { return false }

// OwnIDMaps reads this process's user namespace's map (Linux only).
func OwnIDMaps(file string) ([]IDMap, error) { return nil, errNotLinux }

// UserSubIDs returns a user's subordinate ranges (Linux only).
func UserSubIDs(uid, gid int) (uids, gids []IDRange, err error) { return nil, nil, errNotLinux }

// WriteIDMaps writes a user namespace's maps (Linux only).
func WriteIDMaps(pid int, uids, gids []IDMap) error { return errNotLinux }
