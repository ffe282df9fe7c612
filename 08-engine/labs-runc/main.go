// labs-runc is an OCI runtime with runc's command line, built on labs/runtime: containerd
// (`ctr run --runc-binary labs-runc`), dockerd (`--add-runtime`), and anything else that
// drives runc, can drive it. Its commands, options, output formats and exit statuses are
// runc's, so that runc's own integration tests run against it (08-engine's README says
// which pass); `labs-runc --help` and `labs-runc COMMAND --help` list them.
//
//	labs-runc [--root DIR] [--log FILE] [--log-format text|json] [--debug] COMMAND ...
//
//	create, start, run          create a container, start it, or both (run -d: detached)
//	state, list, ps, events     look at containers
//	kill, pause, resume, update act on one
//	exec                        run another process in one
//	delete                      remove one
//	spec, features              write a config.json; describe the runtime
//	checkpoint, restore         refused: they need CRIU
//
// --rootless (true, false, auto: an ordinary user or root of a user namespace) runs a
// container without a cgroup of its own where the caller may create none, as runc's does,
// if it asks for no limit; its state root is then $XDG_RUNTIME_DIR/labs-runc. `spec
// --rootless` writes a config an ordinary user can run, as `runc spec --rootless` does.
//
// Errors exit with status 1, and with 255 for exec (whose other statuses are the
// process's), as runc's do; usage errors also exit 1. --systemd-cgroup is accepted, as
// containerd passes it when so configured, and changes nothing: this runtime writes
// cgroupfs itself and has no systemd driver; a cgroupsPath in systemd's slice:prefix:name
// form is refused with an error.
package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"containerlabs/labs/cgroup"
	"containerlabs/labs/runtime"
)

func main() {
	if runtime.IsInit() {
		code, err := runtime.Init()
		if err != nil {
			fmt.Fprintln(os.Stderr, "labs-runc init:", err)
		}
		os.Exit(code)
	}
	os.Exit(dispatch(os.Args[1:]))
}

// globals are the options before the command, and what they make.
type globals struct {
	r       *runtime.Runtime
	log     *runtime.Logger
	logPath string
}

var globalOptions = []option{
	{[]string{"debug"}, "", "log what the runtime does, step by step (level=debug)"},
	{[]string{"log"}, "value", "write log lines to this file instead of standard error"},
	{[]string{"log-format"}, "value", "text (logfmt, the default) or json (one object a line, which containerd reads)"},
	{[]string{"root"}, "value", "directory of the containers' state, on a tmpfs (default: " + runtime.DefaultRoot + ", or $XDG_RUNTIME_DIR/labs-runc for an ordinary user)"},
	{[]string{"criu"}, "value", "accepted; checkpoint and restore are not supported"},
	{[]string{"systemd-cgroup"}, "", "accepted; this runtime has no systemd cgroup driver"},
	{[]string{"rootless"}, "value", "true, false or auto (the default: true for an ordinary user or root of a user namespace): a container the caller may give no cgroup runs without one, if it asks for no limit"},
	{[]string{"help", "h"}, "", "print this page, or a command's with COMMAND --help"},
	{[]string{"version", "v"}, "", "print the version, the commit it was built from and the OCI spec version"},
}

func dispatch(args []string) int {
	top := &command{name: "", options: globalOptions}
	p, help, err := top.parse(args)
	if err != nil {
		fmt.Fprintln(os.Stderr, "labs-runc:", err)
		return 1
	}
	switch {
	case p.on("version"):
		printVersion()
		return 0
	case help || len(p.args) == 0:
		printHelp(os.Stdout)
		return 0
	}
	name, rest := p.args[0], p.args[1:]
	if name == "help" {
		if len(rest) == 0 {
			printHelp(os.Stdout)
			return 0
		}
		name, rest = rest[0], []string{"--help"}
	}
	cmd := findCommand(name)
	if cmd == nil {
		fmt.Fprintf(os.Stderr, "No help topic for '%s'\n", name)
		return 3
	}
	g, err := setUp(p)
	if err != nil {
		fmt.Fprintln(os.Stderr, "labs-runc:", err)
		return 1
	}
	cp, help, err := cmd.parse(rest)
	if err == nil && help {
		cmd.help(os.Stdout)
		return 0
	}
	code := 0
	if err == nil {
		g.log.Debugf("labs-runc %s, command %s %q", runtime.Version, cmd.name, cp.args)
		code, err = cmd.run(g, cp)
	}
	if err != nil {
		// containerd's shim reads the last error of the log file; a person reads stderr.
		if g.logPath != "" {
			g.log.Errorf("%v", err)
		}
		fmt.Fprintln(os.Stderr, "labs-runc:", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// setUp makes the runtime the global options describe.
func setUp(p *parsed) (*globals, error) {
	g := &globals{logPath: p.str("log")}
	logOut := io.Writer(os.Stderr)
	if g.logPath != "" {
		f, err := os.OpenFile(g.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND|os.O_SYNC, 0o644)
		if err != nil {
			return nil, err
		}
		logOut = f
	}
	format := p.str("log-format")
	var err error
	if g.log, err = runtime.NewLogger(logOut, format, p.on("debug")); err != nil {
		return nil, err
	}
	if p.on("systemd-cgroup") {
		g.log.Debugf("--systemd-cgroup: no systemd driver; cgroupsPath is used as a cgroupfs path")
	}
	root := p.str("root")
	if root == "" {
		root = runtime.DefaultRootFor()
	}
	g.r = &runtime.Runtime{Root: root, Log: g.log}
	if g.r.Rootless, err = runtime.ParseRootless(p.str("rootless")); err != nil {
		return nil, err
	}
	return g, nil
}

// printVersion prints the version in runc's three lines, which dockerd parses (it reads
// the commit: line); commit is the revision this binary was built from, as the go tool
// recorded it.
func printVersion() {
	commit := "unknown"
	if info, ok := debug.ReadBuildInfo(); ok {
		settings := map[string]string{}
		for _, s := range info.Settings {
			settings[s.Key] = s.Value
		}
		if rev := settings["vcs.revision"]; rev != "" {
			commit = rev
			if settings["vcs.modified"] == "true" {
				commit += "-dirty"
			}
		}
	}
	fmt.Printf("labs-runc version %s\ncommit: %s\nspec: %s\n", runtime.Version, commit, specs.Version)
}

func printHelp(w io.Writer) {
	fmt.Fprintf(w, `NAME:
   labs-runc - Open Container Initiative runtime

USAGE:
   labs-runc [global options] command [command options] [arguments...]

VERSION:
   %s

DESCRIPTION:
   labs-runc is the workshop's OCI runtime (labs/runtime) behind runc's command line:
   it creates and runs containers from OCI bundles, a directory with a config.json and
   a root file system. Start with `+"`labs-runc spec`"+` in a bundle directory.

COMMANDS:
`, runtime.Version)
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	for _, c := range commands {
		fmt.Fprintf(tw, "   %s\t%s\n", c.name, c.summary)
	}
	fmt.Fprintf(tw, "   help, h\tShows a list of commands or help for one command\n")
	tw.Flush()
	fmt.Fprint(w, "\nGLOBAL OPTIONS:\n")
	printOptions(w, globalOptions)
}

func findCommand(name string) *command {
	if name == "h" {
		name = "help"
	}
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	return nil
}

// The options shared by create, run and restore.
var (
	bundleOption        = option{[]string{"bundle", "b"}, "value", "the bundle: the directory with config.json (default: the current directory)"}
	consoleSocketOption = option{[]string{"console-socket"}, "value", "Unix socket to send the master end of the terminal to, when process.terminal is set"}
	pidFileOption       = option{[]string{"pid-file"}, "value", "write the PID of the process, as the host numbers it, to this file"}
	noPivotOption       = option{[]string{"no-pivot"}, "", "chroot into the root instead of pivot_root, for a root on a ramdisk (where pivot_root is refused)"}
	noNewKeyringOption  = option{[]string{"no-new-keyring"}, "", "keep the caller's session keyring instead of giving the container its own"}
	preserveFDsOption   = option{[]string{"preserve-fds"}, "value", "pass the caller's descriptors 3 to 3+N-1 to the process, at the same numbers (default: 0)"}
)

var commands []*command

func init() {
	commands = []*command{
		{name: "checkpoint", args: "<container-id>", summary: "save a running container to disk (refused: needs CRIU)", raw: true,
			description: "Checkpointing saves a running container's processes to disk with CRIU, for restore to\nbring them back. This runtime does not use CRIU: the command fails, and changes nothing.",
			run:         refuseCRIU},
		{name: "create", args: "<container-id>", summary: "set a container up from a bundle; its command waits for start", interspersed: true,
			description: "Namespaces, mounts, the cgroup and the hardening of config.json are set up; the\ncontainer's init then waits, in the exec fifo, for start to let its command run.",
			options:     []option{bundleOption, consoleSocketOption, pidFileOption, noPivotOption, noNewKeyringOption, preserveFDsOption},
			run:         createOrRun},
		{name: "delete", args: "<container-id>", summary: "remove a container: its cgroup and its state", interspersed: true,
			options: []option{{[]string{"force", "f"}, "", "kill a container that still runs (SIGKILL) and remove it; a missing one is no error"}},
			run:     deleteContainer},
		{name: "events", args: "<container-id>", summary: "print a container's usage and OOM kills as JSON lines", interspersed: true,
			description: "One JSON object a line: the container's usage every interval, and each OOM kill in its\ncgroup as it happens, until the container stops or is deleted.",
			options: []option{
				{[]string{"interval"}, "value", "how often to print the usage (default: 5s)"},
				{[]string{"stats"}, "", "print the usage once and exit"},
			},
			run: events},
		{name: "exec", args: "<container-id> COMMAND [ARG...]  (or: --process PROCESS.json <container-id>)", summary: "run another process in a container's namespaces, root and cgroup",
			options: []option{
				consoleSocketOption,
				{[]string{"cwd"}, "value", "the process's working directory, inside the container"},
				{[]string{"env", "e"}, "value", "add KEY=VALUE to the process's environment"},
				{[]string{"tty", "t"}, "", "give the process a terminal"},
				{[]string{"user", "u"}, "value", "numeric UID[:GID] to run the process as"},
				{[]string{"additional-gids", "g"}, "value", "a supplementary group ID (repeat for more)"},
				{[]string{"process", "p"}, "value", "a JSON process section (config.json's process), instead of the options"},
				{[]string{"detach", "d"}, "", "return once the process runs, instead of waiting for it"},
				pidFileOption,
				{[]string{"process-label"}, "value", "refused: SELinux labels are not supported"},
				{[]string{"apparmor"}, "value", "refused: AppArmor is not supported"},
				{[]string{"no-new-privs"}, "", "set no_new_privs: no setuid binary can raise the process's privileges"},
				{[]string{"cap", "c"}, "value", "add a capability (CAP_...) to the process's bounding, effective, permitted and ambient sets"},
				preserveFDsOption,
				{[]string{"cgroup"}, "value", "[CONTROLLER[,CONTROLLER]:]PATH: put the process in an existing group below the container's"},
				{[]string{"ignore-paused"}, "", "exec into a paused container too (the process starts frozen)"},
			},
			run: execProcess},
		{name: "features", args: "", summary: "describe what this runtime implements (OCI features JSON)",
			description: "What this runtime implements, in the OCI features format: engines read it to know\nwhich fields of config.json they may use.",
			run:         features},
		{name: "kill", args: "<container-id> [signal]", summary: "signal a container's init (default SIGTERM), or all its processes", interspersed: true,
			options: []option{{[]string{"all", "a"}, "", "signal every process of the container's cgroup, not only the init"}},
			run:     kill},
		{name: "list", args: "", summary: "list the containers under the state root", interspersed: true,
			options: []option{
				{[]string{"format", "f"}, "value", "table (the default) or json"},
				{[]string{"quiet", "q"}, "", "print only the IDs"},
			},
			run: list},
		{name: "pause", args: "<container-id>", summary: "freeze every process of a container", interspersed: true,
			description: "The freezer cgroup stops every process of the container where it is, without a signal\nit could notice; resume lets them go on.",
			run:         pause},
		{name: "ps", args: "<container-id> [ps options]", summary: "list a container's processes (ps(1) lines, or PIDs as JSON)",
			options: []option{{[]string{"format", "f"}, "value", "table (the default) or json"}},
			run:     ps},
		{name: "restore", args: "<container-id>", summary: "bring a saved container back (refused: needs CRIU)", raw: true,
			description: "Restoring brings a checkpointed container back with CRIU. This runtime does not use\nCRIU: the command fails, and changes nothing.",
			run:         refuseCRIU},
		{name: "resume", args: "<container-id>", summary: "thaw a paused container", interspersed: true,
			run: resume},
		{name: "run", args: "<container-id>", summary: "create a container, start it, and (unless -d) wait for it and delete it", interspersed: true,
			description: "create and start in one: in the foreground the runtime then waits for the command,\npasses signals on (and copies a terminal), exits with its status, and deletes it.",
			options: []option{bundleOption, consoleSocketOption,
				{[]string{"detach", "d"}, "", "return once the process runs, instead of waiting for it"},
				{[]string{"keep"}, "", "leave the stopped container (state and cgroup) for delete"},
				pidFileOption,
				{[]string{"no-subreaper"}, "", "accepted; the runtime is a subreaper while it waits"},
				noPivotOption, noNewKeyringOption, preserveFDsOption},
			run: createOrRun},
		{name: "spec", args: "[COMMAND ARG...]", summary: "write a config.json to start a bundle from", interspersed: false,
			description: "Writes config.json in the bundle directory, and refuses to overwrite one. Without a\ncommand it is the config `runc spec` writes: sh on a terminal, a read-only root, three\ncapabilities, no seccomp. With a command (this runtime's addition) it is Docker's\ndefault hardening running that command: its capabilities, seccomp profile, masked\npaths and cgroup namespace, and no terminal.",
			options: []option{
				{[]string{"bundle", "b"}, "value", "where to write config.json (default: the current directory)"},
				{[]string{"rootless"}, "", "map root to the caller's uid in a user namespace"},
			},
			run: spec},
		{name: "start", args: "<container-id>", summary: "let a created container's command run", interspersed: true,
			run: start},
		{name: "state", args: "<container-id>", summary: "print a container's state as JSON", interspersed: true,
			run: state},
		{name: "update", args: "<container-id>", summary: "change a running container's cgroup limits", interspersed: true,
			description: "Writes new limits into a running container's cgroup and records them: from the\noptions given (the others keep their values), or from a linux.resources JSON document.",
			options: []option{
				{[]string{"resources", "r"}, "value", "a JSON linux.resources file, or - for standard input (the other options are then ignored)"},
				{[]string{"blkio-weight"}, "value", "block IO weight, 10 to 1000"},
				{[]string{"cpu-period"}, "value", "CFS period in microseconds: the window the quota applies to"},
				{[]string{"cpu-quota"}, "value", "CFS quota in microseconds of CPU time per period; -1 for none"},
				{[]string{"cpu-share"}, "value", "CPU shares: the weight against other groups when the CPUs are busy"},
				{[]string{"cpu-rt-period"}, "value", "realtime period in microseconds"},
				{[]string{"cpu-rt-runtime"}, "value", "realtime runtime in microseconds per realtime period"},
				{[]string{"cpuset-cpus"}, "value", "the CPUs the container may run on (0-1, 3)"},
				{[]string{"cpuset-mems"}, "value", "the NUMA memory nodes it may use"},
				{[]string{"kernel-memory"}, "value", "refused: kernel memory limits are gone from recent kernels"},
				{[]string{"kernel-memory-tcp"}, "value", "limit of the TCP buffers' kernel memory (v1)"},
				{[]string{"memory"}, "value", "memory limit, in bytes or with a unit (50M); -1 for none"},
				{[]string{"memory-reservation"}, "value", "soft limit the kernel reclaims down to under pressure"},
				{[]string{"memory-swap"}, "value", "memory and swap together; -1 for no limit"},
				{[]string{"pids-limit"}, "value", "most tasks the container may have; -1 for no limit"},
				{[]string{"l3-cache-schema"}, "value", "refused: Intel RDT is not supported"},
				{[]string{"mem-bw-schema"}, "value", "refused: Intel RDT is not supported"},
			},
			run: update},
	}
}

func refuseCRIU(g *globals, p *parsed) (int, error) {
	return 1, fmt.Errorf("%s: %w: checkpoint and restore need CRIU, which this runtime does not use", p.cmd.name, runtime.ErrUnsupported)
}

func createOrRun(g *globals, p *parsed) (int, error) {
	id, err := p.id()
	if err != nil {
		return 1, err
	}
	opts := runtime.CreateOptions{
		Bundle: p.str("bundle"), PidFile: p.str("pid-file"), ConsoleSocket: p.str("console-socket"),
		NoPivot: p.on("no-pivot"), NoNewKeyring: p.on("no-new-keyring"),
	}
	if opts.Bundle == "" {
		opts.Bundle = "."
	}
	if p.set("preserve-fds") {
		n, err := p.integer("preserve-fds", 0, 1<<20)
		if err != nil {
			return 1, err
		}
		opts.PreserveFDs = int(n)
	}
	if p.cmd.name == "create" {
		return 0, g.r.Create(id, opts)
	}
	opts.Detach, opts.Keep = p.on("detach"), p.on("keep")
	code, err := g.r.Run(id, opts)
	if err != nil {
		return 1, err
	}
	return code, nil
}

func start(g *globals, p *parsed) (int, error) {
	id, err := p.id()
	if err != nil {
		return 1, err
	}
	return 0, g.r.Start(id)
}

func state(g *globals, p *parsed) (int, error) {
	id, err := p.id()
	if err != nil {
		return 1, err
	}
	st, err := g.r.State(id)
	if err != nil {
		return 1, err
	}
	return 0, printJSON(listEntry(*st), true)
}

func pause(g *globals, p *parsed) (int, error) {
	id, err := p.id()
	if err != nil {
		return 1, err
	}
	return 0, g.r.Pause(id)
}

func resume(g *globals, p *parsed) (int, error) {
	id, err := p.id()
	if err != nil {
		return 1, err
	}
	return 0, g.r.Resume(id)
}

func kill(g *globals, p *parsed) (int, error) {
	if len(p.args) < 1 || len(p.args) > 2 {
		return 1, usagef("kill takes the container's ID and an optional signal (got %d arguments)", len(p.args))
	}
	sigName := "SIGTERM"
	if len(p.args) == 2 {
		sigName = p.args[1]
	}
	sig, err := runtime.ParseSignal(sigName)
	if err != nil {
		return 1, err
	}
	return 0, g.r.Kill(p.args[0], sig, p.on("all"))
}

func deleteContainer(g *globals, p *parsed) (int, error) {
	id, err := p.id()
	if err != nil {
		return 1, err
	}
	return 0, g.r.Delete(id, p.on("force"))
}

func features(g *globals, p *parsed) (int, error) {
	return 0, printJSON(runtime.Features(), true)
}

// stateJSON is a container's state in runc's field order, as `state` and `list --format
// json` print it (tools match runc's output with patterns that expect this order).
type stateJSON struct {
	Version     string            `json:"ociVersion"`
	ID          string            `json:"id"`
	Pid         int               `json:"pid"`
	Status      string            `json:"status"`
	Bundle      string            `json:"bundle"`
	Rootfs      string            `json:"rootfs"`
	Created     time.Time         `json:"created"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Owner       string            `json:"owner"`
}

func listEntry(s runtime.State) stateJSON {
	return stateJSON{Version: s.Version, ID: s.ID, Pid: s.Pid, Status: string(s.Status), Bundle: s.Bundle,
		Rootfs: s.Rootfs, Created: s.Created, Annotations: s.Annotations, Owner: s.Owner}
}

func list(g *globals, p *parsed) (int, error) {
	if len(p.args) != 0 {
		return 1, usagef("list takes no arguments (got %q)", p.args)
	}
	format := p.str("format")
	if format != "" && format != "table" && format != "json" {
		return 1, usagef("--format %q: want table or json", format)
	}
	states, err := g.r.List()
	if err != nil {
		return 1, err
	}
	switch {
	case p.on("quiet"):
		for _, s := range states {
			fmt.Println(s.ID)
		}
		return 0, nil
	case format == "json":
		entries := []stateJSON{}
		for _, s := range states {
			entries = append(entries, listEntry(s))
		}
		return 0, printJSON(entries, false)
	}
	w := tabwriter.NewWriter(os.Stdout, 12, 1, 3, ' ', 0)
	fmt.Fprint(w, "ID\tPID\tSTATUS\tBUNDLE\tCREATED\tOWNER\n")
	for _, s := range states {
		fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\t%s\n", s.ID, s.Pid, s.Status, s.Bundle, s.Created.Format(time.RFC3339Nano), cmp.Or(s.Owner, "root"))
	}
	return 0, w.Flush()
}

// ps lists the container's processes: as JSON, their PIDs; as a table, the lines of the
// host's ps(1) (run with the arguments after the ID, -ef by default) whose PID is one of
// the container's, under ps's own header.
func ps(g *globals, p *parsed) (int, error) {
	if len(p.args) < 1 {
		return 1, usagef("ps needs the container's ID")
	}
	format := p.str("format")
	if format != "" && format != "table" && format != "json" {
		return 1, usagef("--format %q: want table or json", format)
	}
	pids, err := g.r.Ps(p.args[0])
	if err != nil {
		return 1, err
	}
	if format == "json" {
		return 0, printJSON(pids, false)
	}
	psArgs := p.args[1:]
	if len(psArgs) == 0 {
		psArgs = []string{"-ef"}
	}
	out, err := exec.Command("ps", psArgs...).Output()
	if err != nil {
		return 1, fmt.Errorf("ps %s: %w", strings.Join(psArgs, " "), err)
	}
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	column := slices.Index(strings.Fields(lines[0]), "PID")
	if column < 0 {
		return 1, fmt.Errorf("ps %s printed no PID column", strings.Join(psArgs, " "))
	}
	fmt.Println(lines[0])
	for _, line := range lines[1:] {
		fields := strings.Fields(line)
		if len(fields) <= column {
			continue
		}
		if pid, err := strconv.Atoi(fields[column]); err == nil && slices.Contains(pids, pid) {
			fmt.Println(line)
		}
	}
	return 0, nil
}

func events(g *globals, p *parsed) (int, error) {
	id, err := p.id()
	if err != nil {
		return 1, err
	}
	enc := json.NewEncoder(os.Stdout)
	if p.on("stats") {
		st, err := g.r.Stats(id)
		if err != nil {
			return 1, err
		}
		return 0, enc.Encode(runtime.Event{Type: "stats", ID: id, Data: st})
	}
	interval := 5 * time.Second
	if s := p.str("interval"); s != "" {
		if interval, err = time.ParseDuration(s); err != nil || interval <= 0 {
			return 1, usagef("--interval %q: want a positive duration such as 5s or 100ms", s)
		}
	}
	return 0, g.r.Events(id, interval, func(e runtime.Event) error { return enc.Encode(e) })
}

func spec(g *globals, p *parsed) (int, error) {
	bundle := p.str("bundle")
	if bundle == "" {
		bundle = "."
	}
	path := filepath.Join(bundle, "config.json")
	if _, err := os.Stat(path); err == nil {
		return 1, fmt.Errorf("file %s exists: remove it first", path)
	}
	s := runtime.ExampleSpec(p.on("rootless"), uint32(os.Getuid()), uint32(os.Getgid()))
	if len(p.args) > 0 {
		s = runtime.DockerSpec(p.args)
		if p.on("rootless") {
			runtime.RootlessSpec(s, os.Getuid(), os.Getgid())
		}
	}
	data, err := json.MarshalIndent(s, "", "\t")
	if err != nil {
		return 1, err
	}
	return 0, os.WriteFile(path, append(data, '\n'), 0o666)
}

// update applies -r's JSON, or else the options that were given: only those change.
func update(g *globals, p *parsed) (int, error) {
	id, err := p.id()
	if err != nil {
		return 1, err
	}
	var res specs.LinuxResources
	if file := p.str("resources"); file != "" {
		if err := readJSON(file, &res); err != nil {
			return 1, err
		}
	} else if err := resourcesFromOptions(p, &res); err != nil {
		return 1, err
	}
	return 0, g.r.Update(id, &res)
}

func resourcesFromOptions(p *parsed, res *specs.LinuxResources) error {
	for _, name := range []string{"kernel-memory", "l3-cache-schema", "mem-bw-schema"} {
		if p.set(name) {
			return fmt.Errorf("--%s: %w", name, runtime.ErrUnsupported)
		}
	}
	if p.set("blkio-weight") {
		w, err := p.integer("blkio-weight", 10, 1000)
		if err != nil {
			return err
		}
		weight := uint16(w)
		res.BlockIO = &specs.LinuxBlockIO{Weight: &weight}
	}
	cpu := &specs.LinuxCPU{Cpus: p.str("cpuset-cpus"), Mems: p.str("cpuset-mems")}
	for _, o := range []struct {
		name string
		dest **uint64
	}{{"cpu-period", &cpu.Period}, {"cpu-share", &cpu.Shares}, {"cpu-rt-period", &cpu.RealtimePeriod}} {
		if p.set(o.name) {
			n, err := p.integer(o.name, 0, 1<<62)
			if err != nil {
				return err
			}
			v := uint64(n)
			*o.dest = &v
		}
	}
	for _, o := range []struct {
		name string
		dest **int64
	}{{"cpu-quota", &cpu.Quota}, {"cpu-rt-runtime", &cpu.RealtimeRuntime}} {
		if p.set(o.name) {
			n, err := p.integer(o.name, -1, 1<<62)
			if err != nil {
				return err
			}
			*o.dest = &n
		}
	}
	if *cpu != (specs.LinuxCPU{}) {
		res.CPU = cpu
	}
	mem := &specs.LinuxMemory{}
	for _, o := range []struct {
		name string
		dest **int64
	}{{"memory", &mem.Limit}, {"memory-reservation", &mem.Reservation}, {"memory-swap", &mem.Swap}, {"kernel-memory-tcp", &mem.KernelTCP}} {
		if !p.set(o.name) {
			continue
		}
		n := int64(-1)
		if s := p.str(o.name); s != "-1" {
			size, err := cgroup.ParseSize(s)
			if err != nil || size <= 0 {
				return usagef("--%s %q: want a size in bytes or with a unit (512k, 50M, 1G), or -1 for no limit", o.name, s)
			}
			n = size
		}
		*o.dest = &n
	}
	// No memory limit means no limit on memory and swap together either (runc's rule; the
	// kernel would refuse a RAM limit above the RAM+swap one).
	if mem.Limit != nil && *mem.Limit == -1 && mem.Swap == nil {
		unlimited := int64(-1)
		mem.Swap = &unlimited
	}
	if *mem != (specs.LinuxMemory{}) {
		res.Memory = mem
	}
	if p.set("pids-limit") {
		n, err := p.integer("pids-limit", -1, 1<<62)
		if err != nil {
			return err
		}
		res.Pids = &specs.LinuxPids{Limit: &n}
	}
	return nil
}

func execProcess(g *globals, p *parsed) (int, error) {
	code, err := execIn(g, p)
	if err != nil {
		// runc's exec fails with 255, so that a caller can tell its failure from the
		// process's own statuses.
		return 255, err
	}
	return code, nil
}

func execIn(g *globals, p *parsed) (int, error) {
	if len(p.args) < 1 {
		return 0, usagef("exec needs the container's ID and a command (or --process)")
	}
	id := p.args[0]
	for _, name := range []string{"process-label", "apparmor"} {
		if p.set(name) {
			return 0, fmt.Errorf("--%s: %w", name, runtime.ErrUnsupported)
		}
	}
	opts := runtime.ExecOptions{Detach: p.on("detach"), PidFile: p.str("pid-file"),
		ConsoleSocket: p.str("console-socket"), IgnorePaused: p.on("ignore-paused")}
	if p.set("preserve-fds") {
		n, err := p.integer("preserve-fds", 0, 1<<20)
		if err != nil {
			return 0, err
		}
		opts.PreserveFDs = int(n)
	}
	var err error
	if opts.SubCgroups, err = subCgroups(p.all("cgroup")); err != nil {
		return 0, err
	}
	var proc specs.Process
	if file := p.str("process"); file != "" {
		if err := readJSON(file, &proc); err != nil {
			return 0, err
		}
		return g.r.Exec(id, &proc, opts)
	}
	if len(p.args) < 2 {
		return 0, usagef("exec needs a command to run after the container's ID (or --process)")
	}
	config, err := g.r.Config(id)
	if err != nil {
		return 0, err
	}
	proc = *config.Process
	proc.Args = p.args[1:]
	proc.Terminal = p.on("tty")
	proc.Env = append(slices.Clone(proc.Env), p.all("env")...)
	proc.NoNewPrivileges = proc.NoNewPrivileges || p.on("no-new-privs")
	if cwd := p.str("cwd"); cwd != "" {
		proc.Cwd = cwd
	}
	if user := p.str("user"); user != "" {
		if proc.User.UID, proc.User.GID, err = parseUser(user); err != nil {
			return 0, err
		}
	}
	for _, s := range p.all("additional-gids") {
		gid, err := parseID(s)
		if err != nil {
			return 0, usagef("--additional-gids %q: %v", s, err)
		}
		proc.User.AdditionalGids = append(proc.User.AdditionalGids, gid)
	}
	if caps := p.all("cap"); len(caps) > 0 {
		c := specs.LinuxCapabilities{}
		if proc.Capabilities != nil {
			c = *proc.Capabilities
		}
		c.Bounding = append(slices.Clone(c.Bounding), caps...)
		c.Effective = append(slices.Clone(c.Effective), caps...)
		c.Permitted = append(slices.Clone(c.Permitted), caps...)
		c.Ambient = append(slices.Clone(c.Ambient), caps...)
		proc.Capabilities = &c
	}
	return g.r.Exec(id, &proc, opts)
}

// subCgroups reads --cgroup values, "[CONTROLLER[,CONTROLLER]:]PATH".
func subCgroups(values []string) (map[string]string, error) {
	if len(values) == 0 {
		return nil, nil
	}
	sub := map[string]string{}
	for _, v := range values {
		controllers, path, ok := strings.Cut(v, ":")
		if !ok {
			if len(values) > 1 {
				return nil, usagef("--cgroup %q: with several --cgroup, each needs its <controller>: prefix", v)
			}
			sub[""] = v
			continue
		}
		for _, c := range strings.Split(controllers, ",") {
			sub[c] = path
		}
	}
	return sub, nil
}

// parseUser reads --user UID[:GID].
func parseUser(s string) (uid, gid uint32, err error) {
	u, gs, hasGID := strings.Cut(s, ":")
	if uid, err = parseID(u); err != nil {
		return 0, 0, usagef("--user %q: %v", s, err)
	}
	if hasGID {
		if gid, err = parseID(gs); err != nil {
			return 0, 0, usagef("--user %q: %v", s, err)
		}
	}
	return uid, gid, nil
}

// parseID reads a numeric user or group ID. 4294967295 is (uid_t)-1, which set*id(2)
// read as "leave unchanged": the process would stay root.
func parseID(s string) (uint32, error) {
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil || n == 1<<32-1 {
		return 0, fmt.Errorf("want a numeric ID from 0 to %d", uint32(1<<32-2))
	}
	return uint32(n), nil
}

// readJSON decodes a file, or stdin for "-".
func readJSON(path string, v any) error {
	in := io.Reader(os.Stdin)
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	}
	if err := json.NewDecoder(in).Decode(v); err != nil {
		return fmt.Errorf("parse %s: %w", path, err)
	}
	return nil
}

func printJSON(v any, indent bool) error {
	enc := json.NewEncoder(os.Stdout)
	if indent {
		enc.SetIndent("", "  ")
	}
	return enc.Encode(v)
}
