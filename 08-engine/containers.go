package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"

	"containerlabs/labs/engine"
	"containerlabs/labs/process"
	"containerlabs/labs/runtime"
)

// containerCommands are the commands on containers, after run and create.
var containerCommands = map[string]func(*engine.Engine, []string) (int, error){
	"start":   start,
	"attach":  attach,
	"ps":      ps,
	"logs":    logs,
	"exec":    execIn,
	"stop":    stop,
	"kill":    kill,
	"restart": restart,
	"rm":      rm,
	"inspect": inspect,
	"top":     top,
	"show":    showContainer,
	"port":    port,
	"wait":    wait,
	"cp":      cp,
	"rename":  rename,
}

func start(e *engine.Engine, args []string) (int, error) {
	o := newOptions("start")
	attach := o.Bool("-a,--attach", "attach to the container's output and wait for it")
	o.Bool("-i,--interactive", "attach the container's standard input")
	restartable := o.Bool("--all-restartable", "start every container Docker's daemon starts when it starts (restart.go)")
	rest, err := o.parse(args, false)
	if err == nil && restartable.set && len(rest) == 0 {
		started, err := e.StartRestartable()
		for _, name := range started {
			fmt.Println(name)
		}
		return 0, err
	}
	if err != nil || len(rest) != 1 {
		return 125, fmt.Errorf("usage: 08-engine start [-a] [-i] CONTAINER | start --all-restartable")
	}
	var a *engine.Attach
	if attach.set {
		a = &engine.Attach{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}
	}
	code, err := e.Start(rest[0], a)
	if errors.Is(err, engine.ErrAlreadyRunning) && a == nil {
		// Docker's start of a running container does nothing, successfully: also when
		// two starts race and the other one won.
		code, err = 0, nil
	}
	if err == nil && a == nil {
		fmt.Println(rest[0])
	}
	return code, err
}

// attach connects the terminal to a running container, through its monitor's attach
// socket. The detach keys are watched for here, in the client: the terminal is in raw mode
// (for -t), so Ctrl-P Ctrl-Q arrive as two bytes, which the container never sees.
func attach(e *engine.Engine, args []string) (int, error) {
	o := newOptions("attach")
	detachKeys := o.String("--detach-keys", "the keys that detach, leaving the container running (default ctrl-p,ctrl-q)")
	noStdin := o.Bool("--no-stdin", "do not send standard input")
	rest, err := o.parse(args, false)
	if err != nil || len(rest) != 1 {
		return 125, fmt.Errorf("usage: 08-engine attach [--detach-keys KEYS] [--no-stdin] CONTAINER")
	}
	c, err := e.Store.Get(rest[0])
	if err != nil {
		return 125, err
	}
	opts := engine.AttachOptions{Stdout: os.Stdout, Stderr: os.Stderr}
	if opts.DetachKeys, err = engine.ParseDetachKeys(engine.DefaultDetachKeys); err != nil {
		return 125, err
	}
	if detachKeys.set {
		if opts.DetachKeys, err = engine.ParseDetachKeys(detachKeys.Value()); err != nil {
			return 125, err
		}
	}
	if !noStdin.set {
		opts.Stdin = os.Stdin
	}
	if c.Config.Tty {
		opts.Rows, opts.Cols = engine.TerminalSize(os.Stdin)
		if restore, err := process.RawTerminal(os.Stdin); err == nil {
			defer restore()
		}
	}
	code, _, err := e.AttachTo(c.ID, opts)
	return code, err
}

func ps(e *engine.Engine, args []string) (int, error) {
	o := newOptions("ps")
	all := o.Bool("-a,--all", "show stopped containers too")
	quiet := o.Bool("-q,--quiet", "only IDs")
	format := o.String("--format", "a Go template per container ({{.ID}} {{.Names}}...); 'table ...' adds a header")
	filter := o.String("-f,--filter", "only containers that match: status=, name=, id=, ancestor=, exited=, volume=")
	if _, err := o.parse(args, false); err != nil {
		return 125, err
	}
	filters, err := engine.ParseFilters(filter.values, engine.ContainerFilterKeys)
	if err != nil {
		return 125, err
	}
	containers, err := e.Store.List()
	if err != nil {
		return 125, err
	}
	var rows []engine.ContainerSummary
	for _, c := range containers {
		// Docker shows what a status filter asks for, running or not.
		if (!all.set && !filters.Has("status") && !c.State.Running()) || !filters.MatchContainer(c) {
			continue
		}
		rows = append(rows, engine.Summarize(c, time.Now()))
	}
	return listRows(quiet.set, format, engine.DefaultContainerFormat, "{{.ID}}", engine.ContainerHeader, rows)
}

// listRows prints a listing: its IDs alone with -q, else through --format or the default
// table.
func listRows[T any](quiet bool, format *option, defaultFormat, quietFormat string, header T, rows []T) (int, error) {
	text := defaultFormat
	if quiet {
		text = quietFormat
	} else if format.set {
		text = format.Value()
	}
	f, err := engine.ParseFormat(text)
	if err != nil {
		return 125, err
	}
	if err := engine.WriteRows(os.Stdout, f, header, rows); err != nil {
		return 125, err
	}
	return 0, nil
}

func logs(e *engine.Engine, args []string) (int, error) {
	o := newOptions("logs")
	follow := o.Bool("-f,--follow", "keep printing new output until the container ends")
	tail := o.String("-n,--tail", "only the last N lines")
	stamps := o.Bool("-t,--timestamps", "show when each line was written")
	rest, err := o.parse(args, false)
	if err != nil || len(rest) != 1 {
		return 125, fmt.Errorf("usage: 08-engine logs [-f] [--tail N] [-t] CONTAINER")
	}
	c, err := e.Store.Get(rest[0])
	if err != nil {
		return 125, err
	}
	n := -1
	if tail.set && tail.Value() != "all" {
		if n, err = tail.IntIn(-1, 0, maxLines); err != nil {
			return 125, err
		}
	}
	dir := e.Store.Dir(c.ID) + "/logs"
	entries, offset, err := engine.ReadLog(dir, n)
	if err != nil {
		return 125, err
	}
	show := func(entries []engine.LogEntry) {
		for _, le := range entries {
			out := os.Stdout
			if le.Stream == "stderr" {
				out = os.Stderr
			}
			if stamps.set {
				fmt.Fprintf(out, "%s %s", le.Time.Format(time.RFC3339Nano), le.Log)
			} else {
				fmt.Fprint(out, le.Log)
			}
		}
	}
	show(entries)
	for follow.set {
		c, err = e.Store.Get(c.ID)
		running := err == nil && c.State.Running()
		more, next, err := engine.FollowLog(dir, offset)
		if err != nil {
			return 0, nil
		}
		show(more)
		offset = next
		if !running && len(more) == 0 {
			return 0, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return 0, nil
}

func execIn(e *engine.Engine, args []string) (int, error) {
	o := newOptions("exec")
	o.Bool("-i,--interactive", "keep standard input open")
	tty := o.Bool("-t,--tty", "give the process a terminal")
	env := o.String("-e,--env", "set an environment variable")
	workdir := o.String("-w,--workdir", "the working directory")
	user := o.String("-u,--user", "the user")
	rest, err := o.parse(args, true)
	if err != nil || len(rest) < 2 {
		return 125, fmt.Errorf("usage: 08-engine exec [-i] [-t] [-e K=V] [-w DIR] [-u USER] CONTAINER COMMAND...")
	}
	vars, err := environment(env.values, nil)
	if err != nil {
		return 125, err
	}
	return e.Exec(rest[0], rest[1:], vars, workdir.Value(), user.Value(), tty.set,
		&engine.Attach{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr})
}

func stop(e *engine.Engine, args []string) (int, error) {
	o := newOptions("stop")
	seconds := o.String("-t,--time", "seconds to wait before SIGKILL (default 10)")
	rest, err := o.parse(args, false)
	if err != nil || len(rest) == 0 {
		return 125, fmt.Errorf("usage: 08-engine stop [-t SECONDS] CONTAINER...")
	}
	t, err := seconds.IntIn(10, 0, maxSeconds)
	if err != nil {
		return 125, err
	}
	return each(rest, func(ref string) error { return e.Stop(ref, syscall.SIGTERM, time.Duration(t)*time.Second) })
}

func kill(e *engine.Engine, args []string) (int, error) {
	o := newOptions("kill")
	signal := o.String("-s,--signal", "the signal (default KILL)")
	rest, err := o.parse(args, false)
	if err != nil || len(rest) == 0 {
		return 125, fmt.Errorf("usage: 08-engine kill [-s SIGNAL] CONTAINER...")
	}
	sig := syscall.SIGKILL
	if signal.set {
		if sig, err = runtime.ParseSignal(signal.Value()); err != nil {
			return 125, err
		}
	}
	return each(rest, func(ref string) error { return e.Kill(ref, sig) })
}

func restart(e *engine.Engine, args []string) (int, error) {
	o := newOptions("restart")
	seconds := o.String("-t,--time", "seconds to wait before SIGKILL (default 10)")
	rest, err := o.parse(args, false)
	if err != nil || len(rest) == 0 {
		return 125, fmt.Errorf("usage: 08-engine restart [-t SECONDS] CONTAINER...")
	}
	t, err := seconds.IntIn(10, 0, maxSeconds)
	if err != nil {
		return 125, err
	}
	return each(rest, func(ref string) error {
		if err := e.Stop(ref, syscall.SIGTERM, time.Duration(t)*time.Second); err != nil {
			return err
		}
		if _, err := e.Start(ref, nil); !errors.Is(err, engine.ErrAlreadyRunning) {
			return err
		}
		return nil // started by another command meanwhile: running, as asked
	})
}

func rm(e *engine.Engine, args []string) (int, error) {
	o := newOptions("rm")
	force := o.Bool("-f,--force", "kill a running container first")
	volumes := o.Bool("-v,--volumes", "remove its anonymous volumes too")
	rest, err := o.parse(args, false)
	if err != nil || len(rest) == 0 {
		return 125, fmt.Errorf("usage: 08-engine rm [-f] [-v] CONTAINER...")
	}
	return each(rest, func(ref string) error {
		err := e.Remove(ref, force.set, volumes.set)
		if force.set && errors.Is(err, engine.ErrNotFound) {
			// rm -f makes sure a container is gone; one that is gone already is success,
			// as for runc's delete --force (and a --rm container may beat us to it).
			return nil
		}
		return err
	})
}

func inspect(e *engine.Engine, args []string) (int, error) {
	o := newOptions("inspect")
	format := o.String("-f,--format", "a Go template over each document ({{.State.Pid}}, {{json .Mounts}})")
	kind := o.String("--type", "container or image, when a name could be both")
	rest, err := o.parse(args, false)
	if err != nil || len(rest) == 0 {
		return 125, fmt.Errorf("usage: 08-engine inspect [-f TEMPLATE] [--type container|image] CONTAINER|IMAGE...")
	}
	var f *engine.Format
	if format.set {
		if f, err = engine.ParseFormat(format.Value()); err != nil {
			return 125, err
		}
	}
	var out []any
	for _, ref := range rest {
		doc, err := inspectOne(e, ref, kind.Value())
		if err != nil {
			return 125, err
		}
		out = append(out, doc)
	}
	if f == nil {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return 0, enc.Encode(out)
	}
	for _, v := range out {
		// The template runs over the JSON document, so it names the keys inspect prints.
		doc, err := engine.Document(v)
		if err != nil {
			return 125, err
		}
		if err := f.Execute(os.Stdout, doc); err != nil {
			return 125, err
		}
	}
	return 0, nil
}

// inspectOne finds what ref names: a container, else an image (or only the kind asked for).
func inspectOne(e *engine.Engine, ref, kind string) (any, error) {
	if kind != "" && kind != "container" && kind != "image" {
		return nil, fmt.Errorf("--type %q: want container or image", kind)
	}
	if kind != "image" {
		c, err := e.Store.Get(ref)
		if err == nil {
			return c, nil
		}
		if !errors.Is(err, engine.ErrNotFound) {
			return nil, err
		}
	}
	if kind != "container" {
		if doc, err := e.InspectImage(ref); err == nil {
			return doc, nil
		}
	}
	if kind == "" {
		return nil, fmt.Errorf("no container or image %q", ref)
	}
	return nil, fmt.Errorf("no %s %q", kind, ref)
}

func top(e *engine.Engine, args []string) (int, error) {
	if len(args) != 1 {
		return 125, fmt.Errorf("usage: 08-engine top CONTAINER")
	}
	table, err := e.Top(args[0])
	if err != nil {
		return 125, err
	}
	fmt.Print(table)
	return 0, nil
}

func port(e *engine.Engine, args []string) (int, error) {
	if len(args) != 1 {
		return 125, fmt.Errorf("usage: 08-engine port CONTAINER")
	}
	c, err := e.Store.Get(args[0])
	if err != nil {
		return 125, err
	}
	for _, p := range c.Network.Ports {
		// "8080->80/tcp" as the network package writes it: print it as Docker does.
		host, inside, _ := strings.Cut(p, "->")
		fmt.Printf("%s -> 0.0.0.0:%s\n", inside, host)
	}
	return 0, nil
}

func wait(e *engine.Engine, args []string) (int, error) {
	if len(args) == 0 {
		return 125, fmt.Errorf("usage: 08-engine wait CONTAINER...")
	}
	for _, ref := range args {
		code, err := e.Wait(ref)
		if err != nil {
			return 125, err
		}
		fmt.Println(code)
	}
	return 0, nil
}

// each applies f to every container named, printing each name as Docker does, and
// reports the first error (125) after trying them all.
func each(refs []string, f func(string) error) (int, error) {
	var first error
	for _, ref := range refs {
		if err := f(ref); err != nil {
			fmt.Fprintln(os.Stderr, "08-engine:", err)
			if first == nil {
				first = err
			}
			continue
		}
		fmt.Println(ref)
	}
	if first != nil {
		return process.ExitSetupFailed, nil
	}
	return 0, nil
}

func rename(e *engine.Engine, args []string) (int, error) {
	if len(args) != 2 {
		return 125, fmt.Errorf("usage: 08-engine rename CONTAINER NEW_NAME")
	}
	return 0, e.Rename(args[0], args[1])
}
