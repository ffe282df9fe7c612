// Package procfs gives a root directory the pseudo file systems programs expect (/proc,
// /dev and /sys) and reads what the kernel publishes about a process in /proc.
//
// /proc is not a directory of files on disk: it is the kernel answering questions. `ps`
// lists processes by reading the numbered directories of /proc, so in a root without /proc
// `ps` fails; mount one and `ps` works again, and, until a PID namespace is added (lab 03),
// shows every process on the host. Inspect reads the same files ps and top read (status,
// cmdline, environ, exe, cwd, root, maps, ns/*) so the learner can see them directly.
package procfs
