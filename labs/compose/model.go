package compose

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Project is a compose file, loaded: variables substituted, paths made absolute, env files
// read, every reference checked. Its YAML form is what `compose config` prints.
type Project struct {
	// Name names everything the project makes: containers PROJECT-SERVICE-1, networks and
	// volumes PROJECT_NAME.
	Name string `yaml:"name"`
	// Dir is the project's directory, the compose file's: relative paths start there.
	Dir      string                    `yaml:"-"`
	Services map[string]*Service       `yaml:"services"`
	Networks map[string]*NetworkConfig `yaml:"networks,omitempty"`
	Volumes  map[string]*VolumeConfig  `yaml:"volumes,omitempty"`
	// Version is obsolete in the Compose specification; it is read and ignored.
	Version string `yaml:"version,omitempty"`
}

// Service is one service of a project: the container the engine makes for it.
type Service struct {
	Name        string          `yaml:"-"`
	Image       string          `yaml:"image,omitempty"`
	Build       *Build          `yaml:"build,omitempty"`
	Command     Command         `yaml:"command,omitempty"`
	Entrypoint  Command         `yaml:"entrypoint,omitempty"`
	Environment Environment     `yaml:"environment,omitempty"`
	EnvFile     StringList      `yaml:"env_file,omitempty"`
	Ports       []Port          `yaml:"ports,omitempty"`
	Volumes     []ServiceVolume `yaml:"volumes,omitempty"`
	Networks    ServiceNetworks `yaml:"networks,omitempty"`
	NetworkMode string          `yaml:"network_mode,omitempty"`
	DependsOn   DependsOn       `yaml:"depends_on,omitempty"`
	Healthcheck *Healthcheck    `yaml:"healthcheck,omitempty"`
	Restart     string          `yaml:"restart,omitempty"`
	User        string          `yaml:"user,omitempty"`
	WorkingDir  string          `yaml:"working_dir,omitempty"`
	ReadOnly    bool            `yaml:"read_only,omitempty"`
	CapAdd      []string        `yaml:"cap_add,omitempty"`
	CapDrop     []string        `yaml:"cap_drop,omitempty"`
	Privileged  bool            `yaml:"privileged,omitempty"`
	MemLimit    ByteSize        `yaml:"mem_limit,omitempty"`
	CPUs        CPUs            `yaml:"cpus,omitempty"`
	PidsLimit   int64           `yaml:"pids_limit,omitempty"`
	Labels      Labels          `yaml:"labels,omitempty"`
	Hostname    string          `yaml:"hostname,omitempty"`
	Container   string          `yaml:"container_name,omitempty"`
	StopGrace   *Duration       `yaml:"stop_grace_period,omitempty"`
	Tty         bool            `yaml:"tty,omitempty"`
	StdinOpen   bool            `yaml:"stdin_open,omitempty"`
}

// Build is how a service's image is built: build: DIR, or the long form.
type Build struct {
	Context    string            `yaml:"context"`
	Dockerfile string            `yaml:"dockerfile,omitempty"`
	Args       map[string]string `yaml:"args,omitempty"`
	Target     string            `yaml:"target,omitempty"`
}

// UnmarshalYAML reads build: DIR or build: {context, dockerfile, args, target}.
func (b *Build) UnmarshalYAML(node *yaml.Node) error {
	if node.Kind == yaml.ScalarNode {
		b.Context = node.Value
		return nil
	}
	type plain Build
	if err := strict(node, (*plain)(b), "build"); err != nil {
		return err
	}
	if b.Context == "" {
		b.Context = "."
	}
	return nil
}

// Command is a command line: a list, or a string split into words as a shell would
// (without running one: quotes group, a backslash escapes).
type Command []string

// UnmarshalYAML reads a command as a string or a list.
func (c *Command) UnmarshalYAML(node *yaml.Node) error {
	if node.Kind == yaml.ScalarNode {
		words, err := splitWords(node.Value)
		if err != nil {
			return lineError(node, "%v", err)
		}
		*c = words
		return nil
	}
	var list []string
	if err := node.Decode(&list); err != nil {
		return err
	}
	*c = list
	return nil
}

// Environment is a service's variables, NAME=value, in the order written: a mapping, or a
// list of NAME=value (NAME alone takes the value from the environment compose runs in).
type Environment []string

// UnmarshalYAML reads environment as a mapping or a list.
func (env *Environment) UnmarshalYAML(node *yaml.Node) error {
	switch node.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(node.Content); i += 2 {
			k, v := node.Content[i], node.Content[i+1]
			if v.Tag == "!!null" {
				*env = append(*env, k.Value)
				continue
			}
			*env = append(*env, k.Value+"="+v.Value)
		}
		return nil
	case yaml.SequenceNode:
		var list []string
		if err := node.Decode(&list); err != nil {
			return err
		}
		*env = list
		return nil
	}
	return lineError(node, "environment: want a mapping (NAME: value) or a list (- NAME=value)")
}

// StringList is a string or a list of strings (env_file).
type StringList []string

// UnmarshalYAML reads one string or a list.
func (l *StringList) UnmarshalYAML(node *yaml.Node) error {
	if node.Kind == yaml.ScalarNode {
		*l = []string{node.Value}
		return nil
	}
	var list []string
	if err := node.Decode(&list); err != nil {
		return err
	}
	*l = list
	return nil
}

// Labels are a mapping, or a list of KEY=VALUE.
type Labels map[string]string

// UnmarshalYAML reads labels as a mapping or a list.
func (l *Labels) UnmarshalYAML(node *yaml.Node) error {
	*l = Labels{}
	if node.Kind == yaml.SequenceNode {
		var list []string
		if err := node.Decode(&list); err != nil {
			return err
		}
		for _, kv := range list {
			k, v, _ := strings.Cut(kv, "=")
			(*l)[k] = v
		}
		return nil
	}
	var m map[string]string
	if err := node.Decode(&m); err != nil {
		return err
	}
	for k, v := range m {
		(*l)[k] = v
	}
	return nil
}

// Port is a published port: "8080:80", "8080:80/udp", or the long form {target,
// published, protocol}.
type Port struct {
	Target    uint16 `yaml:"target"`
	Published uint16 `yaml:"published"`
	Protocol  string `yaml:"protocol,omitempty"`
}

// UnmarshalYAML reads a port in the short or the long form.
func (p *Port) UnmarshalYAML(node *yaml.Node) error {
	if node.Kind == yaml.MappingNode {
		var long struct {
			Target    uint16 `yaml:"target"`
			Published string `yaml:"published"`
			Protocol  string `yaml:"protocol"`
		}
		if err := strict(node, &long, "ports"); err != nil {
			return err
		}
		spec := long.Published + ":" + strconv.Itoa(int(long.Target))
		if long.Protocol != "" {
			spec += "/" + long.Protocol
		}
		return p.parse(node, spec)
	}
	return p.parse(node, node.Value)
}

func (p *Port) parse(node *yaml.Node, spec string) error {
	ports, proto, hasProto := strings.Cut(spec, "/")
	if !hasProto {
		proto = "tcp"
	}
	host, target, ok := strings.Cut(ports, ":")
	if !ok {
		return lineError(node, "ports: %q: publish a port as HOST:CONTAINER (8080:80); a container port alone, with a host port chosen at random, is not supported here", spec)
	}
	if strings.Contains(target, ":") {
		return lineError(node, "ports: %q: a host address (IP:HOST:CONTAINER) is not supported here: ports are published on all of the host's addresses", spec)
	}
	h, err1 := strconv.ParseUint(host, 10, 16)
	c, err2 := strconv.ParseUint(target, 10, 16)
	if err1 != nil || err2 != nil || h == 0 || c == 0 {
		return lineError(node, "ports: %q: ports are numbers from 1 to 65535 (ranges are not supported)", spec)
	}
	if proto != "tcp" && proto != "udp" {
		return lineError(node, "ports: %q: the protocol is tcp or udp", spec)
	}
	*p = Port{Target: uint16(c), Published: uint16(h), Protocol: proto}
	return nil
}

// String is the port as `run -p` takes it.
func (p Port) String() string { return fmt.Sprintf("%d:%d/%s", p.Published, p.Target, p.Protocol) }

// ServiceVolume is a mount of a service: a named volume, a bind mount of a host path, or an
// anonymous volume; "NAME:/path[:ro]", "./dir:/path[:ro]", "/path", or the long form.
type ServiceVolume struct {
	// Type is "volume" (named, or anonymous when Source is empty) or "bind".
	Type     string `yaml:"type"`
	Source   string `yaml:"source,omitempty"`
	Target   string `yaml:"target"`
	ReadOnly bool   `yaml:"read_only,omitempty"`
}

// UnmarshalYAML reads a mount in the short or the long form.
func (v *ServiceVolume) UnmarshalYAML(node *yaml.Node) error {
	if node.Kind == yaml.MappingNode {
		type plain ServiceVolume
		if err := strict(node, (*plain)(v), "volumes"); err != nil {
			return err
		}
		if v.Type != "volume" && v.Type != "bind" {
			return lineError(node, "volumes: type %q: want volume or bind (tmpfs and the others are not supported here)", v.Type)
		}
		if v.Target == "" {
			return lineError(node, "volumes: a mount needs a target")
		}
		return nil
	}
	parts := strings.Split(node.Value, ":")
	if n := len(parts); n > 1 && (parts[n-1] == "ro" || parts[n-1] == "rw") {
		v.ReadOnly = parts[n-1] == "ro"
		parts = parts[:n-1]
	}
	switch len(parts) {
	case 1:
		v.Type, v.Target = "volume", parts[0]
	case 2:
		v.Source, v.Target = parts[0], parts[1]
		v.Type = "volume"
		if isPath(v.Source) {
			v.Type = "bind"
		}
	default:
		return lineError(node, "volumes: %q: want NAME:/path, ./host/path:/path or /path, with :ro to mount it read-only", node.Value)
	}
	return nil
}

// isPath reports whether a volume's source is a host path rather than a volume's name.
func isPath(source string) bool {
	return strings.HasPrefix(source, "/") || strings.HasPrefix(source, ".") || strings.HasPrefix(source, "~")
}

// ServiceNetworks are the networks a service joins, with its aliases on each: a list of
// names, or a mapping of names to {aliases}.
type ServiceNetworks map[string]*ServiceNetwork

// ServiceNetwork is a service's place on one network.
type ServiceNetwork struct {
	Aliases []string `yaml:"aliases,omitempty"`
}

// UnmarshalYAML reads networks as a list or a mapping.
func (n *ServiceNetworks) UnmarshalYAML(node *yaml.Node) error {
	*n = ServiceNetworks{}
	switch node.Kind {
	case yaml.SequenceNode:
		var names []string
		if err := node.Decode(&names); err != nil {
			return err
		}
		for _, name := range names {
			(*n)[name] = &ServiceNetwork{}
		}
		return nil
	case yaml.MappingNode:
		for i := 0; i+1 < len(node.Content); i += 2 {
			k, v := node.Content[i], node.Content[i+1]
			sn := &ServiceNetwork{}
			if v.Tag != "!!null" {
				if err := strict(v, sn, "networks."+k.Value); err != nil {
					return err
				}
			}
			(*n)[k.Value] = sn
		}
		return nil
	}
	return lineError(node, "networks: want a list of names or a mapping")
}

// The conditions depends_on may wait for.
const (
	ServiceStarted               = "service_started"
	ServiceHealthy               = "service_healthy"
	ServiceCompletedSuccessfully = "service_completed_successfully"
)

// DependsOn are the services a service waits for, and what it waits for: a list of names
// (each started), or a mapping of names to {condition}.
type DependsOn map[string]*Dependency

// Dependency is what a service waits for of another.
type Dependency struct {
	Condition string `yaml:"condition"`
}

// UnmarshalYAML reads depends_on as a list or a mapping.
func (d *DependsOn) UnmarshalYAML(node *yaml.Node) error {
	*d = DependsOn{}
	switch node.Kind {
	case yaml.SequenceNode:
		var names []string
		if err := node.Decode(&names); err != nil {
			return err
		}
		for _, name := range names {
			(*d)[name] = &Dependency{Condition: ServiceStarted}
		}
		return nil
	case yaml.MappingNode:
		for i := 0; i+1 < len(node.Content); i += 2 {
			k, v := node.Content[i], node.Content[i+1]
			dep := &Dependency{}
			if err := strict(v, dep, "depends_on."+k.Value); err != nil {
				return err
			}
			switch dep.Condition {
			case "":
				dep.Condition = ServiceStarted
			case ServiceStarted, ServiceHealthy, ServiceCompletedSuccessfully:
			default:
				return lineError(v, "depends_on.%s: condition %q: want %s, %s or %s", k.Value, dep.Condition, ServiceStarted, ServiceHealthy, ServiceCompletedSuccessfully)
			}
			(*d)[k.Value] = dep
		}
		return nil
	}
	return lineError(node, "depends_on: want a list of services or a mapping")
}

// Healthcheck is a service's health check; disable: true (or test: ["NONE"]) turns the
// image's off.
type Healthcheck struct {
	Test        Command   `yaml:"test,omitempty"`
	Interval    *Duration `yaml:"interval,omitempty"`
	Timeout     *Duration `yaml:"timeout,omitempty"`
	StartPeriod *Duration `yaml:"start_period,omitempty"`
	Retries     *int      `yaml:"retries,omitempty"`
	Disable     bool      `yaml:"disable,omitempty"`
}

// UnmarshalYAML reads a health check; a test given as a string runs with the shell.
func (h *Healthcheck) UnmarshalYAML(node *yaml.Node) error {
	type plain Healthcheck
	if err := strict(node, (*plain)(h), "healthcheck"); err != nil {
		return err
	}
	for i := 0; i+1 < len(node.Content); i += 2 {
		if k, v := node.Content[i], node.Content[i+1]; k.Value == "test" && v.Kind == yaml.ScalarNode {
			h.Test = Command{"CMD-SHELL", v.Value}
		}
	}
	if len(h.Test) > 0 {
		switch h.Test[0] {
		case "NONE", "CMD", "CMD-SHELL":
		default:
			return lineError(node, "healthcheck: test %q: a list starts with CMD, CMD-SHELL or NONE", []string(h.Test))
		}
	}
	if h.Retries != nil && *h.Retries < 0 {
		return lineError(node, "healthcheck: retries %d: want 0 or more", *h.Retries)
	}
	return nil
}

// Duration is a compose duration: "30s", "1m30s", "500ms".
type Duration time.Duration

// UnmarshalYAML reads a duration, refusing a negative one.
func (d *Duration) UnmarshalYAML(node *yaml.Node) error {
	v, err := time.ParseDuration(node.Value)
	if err != nil || v < 0 {
		return lineError(node, "duration %q: want one such as 30s, 500ms or 1m30s", node.Value)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes the duration as Go does ("1m30s").
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// ByteSize is a memory size: a number of bytes, or "64m", "1g".
type ByteSize string

// CPUs is a number of CPUs, 0.5 for half of one.
type CPUs string

// NetworkConfig is a top-level network: a bridge network of the project, or an external
// one that must exist.
type NetworkConfig struct {
	Name     string            `yaml:"name,omitempty"`
	Driver   string            `yaml:"driver,omitempty"`
	Internal bool              `yaml:"internal,omitempty"`
	External bool              `yaml:"external,omitempty"`
	IPAM     *IPAM             `yaml:"ipam,omitempty"`
	Labels   map[string]string `yaml:"labels,omitempty"`
}

// UnmarshalYAML reads a network's configuration (null means the defaults).
func (n *NetworkConfig) UnmarshalYAML(node *yaml.Node) error {
	type plain NetworkConfig
	if err := strict(node, (*plain)(n), "networks"); err != nil {
		return err
	}
	if n.Driver != "" && n.Driver != "bridge" {
		return lineError(node, "networks: driver %q: only bridge networks are made here", n.Driver)
	}
	return nil
}

// IPAM is a network's address range.
type IPAM struct {
	Driver string       `yaml:"driver,omitempty"`
	Config []IPAMConfig `yaml:"config,omitempty"`
}

// UnmarshalYAML reads ipam strictly.
func (i *IPAM) UnmarshalYAML(node *yaml.Node) error {
	type plain IPAM
	return strict(node, (*plain)(i), "ipam")
}

// IPAMConfig is one range.
type IPAMConfig struct {
	Subnet string `yaml:"subnet"`
}

// UnmarshalYAML reads a range strictly.
func (c *IPAMConfig) UnmarshalYAML(node *yaml.Node) error {
	type plain IPAMConfig
	return strict(node, (*plain)(c), "ipam.config")
}

// VolumeConfig is a top-level volume: the project's own, or an external one that must
// exist.
type VolumeConfig struct {
	Name     string            `yaml:"name,omitempty"`
	Driver   string            `yaml:"driver,omitempty"`
	External bool              `yaml:"external,omitempty"`
	Labels   map[string]string `yaml:"labels,omitempty"`
}

// UnmarshalYAML reads a volume's configuration strictly.
func (v *VolumeConfig) UnmarshalYAML(node *yaml.Node) error {
	type plain VolumeConfig
	if err := strict(node, (*plain)(v), "volumes"); err != nil {
		return err
	}
	if v.Driver != "" && v.Driver != "local" {
		return lineError(node, "volumes: driver %q: only local volumes are made here", v.Driver)
	}
	return nil
}

// leftOut are keys of the Compose specification this engine does not implement: naming
// them gives a clearer error than "unknown".
var leftOut = map[string]bool{
	"deploy": true, "secrets": true, "configs": true, "logging": true, "extra_hosts": true,
	"dns": true, "dns_search": true, "expose": true, "links": true, "external_links": true,
	"extends": true, "profiles": true, "platform": true, "pull_policy": true, "tmpfs": true,
	"init": true, "ulimits": true, "pid": true, "ipc": true, "devices": true, "sysctls": true,
	"security_opt": true, "shm_size": true, "stop_signal": true, "mac_address": true,
	"domainname": true, "volumes_from": true, "include": true, "develop": true,
	"attach": true, "scale": true, "cgroup_parent": true, "cpu_shares": true, "cpuset": true,
	"mem_reservation": true, "memswap_limit": true, "oom_score_adj": true, "userns_mode": true,
}

// strict decodes the mapping node into the struct v points to, key by key, refusing a key
// v has no field for with an error that names it and its line. Keys starting with "x-"
// are extensions, which the specification says to ignore.
func strict(node *yaml.Node, v any, where string) error {
	if node.Kind == yaml.ScalarNode && node.Tag == "!!null" {
		return nil
	}
	if node.Kind != yaml.MappingNode {
		return lineError(node, "%s: want a mapping (key: value)", where)
	}
	rv := reflect.ValueOf(v).Elem()
	fields := map[string]int{}
	for i := range rv.NumField() {
		name, _, _ := strings.Cut(rv.Type().Field(i).Tag.Get("yaml"), ",")
		if name != "" && name != "-" {
			fields[name] = i
		}
	}
	for i := 0; i+1 < len(node.Content); i += 2 {
		k, val := node.Content[i], node.Content[i+1]
		if strings.HasPrefix(k.Value, "x-") {
			continue
		}
		idx, ok := fields[k.Value]
		switch {
		case !ok && leftOut[k.Value]:
			return lineError(k, "%s: %q is part of the Compose specification but not supported by this engine (see the README's list of what is left out)", where, k.Value)
		case !ok:
			return lineError(k, "%s: unknown key %q", where, k.Value)
		}
		if err := val.Decode(rv.Field(idx).Addr().Interface()); err != nil {
			var le *LineError
			if errors.As(err, &le) {
				return err
			}
			return lineError(val, "%s.%s: %v", where, k.Value, yamlReason(err))
		}
	}
	return nil
}

// yamlReason is a decoding error of the YAML library without its own "line N:" prefix,
// which lineError adds.
func yamlReason(err error) string {
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg := te.Errors[0]
		if _, rest, ok := strings.Cut(msg, ": "); ok && strings.HasPrefix(msg, "line ") {
			return rest
		}
		return msg
	}
	return err.Error()
}

// LineError is a mistake in a compose file, at a line of it.
type LineError struct {
	Line int
	Msg  string
}

func (e *LineError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Msg) }

func lineError(node *yaml.Node, format string, args ...any) error {
	return &LineError{Line: node.Line, Msg: fmt.Sprintf(format, args...)}
}

// splitWords splits a command line into words as a shell would, without expanding
// anything: single quotes keep everything, double quotes keep all but \" and \\, a
// backslash outside quotes escapes the next character.
func splitWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case c == '\'':
			end := strings.IndexByte(s[i+1:], '\'')
			if end < 0 {
				return nil, fmt.Errorf("%q: unterminated ' quote", s)
			}
			cur.WriteString(s[i+1 : i+1+end])
			i += end + 1
			inWord = true
		case c == '"':
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && (s[i+1] == '"' || s[i+1] == '\\') {
					i++
				}
				cur.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, fmt.Errorf("%q: unterminated \" quote", s)
			}
			inWord = true
		case c == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
			inWord = true
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}
