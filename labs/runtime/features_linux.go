package runtime

import (
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"

	"containerlabs/labs/runtime/nsenter"
)

// Features describes what this runtime implements, in the OCI features format: engines read
// it to know which config fields they may use (containerd 1.7 and later ask for it). It says
// only what is true: both cgroup versions, device rules included (v1's devices controller,
// v2's eBPF program); no systemd cgroup driver; and false, rather than nothing ("unknown"),
// for each feature that Validate refuses: AppArmor, SELinux, Intel RDT, network devices,
// idmapped mounts.
//
// Equivalent to: `runc features`.
func Features() *features.Features {
	yes, no := true, false
	seccompOn := nsenter.Available && seccompVersion() != ""
	var mountOptions []string
	for name := range mountFlags {
		mountOptions = append(mountOptions, name)
	}
	for name := range propagationFlags {
		mountOptions = append(mountOptions, name)
	}
	for name := range recursiveAttrs {
		mountOptions = append(mountOptions, name)
	}
	mountOptions = append(mountOptions, "bind", "rbind")
	slices.Sort(mountOptions)
	var namespaces []string
	for typ := range namespaceFlags {
		namespaces = append(namespaces, string(typ))
	}
	slices.Sort(namespaces)
	var actions, operators []string
	for a := range seccompActions {
		actions = append(actions, string(a))
	}
	for o := range seccompOperators {
		operators = append(operators, string(o))
	}
	slices.Sort(actions)
	slices.Sort(operators)
	annotations := map[string]string{"org.opencontainers.runc.version": Version}
	if v := seccompVersion(); v != "" {
		annotations["io.github.seccomp.libseccomp.version"] = v
	}
	return &features.Features{
		OCIVersionMin: "1.0.0",
		OCIVersionMax: specs.Version,
		Hooks:         []string{"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"},
		MountOptions:  mountOptions,
		Linux: &features.Linux{
			Namespaces:   namespaces,
			Capabilities: slices.Clone(capabilityNames),
			Cgroup:       &features.Cgroup{V1: &yes, V2: &yes, Systemd: &no, SystemdUser: &no, Rdma: &yes},
			Seccomp: &features.Seccomp{Enabled: &seccompOn, Actions: actions, Operators: operators,
				Archs: []string{string(specs.ArchX86_64), string(specs.ArchX86), string(specs.ArchX32),
					string(specs.ArchAARCH64), string(specs.ArchARM)},
				KnownFlags:     []string{string(specs.LinuxSeccompFlagLog), string(specs.LinuxSeccompFlagSpecAllow)},
				SupportedFlags: []string{string(specs.LinuxSeccompFlagLog), string(specs.LinuxSeccompFlagSpecAllow)}},
			Apparmor:        &features.Apparmor{Enabled: &no},
			Selinux:         &features.Selinux{Enabled: &no},
			IntelRdt:        &features.IntelRdt{Enabled: &no},
			NetDevices:      &features.NetDevices{Enabled: &no},
			MountExtensions: &features.MountExtensions{IDMap: &features.IDMap{Enabled: &no}},
		},
		Annotations: annotations,
	}
}
