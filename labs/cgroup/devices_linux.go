package cgroup

import (
	"errors"
	"fmt"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"
)

// AttachDeviceFilter makes f the device filter of the v2 group at dir: it loads f.Program
// into the kernel, attaches it to the group, and then detaches the device programs that
// were attached there before (an update), so that at no moment is the group without a
// filter. A filter that allows everything needs no program: the old ones are detached and
// nothing is attached.
//
// The program is attached with BPF_F_ALLOW_MULTI, as runc does: the kernel runs every
// program attached to the group and to each of its ancestors, and an access must pass them
// all, so a container's filter can only narrow what its parent group allows, as v1's
// hierarchy does. Nothing holds the program but the group: it is freed when the group is
// removed (rmdir), with no pinning and nothing to clean up.
//
// Equivalent to: `bpftool prog load filter.o /sys/fs/bpf/f type cgroup/dev` and `bpftool
// cgroup attach DIR device pinned /sys/fs/bpf/f multi`.
func AttachDeviceFilter(dir string, f DeviceFilter) error {
	group, err := unix.Open(dir, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open cgroup %s for its device filter: %w", dir, err)
	}
	defer unix.Close(group)
	old, err := attachedDevicePrograms(group)
	if err != nil {
		return fmt.Errorf("list the device programs of cgroup %s: %w", dir, err)
	}
	defer func() {
		for _, p := range old {
			p.Close()
		}
	}()
	if !f.AllowsAll() {
		prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
			Name:         "labs_devices",
			Type:         ebpf.CGroupDevice,
			Instructions: f.Program(),
			// The kernel reads the license only to decide whether the program may call
			// GPL-only helpers; this one calls no helper at all.
			License: "GPL",
		})
		if err != nil {
			return fmt.Errorf("load the device filter of cgroup %s: %w", dir, err)
		}
		defer prog.Close()
		if err := link.RawAttachProgram(link.RawAttachProgramOptions{
			Target: group, Program: prog, Attach: ebpf.AttachCGroupDevice, Flags: unix.BPF_F_ALLOW_MULTI,
		}); err != nil {
			return fmt.Errorf("attach the device filter to cgroup %s: %w", dir, err)
		}
	}
	for _, p := range old {
		if err := link.RawDetachProgram(link.RawDetachProgramOptions{
			Target: group, Program: p, Attach: ebpf.AttachCGroupDevice,
		}); err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("detach the old device filter of cgroup %s: %w", dir, err)
		}
	}
	return nil
}

// attachedDevicePrograms opens the device programs attached to the group itself (not those
// its ancestors contribute).
//
// Equivalent to: `bpftool cgroup show DIR`.
func attachedDevicePrograms(group int) ([]*ebpf.Program, error) {
	result, err := link.QueryPrograms(link.QueryOptions{Target: group, Attach: ebpf.AttachCGroupDevice})
	if err != nil {
		return nil, err
	}
	var progs []*ebpf.Program
	for _, attached := range result.Programs {
		p, err := ebpf.NewProgramFromID(attached.ID)
		if errors.Is(err, unix.ENOENT) {
			continue // detached and freed since the query
		}
		if err != nil {
			for _, q := range progs {
				q.Close()
			}
			return nil, fmt.Errorf("open device program %d: %w", attached.ID, err)
		}
		progs = append(progs, p)
	}
	return progs, nil
}
