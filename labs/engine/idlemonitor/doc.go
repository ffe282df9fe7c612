// Package idlemonitor is the small half of a detached container's monitor: C code that
// copies the container's output into its json-file log, serves its attach socket and waits
// for it to end, in well under a megabyte. Programs that start containers import it for
// that side effect (labs/engine does, so every user of the engine has it).
//
// # Why the idle half is not Go
//
// A monitor stays beside its container for the container's whole life, so with many
// containers its memory counts many times over. A Go program cannot be small: before main
// runs, the runtime has started several threads (each with a stack), mapped its heap arenas
// and the garbage collector's metadata, and written to much of the binary's data; a Go
// monitor that does nothing but wait keeps a few megabytes of its own. A C loop around
// poll(2) keeps a few pages. The set-up (mount, network, bundle, the runtime's create and
// start) is far easier in Go and lasts a moment, so the engine does that in Go and then
// replaces the Go program by the C loop, in the same process: execve(2) of the same binary,
// whose constructor takes over before the Go runtime starts and never gives it control.
// podman's conmon works the same way (a C monitor per container); when the container
// ends, conmon runs podman's "exit command" to clean up, as this package runs the Go
// clean-up.
//
// # What survives the execve
//
// The process keeps its PID and start time (the container's record and its network lease
// name the monitor by those), its session, and PR_SET_CHILD_SUBREAPER: the container's
// init stays its child, so it alone can wait for it. Open descriptors without FD_CLOEXEC
// survive too: the Go monitor clears that flag on the read ends of the container's stdout
// and stderr pipes (or the master end of its terminal), on the write end of a -i
// container's stdin pipe and on the listening attach socket, and passes their numbers.
//
// # The arguments
//
// The constructor acts only when the command line is
//
//	PROGRAM container-monitor ID idle KEY=VALUE...
//
// (a monitor keeps "container-monitor ID" at the start, so `ps` shows it as one), with
//
//	pid=N          the container's init, our child
//	dir=PATH       the container's directory: the log is PATH/logs/container.log, the
//	               attach socket PATH/attach.sock
//	stdout=FD      the container's output (the terminal's master end with -t)
//	stderr=FD      the container's error output (none with -t)
//	input=FD       where attach clients' input goes: a -i container's stdin pipe, or the
//	               terminal's master end (none: their input is dropped)
//	attach=FD      the listening attach socket
//	tty=0|1        whether output goes unframed to attach clients, and hello lines set the
//	               terminal's size
//	max-size=N     the log's rotation: at N bytes container.log becomes container.log.1 ...
//	max-file=N     ... keeping N files in all
//	health-interval=NS  the container's health check: NS nanoseconds after the start, and
//	               after each check has ended, it runs `PROGRAM container-health ID`, which
//	               does one check (an exec into the container) and records the result
//	               (absent: no health check)
//
// The log's entries are those labs/engine's LogFile writes, byte for byte ({"log":...,
// "stream":...,"time":...}, escaped as Go's encoding/json escapes), except that a line
// longer than 16 KiB is logged as several entries, as Docker's json-file driver does (but
// never cut inside a UTF-8 character, which Docker's may). When the init has ended and the
// output is drained, the attach clients are disconnected, the socket removed, and the
// process executes itself again as
//
//	PROGRAM container-cleanup ID STATUS
//
// STATUS being the init's wait status, for the Go side to tear the set-up down and record
// the exit.
package idlemonitor
