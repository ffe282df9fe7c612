// 08-engine is a daemonless container engine with Docker's everyday command line, built on
// the mechanisms of labs 01-07.
//
// Read run below: it is the whole of `docker run`, in three steps, each a call into
// labs/engine. Create turns an image and the command line into a container record; Start
// starts the container's monitor, which mounts the root (lab 05), plugs the network in (lab
// 06), writes an OCI bundle and has the runtime (labs/runtime: namespaces, cgroups and
// hardening, labs 03 and 04) create and start the container, then stays to log its output
// and record its end. The other commands are in containers.go, images.go, volumes.go and
// build.go.
//
// The same binary is the container's monitor and the runtime's init when it re-executes
// itself (main's first lines), and bin/labs-runc is the runtime alone, with runc's
// command line, for containerd.
//
// Usage: 08-engine [--root DIR] COMMAND [OPTIONS] [ARGS]   (08-engine help for the list)
package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"containerlabs/labs/cgroup"
	"containerlabs/labs/engine"
	_ "containerlabs/labs/engine/idlemonitor" // a detached container's monitor idles in C
	_ "containerlabs/labs/engine/userns"      // an ordinary user's commands join its engine namespaces
	"containerlabs/labs/image"
	"containerlabs/labs/process"
	"containerlabs/labs/runtime"
	_ "containerlabs/labs/runtime/nsenter" // joins namespaces before Go starts (exec)
	"containerlabs/scripts/i18n"
)

const usage = `usage: 08-engine [--root DIR] COMMAND [OPTIONS] [ARGS]

containers
  run [OPTIONS] IMAGE [COMMAND...]   create and start a container
  create [OPTIONS] IMAGE [COMMAND...] create a container without starting it
  start [-a] [-i] CONTAINER          start a created or stopped container
  start --all-restartable            start the containers with --restart always (and
                                     unless-stopped, unless stopped by hand): after a reboot
  ps [-a] [-q] [--format TEMPLATE] [--filter KEY=VALUE]
  attach [--detach-keys KEYS] [--no-stdin] CONTAINER   (Ctrl-P Ctrl-Q detaches)
  logs [-f] [--tail N] [-t] CONTAINER
  exec [-i] [-t] [-e K=V] [-w DIR] [-u USER] CONTAINER COMMAND...
  stop [-t SECONDS] CONTAINER...     SIGTERM, then SIGKILL after the timeout (10 s)
  kill [-s SIGNAL] CONTAINER...
  restart [-t SECONDS] CONTAINER...
  rm [-f] [-v] CONTAINER...
  inspect [-f TEMPLATE] [--type container|image] CONTAINER|IMAGE...
  top CONTAINER
  show [--html FILE] CONTAINER       the container drawn from the kernel's state
  port CONTAINER
  wait CONTAINER...
  cp CONTAINER:PATH HOSTPATH | HOSTPATH CONTAINER:PATH
  rename CONTAINER NEW_NAME
images
  build [-t REF]... [-f FILE] [--build-arg K=V]... [--no-cache] [--target STAGE] [--network MODE] DIR
  images [-a] [-q] [--format TEMPLATE] [--filter KEY=VALUE]
  pull, push, rmi, tag, commit, export, import, save, load
volumes and networks
  volume create|ls [-q] [--filter K=V]|inspect|rm
  network create [--subnet CIDR] [--internal] NAME | ls | inspect | rm | prune
  network connect [--alias A] NETWORK CONTAINER | disconnect NETWORK CONTAINER
applications
  compose [-f FILE] [-p PROJECT] up [-d] | down [-v] | ps | logs [-f] | exec | stop | start | restart | config
system
  system prune [--volumes]

State lives under --root (default $CONTAINERLABS_ROOT, or /var/lib/containerlabs for root
and ~/.local/share/containerlabs for an ordinary user, whose engine is rootless).
Exit status: the container's, or 125 (engine error), 126 (cannot run), 127 (not found).`

// errUsage marks a command line that makes no sense.
var errUsage = errors.New("see 08-engine help")

func main() {
	// Re-executed by the runtime, this program is a container's init; by Start, its monitor.
	if runtime.IsInit() {
		code, err := runtime.Init()
		if err != nil {
			fmt.Fprintln(os.Stderr, "08-engine:", err)
		}
		os.Exit(code)
	}
	if engine.IsMonitor() {
		os.Exit(engine.RunMonitor())
	}
	i18n.Use("") // the usage and its refusals in Korean under LANG=ko_KR.UTF-8; errors from labs/ stay English
	code, err := dispatch(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "08-engine:", err)
		if code == 0 {
			code = process.ExitSetupFailed
		}
	}
	os.Exit(code)
}

func dispatch(args []string) (int, error) {
	root := os.Getenv("CONTAINERLABS_ROOT")
	for len(args) > 0 && strings.HasPrefix(args[0], "--root") {
		if v, ok := strings.CutPrefix(args[0], "--root="); ok {
			root, args = v, args[1:]
		} else if len(args) > 1 {
			root, args = args[1], args[2:]
		} else {
			return 125, errors.New("--root needs a directory")
		}
	}
	if len(args) == 0 || args[0] == "help" || args[0] == "--help" || args[0] == "-h" {
		fmt.Println(i18n.T(usage))
		return 0, nil
	}
	// An ordinary user's engine runs as root of a user namespace of its own (rootless):
	// this returns only for root, or if the namespace could not be joined.
	if err := engine.EnterUserNamespace(os.Stderr); err != nil {
		return 125, err
	}
	if root == "" {
		root = engine.DefaultStateRoot()
	}
	e, err := engine.Open(root)
	if err != nil {
		return 125, err
	}
	command, args := args[0], args[1:]
	switch command {
	case "run":
		return run(e, args, true)
	case "create":
		return run(e, args, false)
	}
	if f, ok := containerCommands[command]; ok {
		return f(e, args)
	}
	if f, ok := imageCommands[command]; ok {
		return f(e, args)
	}
	switch command {
	case "build":
		return buildImage(e, args)
	case "volume":
		return volume(e, args)
	case "network":
		return network(e, args)
	case "compose":
		return composeCommand(e, args)
	case "system":
		return system(e, args)
	}
	return 125, fmt.Errorf("unknown command %q\n%s", command, i18n.T(usage))
}

// run is `docker run` (and, with start false, `docker create`).
func run(e *engine.Engine, args []string, start bool) (int, error) {
	req, detach, err := parseRun(args)
	if err != nil {
		return 125, err
	}

	// 1. The container: its image (pulled if the store lacks it), its record, its writable
	//    layer and volumes. Nothing runs yet.
	c, err := e.Create(req)
	if err != nil {
		return process.ExitCodeFor(err), err
	}
	if note := e.StorageNote(); note != "" {
		fmt.Fprintln(os.Stderr, "08-engine:", note)
	}
	if !start {
		fmt.Println(c.ID)
		return 0, nil
	}

	// 2. Start it: its monitor mounts the root, plugs the network in, writes the OCI bundle
	//    and has the runtime create and start the container, then watches it.
	var attach *engine.Attach
	if !detach {
		attach = &engine.Attach{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}
	}
	code, err := e.Start(c.ID, attach)
	if err != nil {
		if req.Config.AutoRemove {
			_ = e.Remove(c.ID, true, true)
		}
		return code, err
	}

	// 3. Detached, say which container; attached, the container's status is ours.
	if detach {
		fmt.Println(c.ID)
	}
	return code, nil
}

// parseRun reads the options of run and create.
func parseRun(args []string) (engine.CreateRequest, bool, error) {
	o := newOptions("run")
	detach := o.Bool("-d,--detach", "run in the background and print the container's ID")
	interactive := o.Bool("-i,--interactive", "keep standard input open")
	tty := o.Bool("-t,--tty", "give the container a terminal")
	rm := o.Bool("--rm", "remove the container when it exits")
	name := o.String("--name", "the container's name")
	env := o.String("-e,--env", "set an environment variable (NAME=value, or NAME to copy it)")
	envFile := o.String("--env-file", "read environment variables from a file")
	workdir := o.String("-w,--workdir", "the working directory inside the container")
	user := o.String("-u,--user", "the user (name, uid, name:group, uid:gid)")
	hostname := o.String("-h,--hostname", "the container's hostname")
	entrypoint := o.String("--entrypoint", "replace the image's entrypoint")
	publish := o.String("-p,--publish", "publish a port: HOSTPORT:CONTAINERPORT[/udp]")
	volumes := o.String("-v,--volume", "a volume: NAME:/path, /host/path:/path or /path, :ro for read-only")
	volumesFrom := o.String("--volumes-from", "mount the volumes of another container")
	netMode := o.String("--network,--net", "bridge (default), host, none or a network's name; repeat it to join several")
	memory := o.String("-m,--memory", "memory limit, swap included (64m, 1g)")
	cpus := o.String("--cpus", "CPU quota in CPUs (0.5 is half a CPU)")
	pids := o.String("--pids-limit", "most processes and threads")
	readOnly := o.Bool("--read-only", "mount the root file system read-only")
	capAdd := o.String("--cap-add", "add a capability (NET_ADMIN, ALL, ...)")
	capDrop := o.String("--cap-drop", "drop a capability")
	privileged := o.Bool("--privileged", "lift the default hardening (every capability, no seccomp, no masked paths)")
	insecure := o.Bool("--insecure-registry", "allow plain HTTP to the image's registry when pulling")
	logOpt := o.String("--log-opt", "rotate the log: max-size=SIZE (10k, 1m), max-file=N")
	app := addAppOptions(o) // --network-alias, --label, --restart, --health-* (policies.go)
	rest, err := o.parse(args, true)
	if err != nil {
		return engine.CreateRequest{}, false, err
	}
	if len(rest) == 0 {
		return engine.CreateRequest{}, false, fmt.Errorf("run: which image? usage: 08-engine run [OPTIONS] IMAGE [COMMAND...]\n%s", o.help())
	}
	cfg := engine.Config{
		Cmd: rest[1:], WorkingDir: workdir.Value(), User: user.Value(), Hostname: hostname.Value(),
		Tty: tty.set, OpenStdin: interactive.set, AutoRemove: rm.set, ReadOnly: readOnly.set,
		Privileged: privileged.set, CapAdd: capAdd.values, CapDrop: capDrop.values,
		NetworkMode: netMode.Value(), Publish: publish.values, Volumes: volumes.values,
		VolumesFrom: volumesFrom.values,
	}
	if entrypoint.set {
		cfg.EntrypointSet = true
		if ep := entrypoint.Value(); ep != "" {
			cfg.Entrypoint = []string{ep}
		}
	}
	if err := engine.ParseLogOptions(logOpt.values, &cfg); err != nil {
		return engine.CreateRequest{}, false, err
	}
	if err := app.apply(&cfg, netMode.values); err != nil {
		return engine.CreateRequest{}, false, err
	}
	if cfg.Env, err = environment(env.values, envFile.values); err != nil {
		return engine.CreateRequest{}, false, err
	}
	if memory.set {
		if cfg.Memory, err = cgroup.ParseSize(memory.Value()); err != nil {
			return engine.CreateRequest{}, false, fmt.Errorf("--memory: %w", err)
		}
		if cfg.Memory < cgroup.MinMemory {
			return engine.CreateRequest{}, false, errors.New(i18n.Sprintf("--memory %s is too small: a container needs at least %s", memory.Value(), cgroup.FormatSize(cgroup.MinMemory)))
		}
	}
	if cpus.set {
		if cfg.CPUs, err = cgroup.ParseCPUs(cpus.Value()); err != nil {
			return engine.CreateRequest{}, false, fmt.Errorf("--cpus: %w", err)
		}
	}
	if pids.set {
		n, err := pids.IntIn(0, 1, maxPidsLimit)
		if err != nil {
			return engine.CreateRequest{}, false, err
		}
		cfg.PidsLimit = int64(n)
	}
	req := engine.CreateRequest{
		Name: name.Value(), Image: rest[0], Config: cfg, Pull: true,
		PullOptions: image.Options{Insecure: insecure.set},
	}
	return req, detach.set, nil
}

// environment reads -e and --env-file into NAME=value lines. "-e NAME" copies the
// variable from the engine's own environment, as Docker does.
func environment(values, files []string) ([]string, error) {
	var env []string
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("--env-file: %w", err)
		}
		for line := range strings.SplitSeq(string(data), "\n") {
			line = strings.TrimSpace(line)
			if line != "" && !strings.HasPrefix(line, "#") {
				values = append(values, line)
			}
		}
	}
	for _, v := range values {
		name, _, hasValue := strings.Cut(v, "=")
		if name == "" || strings.ContainsAny(name, " \t") {
			return nil, fmt.Errorf("-e %q: want NAME=value", v)
		}
		if !hasValue {
			value, ok := os.LookupEnv(name)
			if !ok {
				continue
			}
			v = name + "=" + value
		}
		env = append(env, v)
	}
	return env, nil
}

// absPath is filepath.Abs for paths given on the command line.
func absPath(p string) string {
	if abs, err := filepath.Abs(p); err == nil {
		return abs
	}
	return p
}
