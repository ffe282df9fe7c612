package procfs

import (
	"fmt"
	"strings"
	"text/tabwriter"
)

// HostReference returns the process whose namespaces stand for the host's: PID 1, or,
// where PID 1's namespace links cannot be read (some sandboxes protect their init), PID 2,
// kthreadd, which the kernel keeps in the initial namespaces.
func HostReference() (int, []Namespace, error) {
	var firstErr error
	for _, pid := range []int{1, 2} {
		nss, err := Namespaces(pid)
		if err == nil && len(nss) > 0 {
			return pid, nss, nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	return 0, nil, fmt.Errorf("read the host's namespaces: %w", firstErr)
}

// DescribeNamespaces lists the namespaces of pid as lsns does, one per line with its link
// (type and inode), and says for each whether the process shares it with the host (see
// HostReference). A process that shares every namespace is not isolated at all.
//
// Equivalent to: `ls -l /proc/PID/ns /proc/1/ns` and comparing the inodes by eye.
func DescribeNamespaces(pid int) (string, error) {
	nss, err := Namespaces(pid)
	if err != nil {
		return "", err
	}
	refPID, ref, err := HostReference()
	if err != nil {
		return "", err
	}
	hostInode := map[string]uint64{}
	for _, ns := range ref {
		hostInode[ns.Type] = ns.Inode
	}
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "TYPE\tNAMESPACE\tSHARED WITH HOST (PID %d)\n", refPID)
	for _, ns := range nss {
		shared := "no: own namespace"
		if hostInode[ns.Type] == ns.Inode {
			shared = "yes"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\n", ns.Type, ns.Link, shared)
	}
	w.Flush()
	return b.String(), nil
}

// Describe renders the process's facts readably, one fact per line, the way
// `02-proc inspect` prints them (DescribeNamespaces adds the namespaces).
func (p *Process) Describe() string {
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	line := func(key, format string, args ...any) { fmt.Fprintf(w, "%s\t%s\n", key, fmt.Sprintf(format, args...)) }
	line("pid", "%d", p.PID)
	line("name", "%s", p.Name)
	line("state", "%s", p.State)
	line("ppid", "%d", p.PPID)
	line("uid", "%d real, %d effective, %d saved, %d fs", p.UIDs[0], p.UIDs[1], p.UIDs[2], p.UIDs[3])
	line("gid", "%d real, %d effective, %d saved, %d fs", p.GIDs[0], p.GIDs[1], p.GIDs[2], p.GIDs[3])
	line("threads", "%d", p.Threads)
	line("rss", "%d KiB", p.RSSKiB)
	line("cmdline", "%s", strings.Join(p.Cmdline, " "))
	line("exe", "%s", p.Exe)
	line("cwd", "%s", p.Cwd)
	line("root", "%s", p.Root)
	line("environ", "%d variables", len(p.Environ))
	for _, env := range p.Environ {
		line("", "%s", env)
	}
	line("maps", "%d regions, %d KiB mapped, %d files", p.Maps.Regions, p.Maps.TotalKiB, len(p.Maps.Files))
	for _, f := range p.Maps.Files {
		line("", "%s", f)
	}
	if len(p.Unreadable) > 0 {
		line("unreadable", "%s (need more privileges)", strings.Join(p.Unreadable, ", "))
	}
	w.Flush()
	return b.String()
}
