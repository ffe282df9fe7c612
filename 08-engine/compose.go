package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	"containerlabs/labs/compose"
	"containerlabs/labs/engine"
)

const composeUsage = `usage: 08-engine compose [-f FILE] [-p PROJECT] COMMAND
  up [-d] [--build]          make and start the project (in the foreground: follow its logs; Ctrl-C stops it)
  down [-v]                  stop and remove its containers and networks (-v: and its volumes)
  ps [-a] [-q]               its containers
  logs [-f] [-t] [--tail N] [SERVICE...]
  exec [-T] [-e K=V] [-w DIR] [-u USER] SERVICE COMMAND...
  stop | start | restart [SERVICE...]
  config                     the file as it is understood: variables substituted, paths absolute`

// composeCommand is `docker compose`: applications of several containers from a compose file
// (labs/compose), on this engine.
func composeCommand(e *engine.Engine, args []string) (int, error) {
	o := newOptions("compose")
	file := o.String("-f,--file", "the compose file (default: compose.yaml, docker-compose.yml, ... here)")
	name := o.String("-p,--project-name", "the project's name (default: the file's name:, or its directory's)")
	rest, err := o.parse(args, true)
	if err != nil {
		return 125, err
	}
	if len(rest) == 0 {
		fmt.Println(composeUsage)
		return 0, nil
	}
	p, err := compose.Load(compose.Options{File: file.Value(), Name: name.Value(), Environ: os.Environ()})
	if err != nil {
		return 125, err
	}
	command, rest := rest[0], rest[1:]
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	switch command {
	case "up":
		return composeUp(ctx, e, p, rest)
	case "down":
		o := newOptions("compose down")
		volumes := o.Bool("-v,--volumes", "remove the project's volumes too")
		if _, err := o.parse(rest, false); err != nil {
			return 125, err
		}
		return 0, compose.Down(e, p, volumes.set, os.Stderr)
	case "ps":
		return composePs(e, p, rest)
	case "logs":
		return composeLogs(ctx, e, p, rest)
	case "exec":
		return composeExec(e, p, rest)
	case "stop":
		return 0, compose.Stop(e, p, rest, os.Stderr)
	case "start":
		return 0, compose.Start(ctx, e, p, rest, os.Stderr)
	case "restart":
		if err := compose.Stop(e, p, rest, os.Stderr); err != nil {
			return 125, err
		}
		return 0, compose.Start(ctx, e, p, rest, os.Stderr)
	case "config":
		data, err := p.YAML()
		if err != nil {
			return 125, err
		}
		_, err = os.Stdout.Write(data)
		return 0, err
	}
	return 125, fmt.Errorf("unknown compose command %q\n%s", command, composeUsage)
}

// composeUp is up: detached, it returns when every service runs (or has completed, or is
// healthy, where another waits for it); in the foreground it then follows the project's
// logs, and Ctrl-C stops the project, as Docker Compose does.
func composeUp(ctx context.Context, e *engine.Engine, p *compose.Project, args []string) (int, error) {
	o := newOptions("compose up")
	detach := o.Bool("-d,--detach", "start the project in the background")
	rebuild := o.Bool("--build", "build the images of services with a build: section first")
	if _, err := o.parse(args, false); err != nil {
		return 125, err
	}
	if err := compose.Up(ctx, e, p, compose.UpOptions{Build: rebuild.set, Out: os.Stderr}); err != nil {
		return 125, err
	}
	if detach.set {
		return 0, nil
	}
	code, err := followProject(ctx, e, p.Name, nil, -1, true, false)
	if ctx.Err() != nil {
		fmt.Fprintln(os.Stderr, "Gracefully stopping... (press Ctrl-C again to force)")
		return 130, compose.Stop(e, p, nil, os.Stderr)
	}
	return code, err
}

// composeRow is a line of compose ps.
type composeRow struct {
	Name, Image, Service, Status, Ports string
}

func composePs(e *engine.Engine, p *compose.Project, args []string) (int, error) {
	o := newOptions("compose ps")
	all := o.Bool("-a,--all", "stopped containers too")
	quiet := o.Bool("-q,--quiet", "only IDs")
	format := o.String("--format", "a Go template per container ({{.Name}} {{.Service}} {{.Status}})")
	if _, err := o.parse(args, false); err != nil {
		return 125, err
	}
	containers, err := compose.Containers(e, p.Name)
	if err != nil {
		return 125, err
	}
	sort.Slice(containers, func(i, j int) bool { return containers[i].Name < containers[j].Name })
	var rows []composeRow
	for _, c := range containers {
		if !all.set && !c.State.Running() {
			continue
		}
		s := engine.Summarize(c, time.Now())
		rows = append(rows, composeRow{Name: c.Name, Image: c.Image, Service: c.Config.Labels[compose.LabelService],
			Status: s.Status, Ports: s.Ports})
	}
	if quiet.set {
		for _, c := range containers {
			if all.set || c.State.Running() {
				fmt.Println(c.ID)
			}
		}
		return 0, nil
	}
	header := composeRow{Name: "NAME", Image: "IMAGE", Service: "SERVICE", Status: "STATUS", Ports: "PORTS"}
	return listRows(false, format, "table {{.Name}}\t{{.Image}}\t{{.Service}}\t{{.Status}}\t{{.Ports}}", "", header, rows)
}

func composeLogs(ctx context.Context, e *engine.Engine, p *compose.Project, args []string) (int, error) {
	o := newOptions("compose logs")
	follow := o.Bool("-f,--follow", "keep printing new output")
	stamps := o.Bool("-t,--timestamps", "show when each line was written")
	tail := o.String("-n,--tail", "only the last N lines of each container")
	services, err := o.parse(args, false)
	if err != nil {
		return 125, err
	}
	n := -1
	if tail.set && tail.Value() != "all" {
		if n, err = tail.IntIn(-1, 0, maxLines); err != nil {
			return 125, err
		}
	}
	for _, s := range services {
		if _, ok := p.Services[s]; !ok {
			return 125, fmt.Errorf("no service %q in project %s", s, p.Name)
		}
	}
	return followProject(ctx, e, p.Name, services, n, follow.set, stamps.set)
}

// followProject prints the logs of a project's containers (of the services named, or all;
// the last tail lines of each, or all for -1), each line after its container's name, in the
// order they were written; with follow, it goes on until every container has ended or ctx
// is done.
func followProject(ctx context.Context, e *engine.Engine, project string, services []string, tail int, follow, stamps bool) (int, error) {
	containers, err := compose.Containers(e, project)
	if err != nil {
		return 125, err
	}
	type source struct {
		c      *engine.Container
		dir    string
		offset int64
	}
	var sources []*source
	width := 0
	for _, c := range containers {
		if len(services) > 0 && !slices.Contains(services, c.Config.Labels[compose.LabelService]) {
			continue
		}
		sources = append(sources, &source{c: c, dir: e.Store.Dir(c.ID) + "/logs"})
		width = max(width, len(c.Name))
	}
	type line struct {
		name string
		le   engine.LogEntry
	}
	show := func(lines []line) {
		sort.SliceStable(lines, func(i, j int) bool { return lines[i].le.Time.Before(lines[j].le.Time) })
		for _, l := range lines {
			text := l.le.Log
			if stamps {
				text = l.le.Time.Format(time.RFC3339Nano) + " " + text
			}
			if !strings.HasSuffix(text, "\n") {
				text += "\n"
			}
			fmt.Printf("%-*s | %s", width, l.name, text)
		}
	}
	var first []line
	for _, s := range sources {
		entries, offset, err := engine.ReadLog(s.dir, tail)
		if err != nil {
			continue
		}
		s.offset = offset
		for _, le := range entries {
			first = append(first, line{s.c.Name, le})
		}
	}
	show(first)
	for follow {
		running := false
		var more []line
		for _, s := range sources {
			c, err := e.Store.Get(s.c.ID)
			running = running || (err == nil && c.State.Running())
			entries, next, err := engine.FollowLog(s.dir, s.offset)
			if err != nil {
				continue
			}
			s.offset = next
			for _, le := range entries {
				more = append(more, line{s.c.Name, le})
			}
		}
		show(more)
		if !running && len(more) == 0 {
			return 0, nil
		}
		select {
		case <-ctx.Done():
			return 0, nil
		case <-time.After(100 * time.Millisecond):
		}
	}
	return 0, nil
}

func composeExec(e *engine.Engine, p *compose.Project, args []string) (int, error) {
	o := newOptions("compose exec")
	noTTY := o.Bool("-T,--no-TTY", "no terminal, even when standard input is one")
	env := o.String("-e,--env", "set an environment variable")
	workdir := o.String("-w,--workdir", "the working directory")
	user := o.String("-u,--user", "the user")
	rest, err := o.parse(args, true)
	if err != nil || len(rest) < 2 {
		return 125, fmt.Errorf("usage: 08-engine compose exec [-T] [-e K=V] [-w DIR] [-u USER] SERVICE COMMAND...")
	}
	c, err := p.ServiceContainer(e, rest[0])
	if err != nil {
		return 125, err
	}
	vars, err := environment(env.values, nil)
	if err != nil {
		return 125, err
	}
	// Docker Compose gives the command a terminal when it has one itself.
	info, err := os.Stdin.Stat()
	tty := err == nil && info.Mode()&os.ModeCharDevice != 0 && !noTTY.set
	return e.Exec(c.ID, rest[1:], vars, workdir.Value(), user.Value(), tty,
		&engine.Attach{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr})
}
