// labs-runc is an OCI runtime with runc's command line, built on labs/runtime: containerd
// (`ctr run --runc-binary labs-runc`), and anything else that drives runc, can drive it.
//
// Usage:
//
//	labs-runc [--root DIR] [--log FILE] [--log-format text|json] [--debug] [--systemd-cgroup] COMMAND
//
//	create --bundle DIR [--pid-file F] [--console-socket S] [--no-pivot] [--no-new-keyring] [--preserve-fds N] ID
//	start ID
//	run --bundle DIR [--pid-file F] [--console-socket S] [--no-pivot] [--no-new-keyring] [--preserve-fds N] ID
//	state ID
//	kill [--all] ID [SIGNAL]
//	delete [--force] ID
//	exec [--process FILE] [--detach] [--pid-file F] [--console-socket S] [-t] [--cwd DIR] [--env K=V]... [--user UID[:GID]] ID [COMMAND ARG...]
//	ps [--format table|json] ID
//	list [--format table|json] [--quiet]
//	pause ID | resume ID
//	update --resources FILE|- ID
//	features
//	spec [--bundle DIR] [COMMAND ARG...]    write a config.json with Docker's default hardening
//
// --systemd-cgroup is accepted, as containerd passes it when so configured, and changes
// nothing: this runtime writes cgroupfs itself and has no systemd driver. A cgroupsPath in
// systemd's slice:prefix:name form is refused with an error.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

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

// errUsage marks a command line that makes no sense; the exit status is 2.
var errUsage = errors.New("usage: labs-runc [global flags] create|start|run|state|kill|delete|exec|ps|list|pause|resume|update|features|spec ...")

func dispatch(args []string) int {
	global := flag.NewFlagSet("labs-runc", flag.ContinueOnError)
	global.SetOutput(io.Discard)
	root := global.String("root", runtime.DefaultRoot, "state directory")
	logPath := global.String("log", "", "log file (default stderr)")
	logFormat := global.String("log-format", "text", "log format: text or json")
	debug := global.Bool("debug", false, "log debug messages")
	systemdCgroup := global.Bool("systemd-cgroup", false, "accepted; no effect (see the package comment)")
	global.Bool("rootless", false, "accepted; this runtime runs as root only")
	global.String("criu", "", "accepted; checkpoints are not supported")
	version := global.Bool("version", false, "print the version")
	global.BoolVar(version, "v", false, "print the version")
	if err := global.Parse(args); err != nil {
		fmt.Fprintln(os.Stderr, "labs-runc:", err)
		return 2
	}
	if *version {
		// dockerd reads the commit: line (`docker info` shows it).
		fmt.Printf("labs-runc version %s\ncommit: %s\nspec: %s\n", runtime.Version, commit(), specs.Version)
		return 0
	}
	logOut := io.Writer(os.Stderr)
	if *logPath != "" {
		f, err := os.OpenFile(*logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND|os.O_SYNC, 0o644)
		if err != nil {
			fmt.Fprintln(os.Stderr, "labs-runc:", err)
			return 1
		}
		defer f.Close()
		logOut = f
	}
	log, err := runtime.NewLogger(logOut, *logFormat, *debug)
	if err != nil {
		fmt.Fprintln(os.Stderr, "labs-runc:", err)
		return 2
	}
	if *systemdCgroup {
		log.Debugf("--systemd-cgroup: no systemd driver; cgroupsPath is used as a cgroupfs path")
	}
	r := &runtime.Runtime{Root: *root, Log: log}
	if global.NArg() == 0 {
		fmt.Fprintln(os.Stderr, errUsage)
		return 2
	}
	code, err := command(r, global.Arg(0), global.Args()[1:])
	if err != nil {
		if errors.Is(err, errUsage) {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		// containerd's shim reads the last error of the log file; a person reads stderr.
		if *logPath != "" {
			log.Errorf("%v", err)
		}
		fmt.Fprintln(os.Stderr, "labs-runc:", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

func command(r *runtime.Runtime, name string, args []string) (int, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	switch name {
	case "create", "run":
		opts := runtime.CreateOptions{}
		fs.StringVar(&opts.Bundle, "bundle", ".", "bundle directory")
		fs.StringVar(&opts.Bundle, "b", ".", "bundle directory")
		fs.StringVar(&opts.PidFile, "pid-file", "", "write the init's PID here")
		fs.StringVar(&opts.ConsoleSocket, "console-socket", "", "socket that receives the terminal")
		fs.BoolVar(&opts.NoPivot, "no-pivot", false, "chroot instead of pivot_root")
		fs.BoolVar(&opts.NoNewKeyring, "no-new-keyring", false, "keep the caller's session keyring")
		fs.IntVar(&opts.PreserveFDs, "preserve-fds", 0, "pass descriptors 3..3+N-1 on")
		fs.Bool("detach", false, "accepted for create")
		id, err := oneID(fs, args)
		if err != nil {
			return 2, err
		}
		if name == "create" {
			return 0, r.Create(id, opts)
		}
		return r.Run(id, opts)
	case "start", "state", "pause", "resume":
		id, err := oneID(fs, args)
		if err != nil {
			return 2, err
		}
		switch name {
		case "start":
			return 0, r.Start(id)
		case "pause":
			return 0, r.Pause(id)
		case "resume":
			return 0, r.Resume(id)
		}
		st, err := r.State(id)
		if err != nil {
			return 1, err
		}
		return 0, printJSON(st, true)
	case "kill":
		all := fs.Bool("all", false, "signal every process of the container")
		fs.BoolVar(all, "a", false, "signal every process of the container")
		if err := fs.Parse(args); err != nil || fs.NArg() < 1 || fs.NArg() > 2 {
			return 2, errUsage
		}
		sigName := "SIGTERM"
		if fs.NArg() == 2 {
			sigName = fs.Arg(1)
		}
		sig, err := runtime.ParseSignal(sigName)
		if err != nil {
			return 1, err
		}
		return 0, r.Kill(fs.Arg(0), sig, *all)
	case "delete":
		force := fs.Bool("force", false, "kill a running container first")
		fs.BoolVar(force, "f", false, "kill a running container first")
		id, err := oneID(fs, args)
		if err != nil {
			return 2, err
		}
		return 0, r.Delete(id, *force)
	case "exec":
		return execCommand(r, fs, args)
	case "ps":
		format := fs.String("format", "table", "table or json")
		fs.StringVar(format, "f", "table", "table or json")
		if err := fs.Parse(args); err != nil || fs.NArg() < 1 {
			return 2, errUsage
		}
		pids, err := r.Ps(fs.Arg(0))
		if err != nil {
			return 1, err
		}
		if *format == "json" {
			return 0, printJSON(pids, false)
		}
		fmt.Print(runtime.ProcessTable(pids))
		return 0, nil
	case "list":
		format := fs.String("format", "table", "table or json")
		fs.StringVar(format, "f", "table", "table or json")
		quiet := fs.Bool("quiet", false, "print only IDs")
		fs.BoolVar(quiet, "q", false, "print only IDs")
		if err := fs.Parse(args); err != nil || fs.NArg() != 0 {
			return 2, errUsage
		}
		states, err := r.List()
		if err != nil {
			return 1, err
		}
		return 0, printList(states, *format, *quiet)
	case "update":
		resources := fs.String("resources", "", "JSON linux.resources file, - for stdin")
		fs.StringVar(resources, "r", "", "JSON linux.resources file, - for stdin")
		id, err := oneID(fs, args)
		if err != nil || *resources == "" {
			return 2, errUsage
		}
		var res specs.LinuxResources
		if err := readJSON(*resources, &res); err != nil {
			return 1, err
		}
		return 0, r.Update(id, &res)
	case "features":
		return 0, printJSON(runtime.Features(), true)
	case "spec":
		bundle := fs.String("bundle", ".", "where to write config.json")
		fs.StringVar(bundle, "b", ".", "where to write config.json")
		if err := fs.Parse(args); err != nil {
			return 2, errUsage
		}
		cmd := fs.Args()
		if len(cmd) == 0 {
			cmd = []string{"sh"}
		}
		data, err := json.MarshalIndent(runtime.DockerSpec(cmd), "", "\t")
		if err != nil {
			return 1, err
		}
		return 0, os.WriteFile(filepath.Join(*bundle, "config.json"), append(data, '\n'), 0o644)
	}
	return 2, errUsage
}

// oneID parses flags and expects exactly one argument, the container's ID.
func oneID(fs *flag.FlagSet, args []string) (string, error) {
	if err := fs.Parse(args); err != nil || fs.NArg() != 1 {
		return "", errUsage
	}
	return fs.Arg(0), nil
}

// multi collects a flag given several times (--env A=1 --env B=2).
type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

func execCommand(r *runtime.Runtime, fs *flag.FlagSet, args []string) (int, error) {
	opts := runtime.ExecOptions{}
	processFile := fs.String("process", "", "JSON process spec")
	fs.StringVar(processFile, "p", "", "JSON process spec")
	fs.BoolVar(&opts.Detach, "detach", false, "do not wait for the process")
	fs.BoolVar(&opts.Detach, "d", false, "do not wait for the process")
	fs.StringVar(&opts.PidFile, "pid-file", "", "write the process's PID here")
	fs.StringVar(&opts.ConsoleSocket, "console-socket", "", "socket that receives the terminal")
	fs.IntVar(&opts.PreserveFDs, "preserve-fds", 0, "pass descriptors 3..3+N-1 on")
	tty := fs.Bool("tty", false, "give the process a terminal")
	fs.BoolVar(tty, "t", false, "give the process a terminal")
	cwd := fs.String("cwd", "", "working directory")
	user := fs.String("user", "", "UID[:GID]")
	fs.StringVar(user, "u", "", "UID[:GID]")
	noNewPrivs := fs.Bool("no-new-privs", false, "set no_new_privs")
	var env multi
	fs.Var(&env, "env", "KEY=VALUE")
	fs.Var(&env, "e", "KEY=VALUE")
	if err := fs.Parse(args); err != nil || fs.NArg() < 1 {
		return 2, errUsage
	}
	id := fs.Arg(0)
	var p specs.Process
	if *processFile != "" {
		if err := readJSON(*processFile, &p); err != nil {
			return 1, err
		}
	} else {
		if fs.NArg() < 2 {
			return 2, errUsage
		}
		spec, err := r.Config(id)
		if err != nil {
			return 1, err
		}
		p = *spec.Process
		p.Args = fs.Args()[1:]
		p.Terminal = *tty
		p.Env = append(p.Env, env...)
		p.NoNewPrivileges = p.NoNewPrivileges || *noNewPrivs
		if *cwd != "" {
			p.Cwd = *cwd
		}
		if *user != "" {
			uid, gid, err := parseUser(*user)
			if err != nil {
				return 2, err
			}
			p.User = specs.User{UID: uid, GID: gid}
		}
	}
	return r.Exec(id, &p, opts)
}

func parseUser(s string) (uid, gid uint32, err error) {
	u, g, hasGID := strings.Cut(s, ":")
	n, err := strconv.ParseUint(u, 10, 32)
	if err != nil {
		return 0, 0, fmt.Errorf("--user %q: want numeric UID[:GID]", s)
	}
	uid = uint32(n)
	if hasGID {
		n, err := strconv.ParseUint(g, 10, 32)
		if err != nil {
			return 0, 0, fmt.Errorf("--user %q: want numeric UID[:GID]", s)
		}
		gid = uint32(n)
	}
	return uid, gid, nil
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

func printList(states []runtime.State, format string, quiet bool) error {
	switch {
	case quiet:
		for _, s := range states {
			fmt.Println(s.ID)
		}
		return nil
	case format == "json":
		if states == nil {
			states = []runtime.State{}
		}
		return printJSON(states, false)
	}
	w := tabwriter.NewWriter(os.Stdout, 12, 1, 3, ' ', 0)
	fmt.Fprint(w, "ID\tPID\tSTATUS\tBUNDLE\tCREATED\tOWNER\n")
	for _, s := range states {
		fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\troot\n", s.ID, s.Pid, s.Status, s.Bundle, s.Created.Format(time.RFC3339Nano))
	}
	return w.Flush()
}

// commit is the VCS revision the binary was built from, as the Go toolchain records it, or
// "unknown".
func commit() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" {
				return s.Value
			}
		}
	}
	return "unknown"
}
