package runtime

import (
	"encoding/binary"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"containerlabs/labs/cgroup"
	"containerlabs/labs/namespace"
)

// The container's init has two implementations. The Go one (init_linux.go) is the one to
// read: every step of a container's set-up in order, each explained. It costs a start of the
// Go runtime in the container's first process, about 10 ms here, which is a quarter of a
// whole `run`. The C one (nsenter/cinit.c) does the same steps without starting Go: nsenter's
// constructor, already running in the container's namespaces, goes straight on into it.
//
// The C init decides nothing. This file turns the init's configuration into a program, a
// list of steps with every flag worked out, every path cleaned and every device listed, in
// the order of initContainer, and the C side carries it out. runc splits the same way
// (nsexec in C for the namespaces, the rest in Go after a second start); crun is C
// throughout.
//
// The C init covers what the runtime's callers (Docker, containerd's CRI, 08-engine) ask of
// a container without a terminal, and the Go init keeps the rest: a user namespace
// (rootless too), --no-pivot, a terminal, hooks that run inside the container, and a
// seccomp profile with a listener. A process that joins a running
// container (exec) needs only the init's last steps (prepareProcess), which the C init
// does as well, without a terminal. EnvGoInit sends every container and every exec'd
// process through the Go init, to compare the two.

// EnvGoInit names the environment variable that, set to anything, makes the runtime start
// every container and exec'd process with the Go init instead of the C one.
const EnvGoInit = "LABS_GO_INIT"

// cinitCovers says whether the C init can set up a container with this config (the early
// part that createPlan reads, see earlyConfig) and these options.
func cinitCovers(early *specs.Spec, opts CreateOptions) bool {
	if opts.NoPivot || newNamespace(early, specs.UserNamespace) {
		return false
	}
	// The runtime's own hooks (prestart, createRuntime) it runs while the init waits, as
	// with the Go init; the hooks that run inside the container need the Go init.
	if h := early.Hooks; h != nil && len(h.CreateContainer)+len(h.StartContainer) > 0 {
		return false
	}
	// (A console, which Run always prepares, matters only with a terminal.)
	return cinitCoversProcess(early.Process != nil && early.Process.Terminal, early.Linux.Seccomp)
}

// cinitCoversExec says whether the C init can start process p in the running container
// whose config is spec.
func cinitCoversExec(p *specs.Process, spec *specs.Spec) bool {
	return cinitCoversProcess(p.Terminal, spec.Linux.Seccomp)
}

// cinitCoversProcess is what a container's init and an exec'd process share: the Go init
// keeps a terminal, a seccomp listener, a runtime in a user namespace of its own (rootless),
// and everything when EnvGoInit is set.
func cinitCoversProcess(terminal bool, seccomp *specs.LinuxSeccomp) bool {
	if os.Getenv(EnvGoInit) != "" || terminal || namespace.InUserNamespace() {
		return false
	}
	return seccomp == nil || !hasNotifyRules(seccomp)
}

// cinitProgram is the C init's program, encoded as cinit.c's readProgram reads it: each
// step a little-endian count of fields, each field a length and its bytes.
type cinitProgram struct{ buf []byte }

func (p *cinitProgram) step(fields ...string) {
	p.buf = binary.LittleEndian.AppendUint32(p.buf, uint32(len(fields)))
	for _, f := range fields {
		p.buf = binary.LittleEndian.AppendUint32(p.buf, uint32(len(f)))
		p.buf = append(p.buf, f...)
	}
}

// bytes is the program with its size in front.
func (p *cinitProgram) bytes() []byte {
	return append(binary.LittleEndian.AppendUint32(nil, uint32(len(p.buf))), p.buf...)
}

func hexNum[T ~uint64 | ~uintptr | ~uint32 | ~uint | ~int](v T) string {
	return fmt.Sprintf("%#x", uint64(v))
}

// cinitPlan is initContainer's set-up as a program for the C init, step for step.
func cinitPlan(cfg *initConfig) (*cinitProgram, error) {
	spec := *cfg.Spec
	// holdDevWritable changes the mounts it is given; they are the runtime's own config.
	spec.Mounts = slices.Clone(spec.Mounts)
	p := &cinitProgram{}
	if cfg.NewCgroupNS {
		p.step("cgroupns")
	}
	devFlags, readonlyDev := holdDevWritable(&spec)
	propagation := rootPropagation(&spec)
	p.step("propagate", "/", hexNum(propagation))
	if propagation&(unix.MS_SHARED|unix.MS_UNBINDABLE) != 0 {
		parent, err := mountHolding(cfg.Rootfs)
		if err != nil {
			return nil, err
		}
		p.step("propagate", parent, hexNum(uintptr(unix.MS_PRIVATE)))
	}
	p.step("root", cfg.Rootfs)
	p.step(append([]string{"procfiles"}, procFiles...)...)
	for _, m := range spec.Mounts {
		if err := p.mount(cfg, m); err != nil {
			return nil, err
		}
	}
	if !devIsBindMounted(&spec) {
		for _, d := range containerDevices(&spec) {
			if err := p.device(d); err != nil {
				return nil, err
			}
		}
		for _, name := range slices.Sorted(maps.Keys(devLinks)) {
			p.step("devlink", name, devLinks[name])
		}
	}
	if cfg.Hooks {
		p.step("hooks")
	}
	p.step("pivot", hexNum(propagationFlags[spec.Linux.RootfsPropagation]))
	if readonlyDev {
		p.step("remount", "/dev", hexNum(devFlags|unix.MS_RDONLY))
	}
	if spec.Root.Readonly {
		p.step("remount", "/", hexNum(uintptr(unix.MS_RDONLY)))
	}
	if newNamespace(&spec, specs.UTSNamespace) {
		if spec.Hostname != "" {
			p.step("hostname", spec.Hostname)
		}
		if spec.Domainname != "" {
			p.step("domainname", spec.Domainname)
		}
	}
	for _, key := range slices.Sorted(maps.Keys(spec.Linux.Sysctl)) {
		p.step("sysctl", key, sysctlPath(key), spec.Linux.Sysctl[key])
	}
	for _, path := range spec.Linux.ReadonlyPaths {
		p.step("readonly", path)
	}
	for _, path := range spec.Linux.MaskedPaths {
		p.step("mask", path)
	}
	if !cfg.NoNewKeyring {
		p.step("keyring", "_ses."+cfg.State.ID)
	}
	p.process(spec.Process, cfg.Seccomp, cfg.PreserveFDs)
	p.step("ready")
	p.step("wait-start", strconv.Itoa(cfg.FifoFD))
	p.exec(spec.Process)
	return p, nil
}

// cinitExecPlan is initExec's steps as a program for the C init: a process that joins a
// running container needs only the last steps before execve.
func cinitExecPlan(cfg *initConfig) *cinitProgram {
	p := &cinitProgram{}
	p.process(cfg.Spec.Process, cfg.Seccomp, cfg.PreserveFDs)
	p.exec(cfg.Spec.Process)
	return p
}

// mount is one of the config's mounts (mountOne).
func (p *cinitProgram) mount(cfg *initConfig, m specs.Mount) error {
	o, err := parseMountOptions(m.Options)
	if err != nil {
		return err
	}
	dest := filepath.Clean("/" + m.Destination)
	kind, src, fstype, flags, data := "fs", m.Source, m.Type, uint64(o.flags), o.data
	dir, realDir, procOK := true, false, m.Type == "proc"
	var hierarchies []string
	switch {
	case o.bind || m.Type == "bind":
		if dir, err = bindSourceIsDir(cfg, m); err != nil {
			return err
		}
		if !filepath.IsAbs(src) {
			src = filepath.Join(cfg.Bundle, src)
		}
		kind, fstype, data, procOK = "bind", "", "", isProcfs(cfg, m.Source)
		if o.recursive {
			kind = "rbind"
		}
	case m.Type == "cgroup":
		kind, hierarchies = cgroupMountKind(cfg)
		if kind == "fs" {
			src, fstype, flags, data = "tmpfs", "tmpfs", flags|unix.MS_RDONLY, "mode=755"
		}
	default:
		realDir = m.Type == "proc" || m.Type == "sysfs" || dest == "/dev"
	}
	var props []string
	for _, pr := range o.propagation {
		props = append(props, hexNum(pr))
	}
	p.step(append([]string{"mount", kind, src, dest, fstype, hexNum(flags), data, flag(dir), flag(realDir), flag(procOK),
		strings.Join(props, ","), hexNum(o.attrSet), hexNum(o.attrClear)}, hierarchies...)...)
	return nil
}

func flag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// cgroupMountKind says how the C init mounts the cgroup file system (mountCgroup): "fs"
// (an empty tmpfs, for a container without a group), "cgroup2-ns", "cgroup2-bind" with the
// group's directory, or "cgroup1-ns" and "cgroup1-bind" with a name, a host directory and
// the controllers to link for each hierarchy.
func cgroupMountKind(cfg *initConfig) (string, []string) {
	g := cfg.Cgroup
	switch {
	case g == nil:
		return "fs", nil
	case g.Mode == cgroup.V2 && cfg.NewCgroupNS:
		return "cgroup2-ns", nil
	case g.Mode == cgroup.V2:
		return "cgroup2-bind", []string{g.Paths[""]}
	}
	kind := "cgroup1-bind"
	if cfg.NewCgroupNS {
		kind = "cgroup1-ns"
	}
	var fields []string
	byDir := cgroupHierarchies(g)
	for _, dir := range slices.Sorted(maps.Keys(byDir)) {
		controllers := byDir[dir]
		links := ""
		if len(controllers) > 1 {
			links = strings.Join(controllers, ",")
		}
		fields = append(fields, strings.Join(controllers, ","), dir, links)
	}
	return kind, fields
}

// device is one node of the container's /dev (createDevice, outside a user namespace).
func (p *cinitProgram) device(d specs.LinuxDevice) error {
	kind, mode, uid, gid, err := deviceNode(d)
	if err != nil {
		return err
	}
	p.step("device", filepath.Clean("/"+d.Path), hexNum(kind|mode), strconv.FormatInt(d.Major, 10), strconv.FormatInt(d.Minor, 10),
		strconv.Itoa(uid), strconv.Itoa(gid))
	return nil
}

// process is prepareProcess's steps, in its order (see there for why).
func (p *cinitProgram) process(proc *specs.Process, filter *seccompProgram, preserveFDs int) {
	if proc.IOPriority != nil {
		prio, _ := ioPriority(proc.IOPriority)
		p.step("ioprio", strconv.Itoa(prio), fmt.Sprintf("%s %d", proc.IOPriority.Class, proc.IOPriority.Priority))
	}
	p.step("cloexec", strconv.Itoa(3+preserveFDs))
	cwd := workingDir(proc)
	p.step("cwd", cwd)
	if proc.NoNewPrivileges {
		p.step("nnp")
	} else if filter != nil {
		p.seccomp(filter)
	}
	var drop []string
	c := proc.Capabilities
	if c != nil {
		bounding, _ := capabilityMask(c.Bounding)
		for bit := range capabilityNames {
			if bounding&(1<<bit) == 0 {
				drop = append(drop, strconv.Itoa(bit))
			}
		}
	}
	var groups []string
	for _, g := range proc.User.AdditionalGids {
		groups = append(groups, strconv.FormatUint(uint64(g), 10))
	}
	umask := ""
	if proc.User.Umask != nil {
		umask = hexNum(*proc.User.Umask)
	}
	p.step("user", strconv.FormatUint(uint64(proc.User.UID), 10), strconv.FormatUint(uint64(proc.User.GID), 10),
		strings.Join(groups, ","), umask, strings.Join(drop, ","))
	if c != nil {
		effective, _ := capabilityMask(c.Effective)
		permitted, _ := capabilityMask(c.Permitted)
		inheritable, _ := capabilityMask(c.Inheritable)
		ambient, _ := capabilityMask(c.Ambient)
		p.step("caps", hexNum(effective), hexNum(permitted), hexNum(inheritable), hexNum(ambient))
	}
	p.step("cwd-again", cwd)
	p.step("lookpath", proc.Args[0], searchPath(proc))
	if proc.NoNewPrivileges && filter != nil {
		p.seccomp(filter)
	}
}

func (p *cinitProgram) seccomp(filter *seccompProgram) {
	p.step("seccomp", hexNum(filter.Flags), string(filter.Filter))
}

// exec is execCommand's steps: the rlimits, then execve.
func (p *cinitProgram) exec(proc *specs.Process) {
	for _, rl := range proc.Rlimits {
		p.step("rlimit", strconv.Itoa(rlimitResources[rl.Type]), strconv.FormatUint(rl.Soft, 10), strconv.FormatUint(rl.Hard, 10), rl.Type)
	}
	p.step(append([]string{"argv"}, proc.Args...)...)
	p.step(append([]string{"env"}, proc.Env...)...)
	p.step("exec")
}
