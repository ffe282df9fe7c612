package image

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"containerlabs/labs/process"
	"containerlabs/labs/rootfs"
)

// Process is what a container made from an image runs.
type Process struct {
	// Args is the command line: the image's Entrypoint followed by its Cmd, or by the
	// command given instead of Cmd.
	Args []string
	// Env is the image's environment, with a default PATH if it sets none.
	Env []string
	// WorkingDir is where the command starts ("/" if the image does not say).
	WorkingDir string
	// User is the image's user as written ("", "nobody", "1000:1000"); ResolveUser
	// turns it into IDs.
	User string
}

// RunConfig applies Docker's rules to an image's config and the command given on the
// command line (none for the image's default): a command replaces Cmd, never Entrypoint,
// so an image whose Entrypoint is a program takes the command as that program's arguments.
//
// Equivalent to what `docker run IMAGE [COMMAND...]` runs.
func RunConfig(cfg *v1.ConfigFile, command []string) (Process, error) {
	// lab:07 begin: Args are Entrypoint followed by command, or by Cmd when there is no command (an error if both are empty); Env with a PATH (process.DefaultPath if it has none); WorkingDir, or "/"; User
	c := cfg.Config
	cmd := c.Cmd
	if len(command) > 0 {
		cmd = command
	}
	args := slices.Concat(c.Entrypoint, cmd)
	if len(args) == 0 {
		return Process{}, errors.New("no command: the image has no Entrypoint or Cmd, so give one")
	}
	env := slices.Clone(c.Env)
	if !slices.ContainsFunc(env, func(v string) bool { return strings.HasPrefix(v, "PATH=") }) {
		env = append(env, "PATH="+process.DefaultPath)
	}
	dir := c.WorkingDir
	if dir == "" {
		dir = "/"
	}
	return Process{Args: args, Env: env, WorkingDir: dir, User: c.User}, nil
	// lab:07 end
}

// User is a user as a container's /etc/passwd and /etc/group define it.
type User struct {
	UID, GID int
	// Home is the home directory from /etc/passwd ("/" when the user has no entry).
	Home string
}

// MaxID is the largest user or group ID a container may run as: 2^31-1, as Docker and
// runc accept. The kernel's IDs are 32 bits, but 2^32-1 is (uid_t)-1, which setresuid(2)
// and setresgid(2) read as "leave this ID unchanged": a container asked to run as
// 4294967295 would stay root, and one asked for 4294967296 would become 0 if the number
// were cut to 32 bits. So a number is checked whole, before any conversion.
const MaxID = 1<<31 - 1

// ParseID reads a numeric user or group ID ("1000"). ok is false for a name (anything that
// is not all digits, with an optional sign), which the caller looks up instead; a number
// out of range (negative, above MaxID, or too long for any integer) is an error naming it.
func ParseID(kind, s string) (id int, ok bool, err error) {
	digits := strings.TrimPrefix(strings.TrimPrefix(s, "-"), "+")
	if digits == "" || strings.Trim(digits, "0123456789") != "" {
		return 0, false, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > MaxID {
		return 0, true, fmt.Errorf("%s ID %s is out of range: want 0 to %d", kind, s, MaxID)
	}
	return int(n), true, nil
}

// maxIDFile is the most of /etc/passwd or /etc/group the engine reads: an image's file may
// be anything, and the engine reads it as root, on the host.
const maxIDFile = 4 << 20

// ResolveUser turns an image's User ("name", "uid", "name:group", "uid:gid", or "" for
// root) into IDs, looking names up in the /etc/passwd and /etc/group of the root file
// system root, as Docker does inside the container: the host's users mean nothing there.
// A numeric uid needs no entry (its group is then 0); a name must have one. Every ID,
// given or read from the image's files, must be in 0..MaxID.
//
// The files are read as a process chrooted into root would read them (rootfs.ReadFileInRoot:
// a symlink /etc/passwd -> /etc/shadow leads to the container's own shadow, never the
// host's), and only if they are regular files of a sane size.
func ResolveUser(root, spec string) (User, error) {
	// lab:07 begin: split spec at ":"; find the user by name or uid (ParseID) in root's /etc/passwd (readIDFile: uid, gid, home), a numeric uid needing no entry; a group by number, or by name in /etc/group
	userPart, groupPart, hasGroup := strings.Cut(spec, ":")
	if userPart == "" {
		userPart = "0"
	}
	uid, numeric, err := ParseID("user", userPart)
	if err != nil {
		return User{}, fmt.Errorf("user %q: %w", spec, err)
	}
	passwd, err := readIDFile(root, "/etc/passwd")
	if err != nil {
		return User{}, err
	}
	u := User{UID: uid, GID: 0, Home: "/"}
	var entry []string
	for _, f := range passwd {
		if len(f) >= 6 && (f[0] == userPart || (numeric && f[2] == strconv.Itoa(uid))) {
			entry = f
			break
		}
	}
	switch {
	case entry != nil:
		if u.UID, err = entryID("user", entry[0], entry[2]); err != nil {
			return User{}, err
		}
		if u.GID, err = entryID("group", entry[0], entry[3]); err != nil {
			return User{}, err
		}
		u.Home = entry[5]
	case !numeric:
		return User{}, fmt.Errorf("user %q: no such user in the image's /etc/passwd", userPart)
	}
	if !hasGroup {
		return u, nil
	}
	gid, numeric, err := ParseID("group", groupPart)
	if err != nil {
		return User{}, fmt.Errorf("user %q: %w", spec, err)
	}
	if numeric {
		u.GID = gid
		return u, nil
	}
	groups, err := readIDFile(root, "/etc/group")
	if err != nil {
		return User{}, err
	}
	for _, f := range groups {
		if len(f) >= 3 && f[0] == groupPart {
			if u.GID, err = entryID("group", f[0], f[2]); err != nil {
				return User{}, err
			}
			return u, nil
		}
	}
	return User{}, fmt.Errorf("group %q: no such group in the image's /etc/group", groupPart)
	// lab:07 starter:
	// if spec != "" {
	// 	return User{}, errors.New("TODO(lab 07): run as the image's user: look it up in the image's /etc/passwd")
	// }
	// return User{Home: "/root"}, nil
	// lab:07 end
}

// entryID reads an ID field of the image's /etc/passwd or /etc/group, which must be a
// number in range: an entry "evil:x:-1:..." or "evil:x:4294967295:..." is refused, not
// read as root.
func entryID(kind, name, field string) (int, error) {
	id, numeric, err := ParseID(kind, field)
	if err == nil && !numeric {
		err = fmt.Errorf("%s ID %q is not a number", kind, field)
	}
	if err != nil {
		return 0, fmt.Errorf("%s in the image's /etc/passwd or /etc/group: %w", name, err)
	}
	return id, nil
}

// readIDFile reads the colon-separated lines of an /etc/passwd-style file inside root; a
// missing file has no lines.
func readIDFile(root, file string) ([][]string, error) {
	dir, err := rootfs.OpenRoot(root)
	if err != nil {
		return nil, err
	}
	defer dir.Close()
	data, err := rootfs.ReadFileInRoot(dir, file, maxIDFile)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the image's %s: %w", file, err)
	}
	var lines [][]string
	for line := range strings.SplitSeq(string(data), "\n") {
		if line != "" && !strings.HasPrefix(line, "#") {
			lines = append(lines, strings.Split(line, ":"))
		}
	}
	return lines, nil
}
