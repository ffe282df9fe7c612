package build

import (
	"encoding/json"
	"fmt"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"containerlabs/labs/engine"
)

// defaultShell runs the shell form of RUN, CMD and ENTRYPOINT unless SHELL says otherwise.
var defaultShell = []string{"/bin/sh", "-c"}

// imageState is the image a stage has built so far.
type imageState struct {
	// ref is the store's name for it; "" while a FROM scratch stage has no image yet.
	ref    string
	id     v1.Hash // config digest
	digest v1.Hash // manifest digest
	cfg    *v1.ConfigFile
}

// stageState is a stage while it is built: its image so far and its build arguments.
type stageState struct {
	img imageState
	// args are the values of the ARGs declared in the stage (a declared ARG without a
	// value is absent), in declaration order in names.
	args  map[string]string
	names []string
	// cmdSet says CMD was given in this stage: ENTRYPOINT clears an inherited CMD only.
	cmdSet bool
}

// buildArgs resolves ARG values: the --build-arg given, else the default. It remembers
// which --build-arg values an ARG used, to warn about the others.
type buildArgs struct {
	given map[string]string
	// global are the values of the ARGs before the first FROM, usable in FROM lines and,
	// redeclared without a value, inside a stage.
	global map[string]string
	used   map[string]bool
}

// declare resolves one ARG: name, its default (noDefault for none), and the lookup its
// default is expanded with.
func (a *buildArgs) declare(name, def string, lookup func(string) (string, bool)) (string, bool, error) {
	if v, ok := a.given[name]; ok {
		a.used[name] = true
		return v, true, nil
	}
	if def != noDefault {
		v, err := Expand(def, lookup)
		return v, err == nil, err
	}
	v, ok := a.global[name]
	return v, ok, nil
}

// globals resolves the ARGs before the first FROM.
func (a *buildArgs) globals(insts []Instruction) error {
	a.global = map[string]string{}
	for _, inst := range insts {
		for i := 0; i < len(inst.Args); i += 2 {
			v, ok, err := a.declare(inst.Args[i], inst.Args[i+1], a.lookupGlobal)
			if err != nil {
				return &LineError{Line: inst.Line, Err: err}
			}
			if ok {
				a.global[inst.Args[i]] = v
			}
		}
	}
	return nil
}

func (a *buildArgs) lookupGlobal(name string) (string, bool) {
	v, ok := a.global[name]
	return v, ok
}

// unused lists the --build-arg names no ARG declared.
func (a *buildArgs) unused() []string {
	var names []string
	for name := range a.given {
		if !a.used[name] {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names
}

// lookup finds a variable for substitution: ENV first (it overrides an ARG of the same
// name), then the stage's ARGs.
func (s *stageState) lookup(name string) (string, bool) {
	if s.img.cfg != nil {
		for _, kv := range slices.Backward(s.img.cfg.Config.Env) {
			if k, v, _ := strings.Cut(kv, "="); k == name {
				return v, true
			}
		}
	}
	v, ok := s.args[name]
	return v, ok
}

// argEnv is what the build arguments add to a RUN's environment: those ENV does not set.
func (s *stageState) argEnv() []string {
	var env []string
	for _, name := range s.names {
		v, ok := s.args[name]
		if !ok {
			continue
		}
		if s.img.cfg != nil && slices.ContainsFunc(s.img.cfg.Config.Env, func(kv string) bool { return strings.HasPrefix(kv, name+"=") }) {
			continue
		}
		env = append(env, name+"="+v)
	}
	return env
}

// argList is the build arguments in effect as NAME=value, for the cache key.
func (s *stageState) argList() []string {
	var list []string
	for _, name := range s.names {
		if v, ok := s.args[name]; ok {
			list = append(list, name+"="+v)
		}
	}
	return list
}

func (s *stageState) expandAll(words []string) ([]string, error) {
	out := make([]string, len(words))
	for i, w := range words {
		var err error
		if out[i], err = Expand(w, s.lookup); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// command turns the args of RUN, CMD or ENTRYPOINT into the argument vector: the exec form
// as given, the shell form run by the stage's shell.
func (s *stageState) command(inst Instruction) []string {
	if inst.JSON {
		return inst.Args
	}
	shell := defaultShell
	if s.img.cfg != nil && len(s.img.cfg.Config.Shell) > 0 {
		shell = s.img.cfg.Config.Shell
	}
	return append(slices.Clone(shell), inst.Args[0])
}

// workdir makes p absolute against the stage's working directory.
func (s *stageState) workdir(p string) string {
	if path.IsAbs(p) {
		return p
	}
	cwd := "/"
	if s.img.cfg != nil && s.img.cfg.Config.WorkingDir != "" {
		cwd = s.img.cfg.Config.WorkingDir
	}
	joined := path.Join(cwd, p)
	if joined != "/" && (strings.HasSuffix(p, "/") || p == ".") {
		joined += "/" // still names a directory
	}
	return joined
}

// jsonText writes an argument vector as the exec form shows it: ["sh","-c","make"].
func jsonText(argv []string) (string, error) {
	data, err := json.Marshal(argv)
	return string(data), err
}

// metadata works out a step that only changes the image's config: the text that describes
// it (variables substituted, for the cache key and the history) and the change. ARG
// declares its arguments in s as it goes.
func (s *stageState) metadata(inst Instruction, args *buildArgs) (string, func(*v1.ConfigFile), error) {
	switch inst.Command {
	case "ARG":
		for i := 0; i < len(inst.Args); i += 2 {
			name := inst.Args[i]
			v, ok, err := args.declare(name, inst.Args[i+1], s.lookup)
			if err != nil {
				return "", nil, err
			}
			if !slices.Contains(s.names, name) {
				s.names = append(s.names, name)
			}
			delete(s.args, name)
			if ok {
				s.args[name] = v
			}
		}
		return inst.Text, func(*v1.ConfigFile) {}, nil
	case "ENV", "LABEL":
		pairs, err := s.expandAll(inst.Args)
		if err != nil {
			return "", nil, err
		}
		var text []string
		for i := 0; i < len(pairs); i += 2 {
			text = append(text, pairs[i]+"="+strconv.Quote(pairs[i+1]))
		}
		return inst.Command + " " + strings.Join(text, " "), func(cfg *v1.ConfigFile) {
			for i := 0; i < len(pairs); i += 2 {
				if inst.Command == "LABEL" {
					if cfg.Config.Labels == nil {
						cfg.Config.Labels = map[string]string{}
					}
					cfg.Config.Labels[pairs[i]] = pairs[i+1]
					continue
				}
				cfg.Config.Env = slices.DeleteFunc(cfg.Config.Env, func(kv string) bool { return strings.HasPrefix(kv, pairs[i]+"=") })
				cfg.Config.Env = append(cfg.Config.Env, pairs[i]+"="+pairs[i+1])
			}
		}, nil
	case "CMD", "ENTRYPOINT", "SHELL":
		argv := s.command(inst)
		if inst.Command == "SHELL" {
			argv = inst.Args
		}
		quoted, _ := jsonText(argv)
		clearCmd := inst.Command == "ENTRYPOINT" && !s.cmdSet
		if inst.Command == "CMD" {
			s.cmdSet = true
		}
		return inst.Command + " " + quoted, func(cfg *v1.ConfigFile) {
			switch inst.Command {
			case "CMD":
				cfg.Config.Cmd = argv
			case "ENTRYPOINT":
				cfg.Config.Entrypoint = argv
				if clearCmd {
					cfg.Config.Cmd = nil
				}
			case "SHELL":
				cfg.Config.Shell = argv
			}
		}, nil
	case "EXPOSE", "VOLUME":
		words, err := s.expandAll(inst.Args)
		if err != nil {
			return "", nil, err
		}
		for i, w := range words {
			if inst.Command == "EXPOSE" {
				if words[i], err = exposedPort(w); err != nil {
					return "", nil, err
				}
			}
		}
		return inst.Command + " " + strings.Join(words, " "), func(cfg *v1.ConfigFile) {
			for _, w := range words {
				if inst.Command == "EXPOSE" {
					if cfg.Config.ExposedPorts == nil {
						cfg.Config.ExposedPorts = map[string]struct{}{}
					}
					cfg.Config.ExposedPorts[w] = struct{}{}
				} else {
					if cfg.Config.Volumes == nil {
						cfg.Config.Volumes = map[string]struct{}{}
					}
					cfg.Config.Volumes[w] = struct{}{}
				}
			}
		}, nil
	case "HEALTHCHECK":
		hc, err := healthConfig(inst)
		if err != nil {
			return "", nil, err
		}
		quoted, _ := jsonText(hc.Test)
		text := fmt.Sprintf("HEALTHCHECK %s interval=%s timeout=%s start-period=%s retries=%d", quoted, hc.Interval, hc.Timeout, hc.StartPeriod, hc.Retries)
		return text, func(cfg *v1.ConfigFile) { cfg.Config.Healthcheck = hc }, nil
	case "USER", "STOPSIGNAL", "MAINTAINER":
		v, err := Expand(inst.Args[0], s.lookup)
		if err != nil {
			return "", nil, err
		}
		return inst.Command + " " + v, func(cfg *v1.ConfigFile) {
			switch inst.Command {
			case "USER":
				cfg.Config.User = v
			case "STOPSIGNAL":
				cfg.Config.StopSignal = v
			case "MAINTAINER":
				cfg.Author = v
			}
		}, nil
	}
	return "", nil, fmt.Errorf("%s does not only change the config", inst.Command)
}

// healthConfig reads a HEALTHCHECK's options into the config's health check, checking
// each value as `run --health-*` does (0 leaves Docker's default).
func healthConfig(inst Instruction) (*v1.HealthConfig, error) {
	hc := &v1.HealthConfig{Test: inst.Args}
	for name, field := range map[string]*time.Duration{"interval": &hc.Interval, "timeout": &hc.Timeout, "start-period": &hc.StartPeriod} {
		if value, ok := inst.Flags[name]; ok {
			d, err := engine.ParseHealthDuration("HEALTHCHECK --"+name, value)
			if err != nil {
				return nil, err
			}
			*field = d
		}
	}
	if value, ok := inst.Flags["retries"]; ok {
		n, err := strconv.ParseUint(value, 10, 31)
		if err != nil {
			return nil, fmt.Errorf("HEALTHCHECK --retries %q: want a number from 0 (the default, %d) to 2147483647", value, engine.DefaultHealthRetries)
		}
		hc.Retries = int(n)
	}
	return hc, nil
}

// exposedPort checks one EXPOSE argument and writes it as the config does: "80/tcp".
func exposedPort(w string) (string, error) {
	port, proto, hasProto := strings.Cut(w, "/")
	if !hasProto {
		proto = "tcp"
	}
	proto = strings.ToLower(proto)
	lo, hi, isRange := strings.Cut(port, "-")
	for _, p := range []string{lo, hi} {
		if !isRange && p == hi {
			continue
		}
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return "", fmt.Errorf("EXPOSE %s: %q is not a port number", w, p)
		}
	}
	if proto != "tcp" && proto != "udp" && proto != "sctp" {
		return "", fmt.Errorf("EXPOSE %s: the protocol is tcp, udp or sctp", w)
	}
	return port + "/" + proto, nil
}
