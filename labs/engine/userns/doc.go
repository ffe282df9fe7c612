// Package userns puts a rootless engine's commands into the user's engine namespaces: C
// code that runs as a constructor, before the Go runtime starts its threads, because the
// kernel refuses setns(2) into a user namespace to a process that has more than one
// thread. Programs that run the engine as an ordinary user import it for that side effect
// (08-engine does); labs/engine's EnterUserNamespace sets the variables it reads.
//
// # The engine's namespaces, and who holds them
//
// A rootless engine works in one user namespace, mapped over the user's own ID and its
// subordinate IDs (see labs/namespace), and one mount namespace that this user namespace
// owns. There every command is root: it unpacks images with their owners (the kernel
// writes them shifted into the subordinate range), mounts overlays (with "userxattr"),
// creates the containers' namespaces, and removes what a container's users left behind.
// Running containers keep their root file systems mounted in that mount namespace, so
// every later command (exec, cp, commit, rm) must be in the same one, not a new copy.
//
// The engine has no daemon to hold the namespaces; a pause process does: the first
// command of a user starts it in a new user and mount namespace, writes its maps with
// newuidmap and newgidmap, and notes its PID under the user's runtime directory. The
// pause does nothing but wait (pause(2)), in well under a megabyte: it is this package's
// constructor, which never hands control to Go. Rootless podman keeps its namespaces the
// same way (its "pause process", catatonit -P).
//
// # Joining
//
// Every command of the user then executes itself again, with two descriptors open: the
// pause's /proc/PID/ns/user and /proc/PID/ns/mnt, and their numbers in a variable. The
// constructor joins the user namespace, where the caller, as the owner of the namespace,
// receives every capability, then the mount namespace (which resets the current
// directory to the namespace's root, so the constructor goes back to the one the command
// was started in), and returns: the same PID, arguments and terminal, now root in the
// engine's namespaces.
//
// # The variables
//
//	_LABS_USERNS_JOIN=USERFD,MNTFD   join the namespaces of these descriptors, then go on
//	_LABS_USERNS_PAUSE=1              be the pause: wait until a signal ends the process
package userns

import "os"

// Variables the constructor reads.
const (
	// EnvJoin holds "USERFD,MNTFD": descriptors of the user and mount namespaces to join.
	EnvJoin = "_LABS_USERNS_JOIN"
	// EnvPause makes the process the pause that holds the namespaces.
	EnvPause = "_LABS_USERNS_PAUSE"
)

func init() {
	// The constructor has used it; the Go runtime keeps its own copy of the environment,
	// which the processes the engine starts (monitors, containers) must not inherit it from.
	os.Unsetenv(EnvJoin)
}
