package procfs

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Process is what /proc tells about one process. Fields the caller may not read (another
// user's environment, without privileges) are left empty and named in Unreadable.
type Process struct {
	PID, PPID int
	// Name is the kernel's short name (comm); State its run state ("S (sleeping)").
	Name, State string
	// UIDs and GIDs are real, effective, saved and file-system IDs, in that order.
	UIDs, GIDs [4]int
	Threads    int
	// RSSKiB is the resident memory in KiB.
	RSSKiB int
	// Cmdline is the argument vector; Environ the environment, as the process started.
	Cmdline, Environ []string
	// Exe is the executable; Cwd the working directory; Root the root directory, which is
	// the chroot directory for a chrooted process.
	Exe, Cwd, Root string
	Maps           MapsSummary
	Namespaces     []Namespace
	Unreadable     []string
}

// MapsSummary condenses /proc/PID/maps: how many regions are mapped, and which files.
type MapsSummary struct {
	Regions int
	// Files are the mapped files, largest mapping first: the executable, its libraries,
	// locale data.
	Files []string
	// TotalKiB is the size of all mappings (virtual memory, not memory in use).
	TotalKiB int
}

// Namespace is one of a process's namespaces, as /proc/PID/ns/TYPE names it.
type Namespace struct {
	// Type is the namespace type: cgroup, ipc, mnt, net, pid, time, user, uts.
	Type string
	// Inode identifies the namespace: two processes are in the same namespace exactly when
	// their links show the same inode.
	Inode uint64
	// Link is the link text, such as "net:[4026531840]".
	Link string
}

// NamespaceTypes are the namespace types in the order lsns lists them. pid_for_children
// and time_for_children are left out: they describe a process's future children.
var NamespaceTypes = []string{"cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"}

// Inspect reads the facts of process pid from /proc.
//
// Equivalent to: `cat /proc/PID/{status,cmdline,environ,maps}; ls -l /proc/PID/{exe,cwd,root,ns}`.
func Inspect(pid int) (*Process, error) {
	dir := filepath.Join("/proc", strconv.Itoa(pid))
	status, err := os.ReadFile(filepath.Join(dir, "status"))
	if err != nil {
		return nil, fmt.Errorf("inspect process %d: %w", pid, err)
	}
	p := &Process{PID: pid}
	if err := p.parseStatus(string(status)); err != nil {
		return nil, fmt.Errorf("inspect process %d: %w", pid, err)
	}
	// lab:02 begin: read cmdline and environ (NUL-separated: splitNUL) and the exe, cwd and root links into p; add what cannot be read to p.Unreadable
	if data, err := os.ReadFile(filepath.Join(dir, "cmdline")); err == nil {
		p.Cmdline = splitNUL(data)
	} else {
		p.Unreadable = append(p.Unreadable, "cmdline")
	}
	if data, err := os.ReadFile(filepath.Join(dir, "environ")); err == nil {
		p.Environ = splitNUL(data)
	} else {
		p.Unreadable = append(p.Unreadable, "environ")
	}
	for _, link := range []struct {
		name string
		dst  *string
	}{{"exe", &p.Exe}, {"cwd", &p.Cwd}, {"root", &p.Root}} {
		if target, err := os.Readlink(filepath.Join(dir, link.name)); err == nil {
			*link.dst = target
		} else {
			p.Unreadable = append(p.Unreadable, link.name)
		}
	}
	// lab:02 end
	if data, err := os.ReadFile(filepath.Join(dir, "maps")); err == nil {
		p.Maps = summariseMaps(string(data))
	} else {
		p.Unreadable = append(p.Unreadable, "maps")
	}
	if p.Namespaces, err = Namespaces(pid); err != nil {
		p.Unreadable = append(p.Unreadable, "ns")
	}
	return p, nil
}

// Namespaces reads the namespace links of process pid, in NamespaceTypes order. Types the
// kernel does not have (time before Linux 5.6) are left out.
//
// Equivalent to: `ls -l /proc/PID/ns`.
func Namespaces(pid int) ([]Namespace, error) {
	// lab:02 begin: read the link /proc/PID/ns/TYPE of each of NamespaceTypes ("net:[4026531840]"), skipping types the kernel lacks, with its inode number
	var nss []Namespace
	for _, typ := range NamespaceTypes {
		link, err := os.Readlink(filepath.Join("/proc", strconv.Itoa(pid), "ns", typ))
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read %s namespace of process %d: %w", typ, pid, err)
		}
		ns := Namespace{Type: typ, Link: link}
		if _, inode, ok := strings.Cut(strings.TrimSuffix(link, "]"), ":["); ok {
			ns.Inode, _ = strconv.ParseUint(inode, 10, 64)
		}
		nss = append(nss, ns)
	}
	return nss, nil
	// lab:02 end
}

func (p *Process) parseStatus(text string) error {
	fields := map[string]string{}
	for line := range strings.SplitSeq(text, "\n") {
		if key, value, ok := strings.Cut(line, ":"); ok {
			fields[key] = strings.TrimSpace(value)
		}
	}
	p.Name, p.State = fields["Name"], fields["State"]
	var err error
	if p.PPID, err = strconv.Atoi(fields["PPid"]); err != nil {
		return fmt.Errorf("parse PPid %q: %w", fields["PPid"], err)
	}
	p.Threads, _ = strconv.Atoi(fields["Threads"])
	p.RSSKiB, _ = strconv.Atoi(strings.TrimSuffix(fields["VmRSS"], " kB"))
	for i, id := range strings.Fields(fields["Uid"]) {
		if i < 4 {
			p.UIDs[i], _ = strconv.Atoi(id)
		}
	}
	for i, id := range strings.Fields(fields["Gid"]) {
		if i < 4 {
			p.GIDs[i], _ = strconv.Atoi(id)
		}
	}
	return nil
}

func summariseMaps(text string) MapsSummary {
	var s MapsSummary
	sizes := map[string]int{}
	scanner := bufio.NewScanner(strings.NewReader(text))
	for scanner.Scan() {
		fields := strings.Fields(scanner.Text())
		if len(fields) < 5 {
			continue
		}
		s.Regions++
		var start, end uint64
		if lo, hi, ok := strings.Cut(fields[0], "-"); ok {
			start, _ = strconv.ParseUint(lo, 16, 64)
			end, _ = strconv.ParseUint(hi, 16, 64)
		}
		kib := int((end - start) / 1024)
		s.TotalKiB += kib
		if len(fields) >= 6 && strings.HasPrefix(fields[5], "/") {
			sizes[fields[5]] += kib
		}
	}
	for f := range sizes {
		s.Files = append(s.Files, f)
	}
	sort.Slice(s.Files, func(i, j int) bool {
		if sizes[s.Files[i]] != sizes[s.Files[j]] {
			return sizes[s.Files[i]] > sizes[s.Files[j]]
		}
		return s.Files[i] < s.Files[j]
	})
	return s
}

func splitNUL(data []byte) []string {
	data = bytes.TrimRight(data, "\x00")
	if len(data) == 0 {
		return nil
	}
	return strings.Split(string(data), "\x00")
}
