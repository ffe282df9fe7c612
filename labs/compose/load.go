package compose

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"containerlabs/labs/cgroup"
	"containerlabs/labs/engine"
	"containerlabs/labs/state"
)

// DefaultFiles are the names a compose file is looked for under, in order, when -f is not
// given, as Docker Compose looks for them.
var DefaultFiles = []string{"compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml"}

// DefaultNetwork is the network of the services that name none.
const DefaultNetwork = "default"

// Options say which compose file to load, and from where.
type Options struct {
	// File is the compose file; empty looks for DefaultFiles in Dir.
	File string
	// Dir is where to look for the file when File is empty (default: the current directory).
	Dir string
	// Name is the project's name (-p); empty takes COMPOSE_PROJECT_NAME, the file's name:,
	// or the directory's name, in that order.
	Name string
	// Environ is the environment compose runs in, NAME=value, which variables in the file
	// are taken from before the project directory's .env file.
	Environ []string
}

// projectNameRune keeps the characters a project name may have (lower-case letters, digits,
// '_' and '-') and drops the rest, as Compose does.
func projectNameRune(r rune) rune {
	if 'a' <= r && r <= 'z' || '0' <= r && r <= '9' || r == '_' || r == '-' {
		return r
	}
	return -1
}

// Load reads a compose file: it substitutes variables (from the environment, then .env),
// decodes it strictly (an unknown key is an error naming it and its line), reads env
// files, makes paths absolute, and checks every reference: services, networks and volumes
// named must be declared, depends_on must not go round in a circle.
func Load(opts Options) (*Project, error) {
	path, err := findFile(opts)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read the compose file: %w", err)
	}
	dir := filepath.Dir(path)
	env, err := environment(opts.Environ, filepath.Join(dir, ".env"))
	if err != nil {
		return nil, err
	}
	lookup := func(name string) (string, bool) { v, ok := env[name]; return v, ok }
	p, err := decode(data, lookup)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Base(path), err)
	}
	p.Dir = dir
	if err := p.normalize(opts.Name, lookup); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Base(path), err)
	}
	return p, nil
}

func findFile(opts Options) (string, error) {
	if opts.File != "" {
		return filepath.Abs(opts.File)
	}
	dir := opts.Dir
	if dir == "" {
		dir = "."
	}
	for _, name := range DefaultFiles {
		path := filepath.Join(dir, name)
		if _, err := os.Stat(path); err == nil {
			return filepath.Abs(path)
		}
	}
	return "", fmt.Errorf("no compose file in %s (looked for %s): give one with -f", dir, strings.Join(DefaultFiles, ", "))
}

// environment is the variables a compose file may use: the .env file's, with the
// environment's over them.
func environment(environ []string, dotEnv string) (map[string]string, error) {
	env := map[string]string{}
	if data, err := os.ReadFile(dotEnv); err == nil {
		vars, err := ReadEnvFile(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", dotEnv, err)
		}
		for _, kv := range vars {
			k, v, _ := strings.Cut(kv, "=")
			env[k] = v
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	return env, nil
}

// ReadEnvFile reads an env file (.env, env_file): NAME=value lines, with blank lines and
// # comments, an optional "export " before the name, and a value in single quotes (kept as
// written) or double quotes (with \n, \" and \\ understood).
func ReadEnvFile(data []byte) ([]string, error) {
	var vars []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		name, value, ok := strings.Cut(line, "=")
		name = strings.TrimSpace(name)
		if !ok || name == "" || strings.ContainsAny(name, " \t") {
			return nil, fmt.Errorf("line %d: %q is not NAME=value", n, line)
		}
		value = strings.TrimSpace(value)
		switch {
		case len(value) >= 2 && value[0] == '\'' && value[len(value)-1] == '\'':
			value = value[1 : len(value)-1]
		case len(value) >= 2 && value[0] == '"' && value[len(value)-1] == '"':
			value = strings.NewReplacer(`\n`, "\n", `\"`, `"`, `\\`, `\`).Replace(value[1 : len(value)-1])
		default:
			if i := strings.Index(value, " #"); i >= 0 {
				value = strings.TrimSpace(value[:i])
			}
		}
		vars = append(vars, name+"="+value)
	}
	return vars, sc.Err()
}

// decode parses the YAML, substitutes variables in every value, and decodes the result
// strictly.
func decode(data []byte, lookup func(string) (string, bool)) (*Project, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	if len(doc.Content) == 0 {
		return nil, errors.New("the file is empty")
	}
	root := doc.Content[0]
	if err := interpolateNode(root, lookup); err != nil {
		return nil, err
	}
	var top struct {
		Name     string    `yaml:"name"`
		Version  string    `yaml:"version"`
		Services yaml.Node `yaml:"services"`
		Networks yaml.Node `yaml:"networks"`
		Volumes  yaml.Node `yaml:"volumes"`
	}
	if err := strict(root, &top, "the file"); err != nil {
		return nil, err
	}
	p := &Project{Name: top.Name, Version: top.Version, Services: map[string]*Service{},
		Networks: map[string]*NetworkConfig{}, Volumes: map[string]*VolumeConfig{}}
	if top.Services.Kind != yaml.MappingNode || len(top.Services.Content) == 0 {
		return nil, errors.New("services: a compose file needs at least one service")
	}
	for i := 0; i+1 < len(top.Services.Content); i += 2 {
		k, v := top.Services.Content[i], top.Services.Content[i+1]
		if !state.SafeName(k.Value) {
			return nil, lineError(k, "service name %q: use letters, digits, '_', '.' and '-', starting with a letter or digit", k.Value)
		}
		s := &Service{Name: k.Value}
		type plain Service
		if err := strict(v, (*plain)(s), "services."+k.Value); err != nil {
			return nil, err
		}
		p.Services[k.Value] = s
	}
	for _, section := range []struct {
		node *yaml.Node
		add  func(string, *yaml.Node) error
	}{
		{&top.Networks, func(name string, v *yaml.Node) error {
			n := &NetworkConfig{}
			p.Networks[name] = n
			return v.Decode(n)
		}},
		{&top.Volumes, func(name string, v *yaml.Node) error {
			vol := &VolumeConfig{}
			p.Volumes[name] = vol
			return v.Decode(vol)
		}},
	} {
		if section.node.Kind == 0 || section.node.Tag == "!!null" {
			continue
		}
		if section.node.Kind != yaml.MappingNode {
			return nil, lineError(section.node, "networks and volumes are mappings of names")
		}
		for i := 0; i+1 < len(section.node.Content); i += 2 {
			k, v := section.node.Content[i], section.node.Content[i+1]
			if err := section.add(k.Value, v); err != nil {
				return nil, err
			}
		}
	}
	return p, nil
}

// interpolateNode substitutes variables in every scalar value under node (keys are left
// alone, as the specification says). A plain scalar whose text changed is typed again from
// its new text, so "retries: ${RETRIES}" is a number.
func interpolateNode(node *yaml.Node, lookup func(string) (string, bool)) error {
	switch node.Kind {
	case yaml.ScalarNode:
		v, err := Interpolate(node.Value, lookup)
		if err != nil {
			return lineError(node, "%v", err)
		}
		if v != node.Value {
			node.Value = v
			if node.Style == 0 {
				node.Tag = ""
			}
		}
	case yaml.MappingNode:
		for i := 1; i < len(node.Content); i += 2 {
			if err := interpolateNode(node.Content[i], lookup); err != nil {
				return err
			}
		}
	case yaml.SequenceNode, yaml.DocumentNode:
		for _, c := range node.Content {
			if err := interpolateNode(c, lookup); err != nil {
				return err
			}
		}
	case yaml.AliasNode:
		return lineError(node, "YAML aliases (*name) are not supported in compose files here")
	}
	return nil
}

// normalize names the project, reads env files, makes paths absolute and checks what
// refers to what.
func (p *Project) normalize(name string, lookup func(string) (string, bool)) error {
	if name == "" {
		name, _ = lookup("COMPOSE_PROJECT_NAME")
	}
	if name == "" {
		name = p.Name
	}
	if name == "" {
		name = filepath.Base(p.Dir)
	}
	p.Name = strings.Map(projectNameRune, strings.ToLower(name))
	if p.Name == "" || !state.SafeName(p.Name) {
		return fmt.Errorf("project name %q: use lower-case letters, digits, '_' and '-', starting with a letter or digit (-p NAME)", name)
	}
	usesDefault := false
	for _, s := range p.Services {
		if err := p.normalizeService(s, lookup); err != nil {
			return fmt.Errorf("service %s: %w", s.Name, err)
		}
		if _, ok := s.Networks[DefaultNetwork]; ok {
			usesDefault = true
		}
	}
	if _, ok := p.Networks[DefaultNetwork]; usesDefault && !ok {
		p.Networks[DefaultNetwork] = &NetworkConfig{}
	}
	for key, n := range p.Networks {
		if n.IPAM != nil && len(n.IPAM.Config) > 1 {
			return fmt.Errorf("network %s: one subnet per network here", key)
		}
	}
	_, err := p.StartOrder()
	return err
}

func (p *Project) normalizeService(s *Service, lookup func(string) (string, bool)) error {
	if s.Image == "" && s.Build == nil {
		return errors.New("it needs an image or a build")
	}
	if s.Build != nil {
		s.Build.Context = p.abs(s.Build.Context, lookup)
	}
	// The environment: the env files' variables, then environment's over them; a name
	// without a value takes compose's own (and is left out if compose has none).
	var env []string
	for i, f := range s.EnvFile {
		s.EnvFile[i] = p.abs(f, lookup)
		data, err := os.ReadFile(s.EnvFile[i])
		if err != nil {
			return fmt.Errorf("env_file: %w", err)
		}
		vars, err := ReadEnvFile(data)
		if err != nil {
			return fmt.Errorf("env_file %s: %w", f, err)
		}
		env = setAll(env, vars)
	}
	for _, kv := range s.Environment {
		if !strings.Contains(kv, "=") {
			v, ok := lookup(kv)
			if !ok {
				continue
			}
			kv += "=" + v
		}
		env = setAll(env, []string{kv})
	}
	s.Environment = env
	for i, v := range s.Volumes {
		switch {
		case v.Type == "bind":
			s.Volumes[i].Source = p.abs(v.Source, lookup)
		case v.Source != "":
			if _, ok := p.Volumes[v.Source]; !ok {
				return fmt.Errorf("volumes: %s is not declared under the top-level volumes", v.Source)
			}
		}
		if !strings.HasPrefix(v.Target, "/") {
			return fmt.Errorf("volumes: the container path %q must be absolute", v.Target)
		}
	}
	switch s.NetworkMode {
	case "":
		if len(s.Networks) == 0 {
			s.Networks = ServiceNetworks{DefaultNetwork: &ServiceNetwork{}}
		}
	case "host", "none", "bridge":
		if len(s.Networks) > 0 {
			return fmt.Errorf("network_mode %s and networks conflict", s.NetworkMode)
		}
	default:
		return fmt.Errorf("network_mode %q: want host, none or bridge (service: and container: are not supported here)", s.NetworkMode)
	}
	for name, sn := range s.Networks {
		if _, ok := p.Networks[name]; !ok && name != DefaultNetwork {
			return fmt.Errorf("networks: %s is not declared under the top-level networks", name)
		}
		for _, alias := range sn.Aliases {
			if !state.SafeName(alias) {
				return fmt.Errorf("networks.%s: alias %q: use letters, digits, '_', '.' and '-'", name, alias)
			}
		}
	}
	for dep := range s.DependsOn {
		if _, ok := p.Services[dep]; !ok || dep == s.Name {
			return fmt.Errorf("depends_on: %q is not another service of the file", dep)
		}
	}
	if s.Restart != "" {
		if _, err := engine.ParseRestartPolicy(s.Restart); err != nil {
			return fmt.Errorf("restart: %w", err)
		}
	}
	if s.MemLimit != "" {
		n, err := cgroup.ParseSize(string(s.MemLimit))
		if err != nil {
			return fmt.Errorf("mem_limit: %w", err)
		}
		if n < cgroup.MinMemory {
			return fmt.Errorf("mem_limit %s is too small: a container needs at least %s", s.MemLimit, cgroup.FormatSize(cgroup.MinMemory))
		}
	}
	if s.CPUs != "" {
		if _, err := cgroup.ParseCPUs(string(s.CPUs)); err != nil {
			return fmt.Errorf("cpus: %w", err)
		}
	}
	if s.PidsLimit < 0 {
		return fmt.Errorf("pids_limit %d: want a positive number", s.PidsLimit)
	}
	if h := s.Healthcheck; h != nil {
		for what, d := range map[string]*Duration{"interval": h.Interval, "timeout": h.Timeout} {
			if d != nil && *d != 0 && time.Duration(*d) < time.Millisecond {
				return fmt.Errorf("healthcheck: %s %s: want at least 1ms", what, time.Duration(*d))
			}
		}
		if len(h.Test) == 1 && h.Test[0] != "NONE" {
			return errors.New("healthcheck: the test has no command")
		}
	}
	return nil
}

// abs makes a host path of the file absolute: ~ is the home directory, a relative path
// starts at the project's directory.
func (p *Project) abs(path string, lookup func(string) (string, bool)) string {
	if rest, ok := strings.CutPrefix(path, "~"); ok {
		home, _ := lookup("HOME")
		return filepath.Join(home, rest)
	}
	if filepath.IsAbs(path) {
		return filepath.Clean(path)
	}
	return filepath.Join(p.Dir, path)
}

// setAll sets each NAME=value of vars in env, replacing an earlier value of the same name.
func setAll(env, vars []string) []string {
	for _, kv := range vars {
		name, _, _ := strings.Cut(kv, "=")
		env = slices.DeleteFunc(env, func(have string) bool { return strings.HasPrefix(have, name+"=") })
		env = append(env, kv)
	}
	return env
}

// StartOrder lists the services in an order that starts each after the services it
// depends on (by name where the order is free), or fails if the dependencies go round.
func (p *Project) StartOrder() ([]*Service, error) {
	var names []string
	for name := range p.Services {
		names = append(names, name)
	}
	sort.Strings(names)
	var order []*Service
	state := map[string]int{} // 1: being visited, 2: done
	var visit func(name string, path []string) error
	visit = func(name string, path []string) error {
		switch state[name] {
		case 1:
			return fmt.Errorf("depends_on goes round in a circle: %s", strings.Join(append(path, name), " -> "))
		case 2:
			return nil
		}
		state[name] = 1
		var deps []string
		for dep := range p.Services[name].DependsOn {
			deps = append(deps, dep)
		}
		sort.Strings(deps)
		for _, dep := range deps {
			if err := visit(dep, append(path, name)); err != nil {
				return err
			}
		}
		state[name] = 2
		order = append(order, p.Services[name])
		return nil
	}
	for _, name := range names {
		if err := visit(name, nil); err != nil {
			return nil, err
		}
	}
	return order, nil
}

// YAML is the project as `compose config` prints it: everything resolved.
func (p *Project) YAML() ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(p); err != nil {
		return nil, err
	}
	return buf.Bytes(), enc.Close()
}
