package image

import (
	"bufio"
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

// ResolveUser turns an image's User ("name", "uid", "name:group", "uid:gid", or "" for
// root) into IDs, looking names up in the /etc/passwd and /etc/group of the root file
// system root, as Docker does inside the container: the host's users mean nothing there.
// A numeric uid needs no entry (its group is then 0); a name must have one.
func ResolveUser(root, spec string) (User, error) {
	// lab:07 begin: split spec at ":"; find the user by name or uid in root's /etc/passwd (readIDFile: uid, gid, home), a numeric uid needing no entry; a group by number, or by name in /etc/group
	userPart, groupPart, hasGroup := strings.Cut(spec, ":")
	if userPart == "" {
		userPart = "0"
	}
	passwd, err := readIDFile(root, "/etc/passwd")
	if err != nil {
		return User{}, err
	}
	uid, err := strconv.Atoi(userPart)
	numeric := err == nil
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
		u.UID, _ = strconv.Atoi(entry[2])
		u.GID, _ = strconv.Atoi(entry[3])
		u.Home = entry[5]
	case !numeric:
		return User{}, fmt.Errorf("user %q: no such user in the image's /etc/passwd", userPart)
	}
	if !hasGroup {
		return u, nil
	}
	if gid, err := strconv.Atoi(groupPart); err == nil {
		u.GID = gid
		return u, nil
	}
	groups, err := readIDFile(root, "/etc/group")
	if err != nil {
		return User{}, err
	}
	for _, f := range groups {
		if len(f) >= 3 && f[0] == groupPart {
			if u.GID, err = strconv.Atoi(f[2]); err == nil {
				return u, nil
			}
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

// readIDFile reads the colon-separated lines of an /etc/passwd-style file inside root; a
// missing file has no lines.
func readIDFile(root, file string) ([][]string, error) {
	p, err := rootfs.Resolve(root, file)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the image's %s: %w", file, err)
	}
	defer f.Close()
	var lines [][]string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := sc.Text(); line != "" && !strings.HasPrefix(line, "#") {
			lines = append(lines, strings.Split(line, ":"))
		}
	}
	return lines, sc.Err()
}
