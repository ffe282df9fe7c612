// Package mount wraps mount(2) and umount(2) so that a failed mount says exactly what was
// asked of the kernel (source, target, file system type and flags by name), and reads the
// mount table from /proc/self/mountinfo so that callers can find and undo what they mounted.
//
// Every lab that touches the file system tree goes through here, so a learner who sees
// "mount proc on /tmp/r/proc (type proc, flags MS_NOSUID|MS_NODEV|MS_NOEXEC): operation not
// permitted" knows which of the many mounts of a container start went wrong.
package mount

import (
	"fmt"
	"strconv"
	"strings"
)

// Mount describes one call to mount(2).
type Mount struct {
	// Source is the device or directory to mount, or a name for pseudo file systems ("proc").
	Source string
	// Target is the mount point.
	Target string
	// FSType is the file system type ("proc", "tmpfs", "overlay"); empty for bind mounts and
	// propagation changes.
	FSType string
	// Flags are the MS_* mount flags.
	Flags uintptr
	// Data is the file-system-specific option string ("mode=755", "lowerdir=...").
	Data string
}

// String describes the mount as the error messages show it.
func (m Mount) String() string {
	var b strings.Builder
	switch {
	case m.Source == "" && m.FSType == "":
		fmt.Fprintf(&b, "change mount %s", m.Target)
	default:
		fmt.Fprintf(&b, "mount %s on %s", orNone(m.Source), m.Target)
	}
	var details []string
	if m.FSType != "" {
		details = append(details, "type "+m.FSType)
	}
	if m.Flags != 0 {
		details = append(details, "flags "+FlagNames(m.Flags))
	}
	if m.Data != "" {
		details = append(details, "data "+strconv.Quote(m.Data))
	}
	if len(details) > 0 {
		fmt.Fprintf(&b, " (%s)", strings.Join(details, ", "))
	}
	return b.String()
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// The MS_* values are the same on every Linux architecture; they are spelled out here
// rather than taken from x/sys/unix so that this file also builds on other systems.
var flagNames = []struct {
	flag uintptr
	name string
}{
	{0x1, "MS_RDONLY"},
	{0x2, "MS_NOSUID"},
	{0x4, "MS_NODEV"},
	{0x8, "MS_NOEXEC"},
	{0x10, "MS_SYNCHRONOUS"},
	{0x20, "MS_REMOUNT"},
	{0x40, "MS_MANDLOCK"},
	{0x80, "MS_DIRSYNC"},
	{0x100, "MS_NOSYMFOLLOW"},
	{0x400, "MS_NOATIME"},
	{0x800, "MS_NODIRATIME"},
	{0x1000, "MS_BIND"},
	{0x2000, "MS_MOVE"},
	{0x4000, "MS_REC"},
	{0x8000, "MS_SILENT"},
	{0x10000, "MS_POSIXACL"},
	{0x20000, "MS_UNBINDABLE"},
	{0x40000, "MS_PRIVATE"},
	{0x80000, "MS_SLAVE"},
	{0x100000, "MS_SHARED"},
	{0x200000, "MS_RELATIME"},
	{0x1000000, "MS_STRICTATIME"},
	{0x2000000, "MS_LAZYTIME"},
}

// FlagNames spells mount flags out by name, for example "MS_BIND|MS_REC".
func FlagNames(flags uintptr) string {
	var names []string
	for _, f := range flagNames {
		if flags&f.flag != 0 {
			names = append(names, f.name)
			flags &^= f.flag
		}
	}
	if flags != 0 {
		names = append(names, fmt.Sprintf("%#x", flags))
	}
	if len(names) == 0 {
		return "0"
	}
	return strings.Join(names, "|")
}

// Info is one line of /proc/PID/mountinfo (see proc(5)).
type Info struct {
	// ID is the mount's unique ID; Parent is the ID of the mount it sits on.
	ID, Parent int
	// Root is the directory of the source file system that is visible at Target (for a bind
	// mount of /etc/hosts it is "/etc/hosts").
	Root string
	// Target is the mount point, relative to the reading process's root.
	Target string
	// Options are the per-mount options ("rw,nosuid,relatime").
	Options string
	// Propagation lists the optional fields: "shared:N", "master:N", or empty for private.
	Propagation []string
	// FSType is the file system type; Source the mounted device or name.
	FSType, Source string
	// SuperOptions are the per-file-system options ("lowerdir=...,upperdir=...").
	SuperOptions string
}

// ParseMountinfo parses the text of a mountinfo file.
func ParseMountinfo(text string) ([]Info, error) {
	var infos []Info
	for line := range strings.SplitSeq(text, "\n") {
		if line == "" {
			continue
		}
		fields := strings.Fields(line)
		sep := -1
		for i := 6; i < len(fields); i++ {
			if fields[i] == "-" {
				sep = i
				break
			}
		}
		if len(fields) < 7 || sep < 0 || len(fields) < sep+3 {
			return nil, fmt.Errorf("malformed mountinfo line %q", line)
		}
		id, err1 := strconv.Atoi(fields[0])
		parent, err2 := strconv.Atoi(fields[1])
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("malformed mount IDs in line %q", line)
		}
		info := Info{
			ID:          id,
			Parent:      parent,
			Root:        unescape(fields[3]),
			Target:      unescape(fields[4]),
			Options:     fields[5],
			Propagation: fields[6:sep],
			FSType:      fields[sep+1],
			Source:      unescape(fields[sep+2]),
		}
		if len(fields) > sep+3 {
			info.SuperOptions = fields[sep+3]
		}
		infos = append(infos, info)
	}
	return infos, nil
}

// unescape undoes the octal escapes (\040 for a space) the kernel writes in mountinfo paths.
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
