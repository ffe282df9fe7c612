package cgroup

import (
	"fmt"
	"path"
	"strings"
)

// OCI is a container's group placed the way an OCI runtime places it: at the cgroupsPath of
// the container's config.json, in every cgroup v1 hierarchy the host mounts (or once, in the
// unified tree of v2), with the config's linux.resources written into it.
//
// It differs from Cgroup, which names groups itself under one parent: here the caller (a
// container engine, containerd) chooses the path, the resources are the OCI spec's full set
// (devices, cpuset, freezer, block IO throttles, hugepages, ...), and the group can be frozen
// (pause), updated and signalled as a whole. Its fields are all a later command needs to find
// the group again, so a runtime stores the value in its state file.
type OCI struct {
	// Mode is the host's cgroup mode when the group was made: V1 and Hybrid use the v1
	// hierarchies, V2 the unified tree.
	Mode Mode `json:"mode"`
	// Paths maps each controller ("memory", "cpu", ...; "" on v2) to the group's directory
	// in the hierarchy that holds it. Controllers mounted together share a directory.
	Paths map[string]string `json:"paths"`
	// Made lists the directories Create made, parents before children, so that Destroy
	// removes exactly those and never a group someone else made.
	Made []string `json:"made,omitempty"`
	// Later maps the v1 controllers the group was left out of (see NewOCI) to the
	// directory it gets in their hierarchy if an update needs one of them.
	Later map[string]string `json:"later,omitempty"`
}

// CleanOCIPath checks an OCI cgroupsPath and returns it cleaned, with whether it is absolute
// (from the hierarchy's root) or relative (to the runtime's own group). An empty path means
// the container's ID, relative, as runc reads it. A path in systemd's "slice:prefix:name"
// form names a systemd unit, not a directory: it needs the systemd cgroup driver, which this
// package does not have.
func CleanOCIPath(cgroupsPath, id string) (p string, absolute bool, err error) {
	if cgroupsPath == "" {
		cgroupsPath = id
	}
	if strings.Count(cgroupsPath, ":") == 2 && !strings.HasPrefix(cgroupsPath, "/") {
		return "", false, fmt.Errorf("cgroupsPath %q is in systemd's slice:prefix:name form: the systemd cgroup driver is not supported; give a path such as /default/%s", cgroupsPath, id)
	}
	absolute = strings.HasPrefix(cgroupsPath, "/")
	// Cleaning it as an absolute path keeps ".." from climbing above the hierarchy's root
	// (or above the runtime's own group, for a relative path).
	p = path.Clean("/" + cgroupsPath)
	if p == "/" {
		return "", false, fmt.Errorf("cgroupsPath %q names the root group: a container needs a group of its own", cgroupsPath)
	}
	return p, absolute, nil
}

// DeviceRule renders an OCI device cgroup rule as the v1 devices controller reads it
// ("c 1:3 rwm"), with the file it goes to: devices.allow or devices.deny. A missing type
// means all ("a"), a missing major or minor any ("*"), a missing access all of "rwm".
func DeviceRule(allow bool, typ string, major, minor *int64, access string) (file, rule string) {
	if typ == "" {
		typ = "a"
	}
	number := func(n *int64) string {
		if n == nil || *n < 0 {
			return "*"
		}
		return fmt.Sprint(*n)
	}
	if access == "" {
		access = "rwm"
	}
	file = "devices.deny"
	if allow {
		file = "devices.allow"
	}
	return file, fmt.Sprintf("%s %s:%s %s", typ, number(major), number(minor), access)
}
