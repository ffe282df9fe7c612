// Package sparemonitor starts a container's monitor before it is needed: as the engine's
// command line starts (`run` or `start`), a C constructor forks and executes the monitor,
// so that the monitor's Go runtime starts while the command line's own does, on another
// CPU, instead of after it.
//
// # Why
//
// A `run --rm` is two Go programs one after the other: the command line, then the monitor
// it starts (Start, in labs/engine). Before either reaches main, the Go runtime and the
// package initialisation of a 20 MB binary take about 15 ms of CPU, most of it page faults.
// The command line's work before the start (the image, the container's record) is short,
// so the monitor's start-up was nearly all waiting. Started here, it overlaps the command
// line's start-up and its work; when Start wants a monitor, one is usually ready.
//
// A zygote does the same: Android starts each app from a process whose runtime has
// already started. podman does not need it: its monitor, conmon, is a small C program.
//
// # How
//
// The constructor acts only when the command line is `PROGRAM [--root DIR] run|start ...`,
// run by root (an ordinary user's commands first join the engine's user namespace, and
// their monitors start the usual way). It makes a socket pair and starts, with
// posix_spawn, a child that starts a session of its own (as Start does for its monitors),
// has its end of the pair at descriptor 3 and its standard streams on /dev/null, and
// executes
//
//	PROGRAM container-monitor -
//
// with CONTAINERLABS_MONITOR=- in its environment. That monitor waits on descriptor 3 for
// the hand-over: which container, the engine's settings and, when attached, the caller's
// terminal or pipes (as SCM_RIGHTS). Take gives the command line the other end.
//
// A command that starts nothing (an error before the start, or `start` of a running
// container) never sends the hand-over: its spare monitor reads end-of-file when the
// command exits and ends without doing anything. Its streams are /dev/null, so it holds
// none of the caller's pipes meanwhile.
package sparemonitor
