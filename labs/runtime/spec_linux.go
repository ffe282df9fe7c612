package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// ErrUnsupported marks a configuration field this runtime does not implement. Such a field
// fails the command with an error naming it; it is never silently ignored, because a
// container started without the isolation its config asked for is worse than none.
var ErrUnsupported = errors.New("not supported by this runtime")

// LoadSpec reads BUNDLE/config.json.
//
// Equivalent to: `cat BUNDLE/config.json`.
func LoadSpec(bundle string) (*specs.Spec, error) {
	data, err := readConfig(bundle)
	if err != nil {
		return nil, err
	}
	return parseConfig(bundle, data)
}

func readConfig(bundle string) ([]byte, error) {
	data, err := os.ReadFile(filepath.Join(bundle, "config.json"))
	if err != nil {
		return nil, fmt.Errorf("read the bundle's config: %w", err)
	}
	return data, nil
}

func parseConfig(bundle string, data []byte) (*specs.Spec, error) {
	var spec specs.Spec
	if err := unmarshalSparse(data, &spec); err != nil {
		return nil, fmt.Errorf("parse %s: %w", filepath.Join(bundle, "config.json"), err)
	}
	return &spec, nil
}

// earlyConfig reads only what nsenter's plan needs from a config: the namespaces, the ID
// maps and the time offsets, and what decides between the C init and the Go one (see
// cinitCovers): the terminal, the hooks and the seccomp actions. Decoding these few types
// takes less time than the whole config, even decoded sparsely (first decode in a fresh
// process: 1.0 against 1.8 ms for runc's default config, 1.1 against 3.2 ms with Docker's
// seccomp profile), so `create` can send the plan sooner and decode the rest while the
// init starts.
func earlyConfig(bundle string, data []byte) (*specs.Spec, error) {
	var partial struct {
		Process *struct{ Terminal bool }
		Hooks   *specs.Hooks
		Linux   *struct {
			Namespaces               []specs.LinuxNamespace
			UIDMappings, GIDMappings []specs.LinuxIDMapping
			TimeOffsets              map[string]specs.LinuxTimeOffset
			Seccomp                  *struct {
				DefaultAction specs.LinuxSeccompAction
				Syscalls      []struct{ Action specs.LinuxSeccompAction }
			}
		}
	}
	if err := json.Unmarshal(data, &partial); err != nil {
		return nil, fmt.Errorf("parse %s: %w", filepath.Join(bundle, "config.json"), err)
	}
	if partial.Linux == nil {
		return nil, errNoLinux
	}
	l := partial.Linux
	spec := &specs.Spec{Hooks: partial.Hooks, Linux: &specs.Linux{Namespaces: l.Namespaces, UIDMappings: l.UIDMappings,
		GIDMappings: l.GIDMappings, TimeOffsets: l.TimeOffsets}}
	if partial.Process != nil {
		spec.Process = &specs.Process{Terminal: partial.Process.Terminal}
	}
	if s := l.Seccomp; s != nil {
		spec.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: s.DefaultAction}
		for _, rule := range s.Syscalls {
			spec.Linux.Seccomp.Syscalls = append(spec.Linux.Seccomp.Syscalls, specs.LinuxSyscall{Action: rule.Action})
		}
	}
	if err := validateNamespaces(spec); err != nil {
		return nil, err
	}
	return spec, nil
}

// namespaceFlags maps the OCI namespace types to their CLONE_NEW* flags and /proc/PID/ns
// file names.
var namespaceFlags = map[specs.LinuxNamespaceType]struct {
	flag int
	file string
}{
	specs.UserNamespace:    {unix.CLONE_NEWUSER, "user"},
	specs.MountNamespace:   {unix.CLONE_NEWNS, "mnt"},
	specs.PIDNamespace:     {unix.CLONE_NEWPID, "pid"},
	specs.NetworkNamespace: {unix.CLONE_NEWNET, "net"},
	specs.IPCNamespace:     {unix.CLONE_NEWIPC, "ipc"},
	specs.UTSNamespace:     {unix.CLONE_NEWUTS, "uts"},
	specs.CgroupNamespace:  {unix.CLONE_NEWCGROUP, "cgroup"},
	specs.TimeNamespace:    {unix.CLONE_NEWTIME, "time"},
}

// namespaceOrder is the order namespaces are joined in: the user namespace first, because it
// owns the others and joining it grants the capabilities to join them; the mount namespace
// last but one, because paths of later namespace files could be hidden by it (they are all
// opened first anyway); time, which only applies to children, at the end.
var namespaceOrder = []specs.LinuxNamespaceType{
	specs.UserNamespace, specs.IPCNamespace, specs.UTSNamespace, specs.NetworkNamespace,
	specs.PIDNamespace, specs.CgroupNamespace, specs.MountNamespace, specs.TimeNamespace,
}

// namespaceOf returns the config's entry for typ, if there is one.
func namespaceOf(spec *specs.Spec, typ specs.LinuxNamespaceType) (specs.LinuxNamespace, bool) {
	if spec.Linux != nil {
		for _, ns := range spec.Linux.Namespaces {
			if ns.Type == typ {
				return ns, true
			}
		}
	}
	return specs.LinuxNamespace{}, false
}

// newNamespace reports whether the container gets a new namespace of type typ.
func newNamespace(spec *specs.Spec, typ specs.LinuxNamespaceType) bool {
	ns, ok := namespaceOf(spec, typ)
	return ok && ns.Path == ""
}

var errNoLinux = errors.New("linux is required: this runtime runs Linux containers")

// Validate checks a container's configuration before anything is created, so that a bad or
// unsupported field fails `create` with a message naming it and leaves nothing behind.
func Validate(spec *specs.Spec) error {
	if !strings.HasPrefix(spec.Version, "1.") {
		return fmt.Errorf("ociVersion %q: this runtime implements version 1 of the runtime specification", spec.Version)
	}
	if spec.Root == nil || spec.Root.Path == "" {
		return errors.New("root.path is required: the container's root file system")
	}
	if spec.Process == nil {
		return errors.New("process is required: what to run in the container")
	}
	if spec.Linux == nil {
		return errNoLinux
	}
	for field, set := range map[string]bool{
		"solaris": spec.Solaris != nil, "windows": spec.Windows != nil, "vm": spec.VM != nil,
		"zos": spec.ZOS != nil, "freebsd": spec.FreeBSD != nil,
		"linux.mountLabel (SELinux)": spec.Linux.MountLabel != "" && selinuxEnabled(),
		"linux.intelRdt":             spec.Linux.IntelRdt != nil,
		"linux.memoryPolicy":         spec.Linux.MemoryPolicy != nil,
		"linux.netDevices":           len(spec.Linux.NetDevices) > 0,
		"linux.personality":          spec.Linux.Personality != nil,
	} {
		if set {
			return fmt.Errorf("%w: %s", ErrUnsupported, field)
		}
	}
	if err := validateNamespaces(spec); err != nil {
		return err
	}
	if err := ValidateProcess(spec.Process); err != nil {
		return err
	}
	for _, m := range spec.Mounts {
		if err := validateMount(m); err != nil {
			return err
		}
	}
	if err := validateHooks(spec.Hooks); err != nil {
		return err
	}
	for _, d := range spec.Linux.Devices {
		if !filepath.IsAbs(d.Path) {
			return fmt.Errorf("linux.devices: path %q is not absolute", d.Path)
		}
		if _, err := deviceType(d.Type); err != nil {
			return err
		}
	}
	for key := range spec.Linux.Sysctl {
		if err := checkSysctl(spec, key); err != nil {
			return err
		}
	}
	if spec.Linux.Seccomp != nil {
		if err := validateSeccomp(spec.Linux.Seccomp); err != nil {
			return err
		}
	}
	if p := spec.Linux.RootfsPropagation; p != "" {
		if _, ok := propagationFlags[p]; !ok {
			return fmt.Errorf("linux.rootfsPropagation %q: want shared, slave, private or unbindable (or their r-variants)", p)
		}
	}
	return nil
}

// checkNamespacePath makes sure the file a namespace entry names is a namespace of that
// entry's type, so that a config that names the wrong file fails here with its name rather
// than joining the wrong namespace (setns(2) with no type given joins whatever the file
// is). The container may join another's mount namespace (a pod's, say), but never the
// runtime's own: that is the host's, and the container's mounts would land there.
//
// Equivalent to: `lsns --type TYPE` listing the namespace of `readlink PATH`.
func checkNamespacePath(ns specs.LinuxNamespace) error {
	if !filepath.IsAbs(ns.Path) {
		return fmt.Errorf("linux.namespaces: path %q of the %s namespace is not absolute", ns.Path, ns.Type)
	}
	fd, err := unix.Open(ns.Path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("linux.namespaces: path %s of the %s namespace: %w", ns.Path, ns.Type, err)
	}
	defer unix.Close(fd)
	kind, err := unix.IoctlRetInt(fd, unix.NS_GET_NSTYPE)
	if err != nil {
		return fmt.Errorf("linux.namespaces: path %s of the %s namespace is not a namespace file: %w", ns.Path, ns.Type, err)
	}
	if want := namespaceFlags[ns.Type].flag; kind != want {
		got := fmt.Sprintf("%#x", kind)
		for typ, f := range namespaceFlags {
			if f.flag == kind {
				got = string(typ)
			}
		}
		return fmt.Errorf("linux.namespaces: path %s of the %s namespace is a %s namespace", ns.Path, ns.Type, got)
	}
	if ns.Type == specs.MountNamespace {
		var theirs, ours unix.Stat_t
		if unix.Fstat(fd, &theirs) == nil && unix.Stat("/proc/self/ns/mnt", &ours) == nil && theirs.Ino == ours.Ino && theirs.Dev == ours.Dev {
			return fmt.Errorf("%w: linux.namespaces: path %s is the runtime's own mount namespace (its mounts would be the host's)", ErrUnsupported, ns.Path)
		}
	}
	return nil
}

// selinuxEnabled reports whether the host runs SELinux: selinuxfs is mounted. Without it a
// mount label has nothing to be checked against and changes nothing, so a config that
// carries one (as Docker's does on any host) is accepted, as runc and crun accept it; with
// it, the label would be a promise this runtime does not keep, so it is refused.
//
// Equivalent to: `stat -f -c %T /sys/fs/selinux` printing selinuxfs.
func selinuxEnabled() bool {
	var st unix.Statfs_t
	return unix.Statfs("/sys/fs/selinux", &st) == nil && uint32(st.Type) == unix.SELINUX_MAGIC
}

func validateNamespaces(spec *specs.Spec) error {
	seen := map[specs.LinuxNamespaceType]bool{}
	for _, ns := range spec.Linux.Namespaces {
		if _, ok := namespaceFlags[ns.Type]; !ok {
			return fmt.Errorf("linux.namespaces: unknown type %q", ns.Type)
		}
		if seen[ns.Type] {
			return fmt.Errorf("linux.namespaces: %s is listed twice", ns.Type)
		}
		seen[ns.Type] = true
		if ns.Path != "" {
			if err := checkNamespacePath(ns); err != nil {
				return err
			}
		}
	}
	if _, ok := namespaceOf(spec, specs.MountNamespace); !ok {
		// runc would mount the container's root, /proc and /dev on the host and leave them
		// there; crun makes a mount namespace anyway.
		return fmt.Errorf("%w: a container without a mount namespace (its mounts would be the host's)", ErrUnsupported)
	}
	maps := len(spec.Linux.UIDMappings) > 0 || len(spec.Linux.GIDMappings) > 0
	switch {
	case newNamespace(spec, specs.UserNamespace) && (len(spec.Linux.UIDMappings) == 0 || len(spec.Linux.GIDMappings) == 0):
		return errors.New("linux.uidMappings and gidMappings are required with a new user namespace")
	case maps && !newNamespace(spec, specs.UserNamespace):
		return errors.New("linux.uidMappings and gidMappings need a new user namespace in linux.namespaces")
	}
	if len(spec.Linux.TimeOffsets) > 0 && !newNamespace(spec, specs.TimeNamespace) {
		return errors.New("linux.timeOffsets need a new time namespace in linux.namespaces")
	}
	for clock := range spec.Linux.TimeOffsets {
		if clock != "monotonic" && clock != "boottime" {
			return fmt.Errorf("linux.timeOffsets: unknown clock %q: want monotonic or boottime", clock)
		}
	}
	return nil
}

// ValidateProcess checks the process part of a config, or the process of `exec --process`.
func ValidateProcess(p *specs.Process) error {
	if len(p.Args) == 0 {
		return errors.New("process.args is empty: there is nothing to run")
	}
	if p.Cwd != "" && !filepath.IsAbs(p.Cwd) {
		return fmt.Errorf("process.cwd %q is not absolute", p.Cwd)
	}
	if err := validateUser(p.User); err != nil {
		return err
	}
	for field, set := range map[string]bool{
		"process.apparmorProfile (AppArmor)": p.ApparmorProfile != "",
		"process.selinuxLabel (SELinux)":     p.SelinuxLabel != "",
		"process.scheduler":                  p.Scheduler != nil,
		"process.execCPUAffinity":            p.ExecCPUAffinity != nil,
	} {
		if set {
			return fmt.Errorf("%w: %s", ErrUnsupported, field)
		}
	}
	if c := p.Capabilities; c != nil {
		for set, names := range map[string][]string{"bounding": c.Bounding, "effective": c.Effective,
			"inheritable": c.Inheritable, "permitted": c.Permitted, "ambient": c.Ambient} {
			if _, err := capabilityMask(names); err != nil {
				return fmt.Errorf("process.capabilities.%s: %w", set, err)
			}
		}
	}
	for _, rl := range p.Rlimits {
		if _, ok := rlimitResources[rl.Type]; !ok {
			return fmt.Errorf("process.rlimits: unknown type %q", rl.Type)
		}
		if rl.Soft > rl.Hard {
			return fmt.Errorf("process.rlimits: %s soft limit %d is above the hard limit %d", rl.Type, rl.Soft, rl.Hard)
		}
	}
	if p.IOPriority != nil {
		if _, err := ioPriority(p.IOPriority); err != nil {
			return err
		}
	}
	return nil
}

func validateMount(m specs.Mount) error {
	if !filepath.IsAbs(m.Destination) {
		return fmt.Errorf("mounts: destination %q is not absolute", m.Destination)
	}
	if len(m.UIDMappings) > 0 || len(m.GIDMappings) > 0 {
		return fmt.Errorf("%w: mounts: idmapped mount of %s", ErrUnsupported, m.Destination)
	}
	_, err := parseMountOptions(m.Options)
	if err != nil {
		return fmt.Errorf("mounts: %s: %w", m.Destination, err)
	}
	return nil
}

func validateHooks(h *specs.Hooks) error {
	if h == nil {
		return nil
	}
	for _, list := range [][]specs.Hook{h.Prestart, h.CreateRuntime, h.CreateContainer, h.StartContainer, h.Poststart, h.Poststop} {
		for _, hook := range list {
			if !filepath.IsAbs(hook.Path) {
				return fmt.Errorf("hooks: path %q is not absolute", hook.Path)
			}
			if hook.Timeout != nil && *hook.Timeout <= 0 {
				return fmt.Errorf("hooks: %s: timeout %d must be positive", hook.Path, *hook.Timeout)
			}
		}
	}
	return nil
}

// rlimitResources maps the OCI rlimit names to setrlimit(2)'s resources.
var rlimitResources = map[string]int{
	"RLIMIT_AS": unix.RLIMIT_AS, "RLIMIT_CORE": unix.RLIMIT_CORE, "RLIMIT_CPU": unix.RLIMIT_CPU,
	"RLIMIT_DATA": unix.RLIMIT_DATA, "RLIMIT_FSIZE": unix.RLIMIT_FSIZE, "RLIMIT_LOCKS": unix.RLIMIT_LOCKS,
	"RLIMIT_MEMLOCK": unix.RLIMIT_MEMLOCK, "RLIMIT_MSGQUEUE": unix.RLIMIT_MSGQUEUE,
	"RLIMIT_NICE": unix.RLIMIT_NICE, "RLIMIT_NOFILE": unix.RLIMIT_NOFILE, "RLIMIT_NPROC": unix.RLIMIT_NPROC,
	"RLIMIT_RSS": unix.RLIMIT_RSS, "RLIMIT_RTPRIO": unix.RLIMIT_RTPRIO, "RLIMIT_RTTIME": unix.RLIMIT_RTTIME,
	"RLIMIT_SIGPENDING": unix.RLIMIT_SIGPENDING, "RLIMIT_STACK": unix.RLIMIT_STACK,
}

// ioPriority encodes an OCI IO priority as ioprio_set(2) takes it: the class in the top
// bits, the level (0-7) below.
func ioPriority(p *specs.LinuxIOPriority) (int, error) {
	classes := map[specs.IOPriorityClass]int{specs.IOPRIO_CLASS_RT: 1, specs.IOPRIO_CLASS_BE: 2, specs.IOPRIO_CLASS_IDLE: 3}
	class, ok := classes[p.Class]
	if !ok {
		return 0, fmt.Errorf("process.ioPriority: unknown class %q", p.Class)
	}
	if p.Priority < 0 || p.Priority > 7 {
		return 0, fmt.Errorf("process.ioPriority: priority %d out of range: want 0 to 7", p.Priority)
	}
	return class<<13 | p.Priority, nil
}

// checkSysctl allows only the sysctls that are namespaced, and only when the container has
// the namespace that holds them: any other write to /proc/sys would change the host.
func checkSysctl(spec *specs.Spec, key string) error {
	ipc := map[string]bool{"kernel.msgmax": true, "kernel.msgmnb": true, "kernel.msgmni": true,
		"kernel.sem": true, "kernel.shmall": true, "kernel.shmmax": true, "kernel.shmmni": true,
		"kernel.shm_rmid_forced": true}
	var needs specs.LinuxNamespaceType
	switch {
	case ipc[key] || strings.HasPrefix(key, "fs.mqueue."):
		needs = specs.IPCNamespace
	case strings.HasPrefix(key, "net."):
		needs = specs.NetworkNamespace
	case key == "kernel.hostname" || key == "kernel.domainname":
		needs = specs.UTSNamespace
	default:
		return fmt.Errorf("linux.sysctl %q is not namespaced: setting it would change the host", key)
	}
	if _, ok := namespaceOf(spec, needs); !ok {
		return fmt.Errorf("linux.sysctl %q needs the container to have its own %s namespace", key, needs)
	}
	return nil
}

func deviceType(t string) (uint32, error) {
	switch t {
	case "c", "u":
		return unix.S_IFCHR, nil
	case "b":
		return unix.S_IFBLK, nil
	case "p":
		return unix.S_IFIFO, nil
	}
	return 0, fmt.Errorf("linux.devices: unknown type %q: want c, u, b or p", t)
}

// seccompActions are the OCI actions this runtime can put in a filter.
var seccompActions = map[specs.LinuxSeccompAction]bool{
	specs.ActKill: true, specs.ActKillProcess: true, specs.ActKillThread: true, specs.ActTrap: true,
	specs.ActErrno: true, specs.ActTrace: true, specs.ActAllow: true, specs.ActLog: true,
	specs.ActNotify: true,
}

// seccompOperators are the OCI argument comparisons.
var seccompOperators = map[specs.LinuxSeccompOperator]bool{
	specs.OpNotEqual: true, specs.OpLessThan: true, specs.OpLessEqual: true, specs.OpEqualTo: true,
	specs.OpGreaterEqual: true, specs.OpGreaterThan: true, specs.OpMaskedEqual: true,
}

func validateSeccomp(s *specs.LinuxSeccomp) error {
	if err := validateSeccompNotify(s); err != nil {
		return err
	}
	if !seccompActions[s.DefaultAction] {
		return fmt.Errorf("linux.seccomp.defaultAction %q: %w", s.DefaultAction, seccompActionError(s.DefaultAction))
	}
	for _, f := range s.Flags {
		if f != specs.LinuxSeccompFlagLog && f != specs.LinuxSeccompFlagSpecAllow {
			return fmt.Errorf("%w: linux.seccomp.flags %q", ErrUnsupported, f)
		}
	}
	for _, rule := range s.Syscalls {
		if !seccompActions[rule.Action] {
			return fmt.Errorf("linux.seccomp.syscalls %v: action %q: %w", rule.Names, rule.Action, seccompActionError(rule.Action))
		}
		if len(rule.Args) > 6 {
			return fmt.Errorf("linux.seccomp.syscalls %v: %d argument conditions, but a system call has 6 arguments", rule.Names, len(rule.Args))
		}
		for _, a := range rule.Args {
			if !seccompOperators[a.Op] || a.Index > 5 {
				return fmt.Errorf("linux.seccomp.syscalls %v: bad argument condition %+v", rule.Names, a)
			}
		}
	}
	return nil
}

func seccompActionError(a specs.LinuxSeccompAction) error {
	return errors.New("unknown seccomp action")
}
