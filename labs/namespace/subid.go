package namespace

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Subordinate IDs: what lets an ordinary user map more than its own ID.
//
// The kernel lets an unprivileged process write a user namespace's map only if the map
// holds one line, its own ID (and, for groups, only after setgroups(2) has been turned off
// in the namespace). A container needs more: an image owns files as root and as daemon
// users, and its programs switch to those users. So the administrator hands each user a
// range of IDs nobody else uses, in /etc/subuid and /etc/subgid ("alice:100000:65536": IDs
// 100000-165535 are alice's to map), and two setuid-root helpers from shadow-utils
// (newuidmap and newgidmap, Debian's uidmap package) write maps that use only the caller's
// own ID and its ranges. Rootless podman, Docker and this workshop's engine all build on it.

// Files where shadow-utils keeps the subordinate ranges.
const (
	SubUIDFile = "/etc/subuid"
	SubGIDFile = "/etc/subgid"
)

// IDRange is a range of subordinate IDs: Count IDs from Start.
type IDRange struct {
	Start, Count int
}

// ParseSubIDs reads the ranges a subuid or subgid file (lines "NAME:START:COUNT", NAME a
// login name or a numeric ID, '#' for comments) grants to the user called name with ID id,
// in the order they are listed.
func ParseSubIDs(r io.Reader, name string, id int) ([]IDRange, error) {
	var ranges []IDRange
	s := bufio.NewScanner(r)
	for line := 1; s.Scan(); line++ {
		text := strings.TrimSpace(s.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		fields := strings.Split(text, ":")
		if len(fields) != 3 {
			return nil, fmt.Errorf("line %d %q: want NAME:START:COUNT", line, text)
		}
		if fields[0] != name && fields[0] != strconv.Itoa(id) {
			continue
		}
		start, err1 := strconv.Atoi(fields[1])
		count, err2 := strconv.Atoi(fields[2])
		if err1 != nil || err2 != nil || start < 0 || count <= 0 || start > 1<<32-1-count {
			return nil, fmt.Errorf("line %d %q: START and COUNT must be whole numbers within the 32-bit ID range", line, text)
		}
		ranges = append(ranges, IDRange{Start: start, Count: count})
	}
	return ranges, s.Err()
}

// RootlessMap is the map of a rootless engine's user namespace: the user's own ID becomes
// root (0) inside, and its subordinate ranges follow from 1 on, in order. Root in the
// containers is then the user itself on the host (a file a container's root creates is the
// user's), and any other ID inside is one of the user's subordinate IDs, which no other
// user has. Rootless podman maps the same way. Without ranges the map is the single line
// the kernel allows anyone: only root exists inside.
func RootlessMap(own int, ranges []IDRange) []IDMap {
	maps := []IDMap{{Inside: 0, Outside: own, Size: 1}}
	next := 1
	for _, r := range ranges {
		maps = append(maps, IDMap{Inside: next, Outside: r.Start, Size: r.Count})
		next += r.Count
	}
	return maps
}

// MappedSize is how many IDs a map gives the namespace: an ID inside from 0 to
// MappedSize-1 exists, if the map is contiguous from 0 as RootlessMap's is.
func MappedSize(maps []IDMap) int {
	n := 0
	for _, m := range maps {
		n += m.Size
	}
	return n
}

// ParseIDMap reads a map as /proc/PID/uid_map shows it: "INSIDE OUTSIDE SIZE" per line.
func ParseIDMap(text string) ([]IDMap, error) {
	var maps []IDMap
	for line := range strings.SplitSeq(strings.TrimSpace(text), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) != 3 {
			return nil, fmt.Errorf("ID map line %q: want INSIDE OUTSIDE SIZE", line)
		}
		var n [3]int
		for i := range f {
			v, err := strconv.ParseUint(f[i], 10, 32)
			if err != nil {
				return nil, fmt.Errorf("ID map line %q: %w", line, err)
			}
			n[i] = int(v)
		}
		maps = append(maps, IDMap{Inside: n[0], Outside: n[1], Size: n[2]})
	}
	return maps, nil
}

// FormatIDMap writes maps as /proc/PID/uid_map takes them, one "INSIDE OUTSIDE SIZE" line
// each.
func FormatIDMap(maps []IDMap) string {
	var b strings.Builder
	for _, m := range maps {
		fmt.Fprintf(&b, "%d %d %d\n", m.Inside, m.Outside, m.Size)
	}
	return b.String()
}

// isIdentity reports whether maps is the initial user namespace's: every ID mapped onto
// itself.
func isIdentity(maps []IDMap) bool {
	return len(maps) == 1 && maps[0] == IDMap{Inside: 0, Outside: 0, Size: 1<<32 - 1}
}
