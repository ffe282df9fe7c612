package engine

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"

	"containerlabs/labs/namespace"
)

// Rootless: the engine of an ordinary user.
//
// Root in a rootful container is root on the host: a process that escapes the container
// (a kernel bug, a runtime bug such as CVE-2019-5736, a careless bind mount) holds every
// file of the machine. A rootless engine is run by an ordinary user and gives its
// containers nothing that user does not have: root in the container is that user on the
// host, and the container's other users are IDs the administrator set aside for the user
// (/etc/subuid), which own nothing else. The same escape then yields an ordinary user.
//
// The mechanism is lab 03's user namespace, mapped differently (labs/namespace's
// RootlessMap): the user's own ID is root inside, its subordinate range follows. The
// engine's commands run as root in that namespace (package userns explains how each
// command joins it), and so most of the engine works unchanged:
//
//   - images: a layer's files are created by root in the namespace with their owners from
//     the tar, and the kernel writes each owner shifted into the user's range on disk (uid 0
//     becomes the user, uid 1 the first subordinate ID, ...). Shifting by hand is not an
//     option: an ordinary user cannot chown a file to an ID that is not its own.
//   - the root file system: overlayfs in a user namespace (Linux 5.11 and later), mounted
//     with "userxattr" so that its opaque marks live in user.overlay.* attributes, which
//     the namespace's root may set, instead of trusted.* (storage_linux.go: fuse-overlayfs
//     where the kernel refuses);
//   - the containers' namespaces, /proc, /sys, /dev/pts, mqueue: the namespace's root may
//     create and mount them, for namespaces it owns;
//
// and three things change:
//
//   - the network: the bridge, the host end of a veth and the NAT rules live in the host's
//     network namespace, where an ordinary user may change nothing. slirp4netns instead
//     gives each container a TAP device whose packets it carries through ordinary sockets
//     of its own (labs/network's Slirp), and publishes ports by listening on them: ports
//     from net.ipv4.ip_unprivileged_port_start (1024) up;
//   - cgroups: an ordinary user may create groups only in a subtree an administrator (or
//     systemd) delegated to it, which cgroup v2 allows and v1 does not; without one the
//     containers run without limits, and asking for a limit is refused with the reason;
//   - devices: mknod of a device is refused in a user namespace, so the runtime bind-mounts
//     the host's /dev/null and friends instead, and no device cgroup can be written.
//
// A user without a subordinate range (or without newuidmap) gets a namespace that maps its
// own ID only, the one line the kernel lets anyone write: only root exists in its
// containers, and the engine says so when it makes the namespace.

// EnvXDGRuntime and EnvXDGData name the per-user directories of the XDG Base Directory
// specification that a rootless engine keeps its files in.
const (
	EnvXDGRuntime = "XDG_RUNTIME_DIR"
	EnvXDGData    = "XDG_DATA_HOME"
)

// Rootless describes the user namespace a rootless engine runs in.
type Rootless struct {
	// UID and GID are the user's own IDs on the host: root in the containers.
	UID, GID int
	// UIDs and GIDs are the namespace's maps (RootlessMap's).
	UIDs, GIDs []namespace.IDMap
	// RuntimeDir holds the pause's PID file and lock.
	RuntimeDir string
}

// SingleID reports whether the namespace maps only the user's own ID (no subordinate
// range, or no newuidmap): only root exists in the containers.
func (r *Rootless) SingleID() bool {
	return namespace.MappedSize(r.UIDs) <= 1 || namespace.MappedSize(r.GIDs) <= 1
}

// DefaultStateRoot is the engine's state root unless --root or CONTAINERLABS_ROOT says
// otherwise: DefaultRoot for root, and for an ordinary user (in the engine's user
// namespace) UserStateRoot.
func DefaultStateRoot() string {
	if !namespace.InUserNamespace() {
		return DefaultRoot
	}
	return UserStateRoot()
}

// UserStateRoot is a rootless engine's state root: $XDG_DATA_HOME/containerlabs, or
// ~/.local/share/containerlabs, in the user's home as podman keeps its storage.
func UserStateRoot() string {
	if dir := os.Getenv(EnvXDGData); filepath.IsAbs(dir) {
		return filepath.Join(dir, "containerlabs")
	}
	return filepath.Join(userHome(), ".local", "share", "containerlabs")
}

func userHome() string {
	if home := os.Getenv("HOME"); filepath.IsAbs(home) {
		return home
	}
	uid := os.Geteuid()
	if maps, err := namespace.OwnIDMaps("uid_map"); err == nil && namespace.InUserNamespace() {
		uid = hostID(maps)
	}
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		return u.HomeDir
	}
	return "/"
}

// NetworkSlirp is the network mode of a container connected through slirp4netns
// (labs/network's Slirp): a rootless engine's default, as bridge is root's.
const NetworkSlirp = "slirp4netns"

// defaultNetwork is the network mode of a container that asks for none.
func (e *Engine) defaultNetwork() string {
	if e.Rootless != nil {
		return NetworkSlirp
	}
	return "bridge"
}

// askedLimit is a cgroup limit cfg sets: the command-line option, and the cgroup v2
// controller that enforces it.
type askedLimit struct{ option, controller string }

// limitsAsked lists the cgroup limits cfg sets.
func limitsAsked(cfg Config) []askedLimit {
	var limits []askedLimit
	for _, l := range []struct {
		set bool
		askedLimit
	}{
		{cfg.Memory > 0, askedLimit{"--memory", "memory"}},
		{cfg.CPUs > 0, askedLimit{"--cpus", "cpu"}},
		{cfg.PidsLimit > 0, askedLimit{"--pids-limit", "pids"}},
	} {
		if l.set {
			limits = append(limits, l.askedLimit)
		}
	}
	return limits
}

// checkUser refuses a user or group the engine's namespace does not map, naming the
// range it has: setuid(2) to it would fail inside the container, with EINVAL.
func (r *Rootless) checkUser(uid, gid int) error {
	for _, id := range []struct {
		kind  string
		value int
		maps  []namespace.IDMap
	}{{"uid", uid, r.UIDs}, {"gid", gid, r.GIDs}} {
		if n := namespace.MappedSize(id.maps); id.value >= n {
			return fmt.Errorf("%s %d does not exist in the rootless engine's user namespace, which has %s 0 to %d (the user's own and its subordinate range in /etc/sub%s)", id.kind, id.value, id.kind, n-1, id.kind[:3])
		}
	}
	return nil
}
