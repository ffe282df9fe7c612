package labtest

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// Each lab's main.go repeats the steps of the labs before it, and a step a later lab left
// out would go unnoticed by that lab's own checks (the kit's mutation run found such
// steps). RunEarlierSteps checks, for labs 04 to 07, that the earlier labs' steps still
// hold in this lab's containers, each by what the kernel shows.

// step is one earlier lab's step, checked in a later lab from lab from on (to lab to, when
// set).
type step struct {
	name     string
	from, to int
	check    func(t *testing.T, c GalleryLab, bin *Binary)
}

var earlierSteps = []step{
	{name: "its own hostname (lab 03)", from: 4, check: func(t *testing.T, c GalleryLab, bin *Binary) {
		res := c.Run(t, bin, []string{"--hostname", "ladder"}, "/bin/hostname")
		if res.Stdout != "ladder\n" {
			t.Fatal(Hint("set the hostname in the child (namespace.SetHostname), as in lab 03").With(res))
		}
	}},
	{name: "its own /proc, with only its own processes (lab 03)", from: 4, check: func(t *testing.T, c GalleryLab, bin *Binary) {
		res := c.Run(t, bin, nil, "/bin/sh", "-c", "ls -d /proc/[0-9]* | wc -l")
		n, err := strconv.Atoi(strings.TrimSpace(res.Stdout))
		if err != nil || n < 1 || n > 5 {
			t.Fatal(Hint("mount a new /proc in the root before pivot_root (procfs.MountAll), as in lab 03: the container should see its init, its command and little else").With(res))
		}
	}},
	{name: "a start on a host whose mounts are shared (lab 03)", from: 4, check: func(t *testing.T, c GalleryLab, bin *Binary) {
		// The lab's binary, run in a mount namespace of the check's own where every mount is
		// shared, as systemd leaves a host.
		wrapper := filepath.Join(TempDir(t), filepath.Base(bin.Path))
		script := fmt.Sprintf("#!/bin/sh\nexec unshare --mount --propagation shared %q \"$@\"\n", bin.Path)
		if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
		res := c.Run(t, &Binary{Name: bin.Name, Path: wrapper}, nil, "/bin/true")
		if res.Code != 0 {
			t.Fatal(Hint("make every mount private (mount.MakePrivate(\"/\")) before pivot_root, as in lab 03: pivot_root refuses a shared mount").With(res))
		}
	}},
	{name: "an OOM kill reported (lab 04)", from: 5, check: func(t *testing.T, c GalleryLab, bin *Binary) {
		res := c.Run(t, bin, []string{"--memory", "32m"}, "/probe", "hog", "128")
		said := regexp.MustCompile(`(?m)^.*TODO\(lab \d\d\).*$`).ReplaceAllString(res.Stderr, "") // a TODO's hint is not a report
		if res.Code != 137 || !regexp.MustCompile(`(?i)oom|out of memory`).MatchString(said) || !strings.Contains(said, "32") {
			t.Fatal(Hint("after the container ends, read the cgroup's stats (cg.Stats) and say when the OOM killer struck, with exit 137, as in lab 04").With(res))
		}
	}},
	{name: "/etc/hosts naming it, from its state directory (lab 06)", from: 6, to: 7, check: func(t *testing.T, c GalleryLab, bin *Binary) {
		res := c.Run(t, bin, []string{"--hostname", "ladder"}, "/bin/sh", "-c", "cat /etc/hosts; grep ' /etc/hosts ' /proc/self/mountinfo")
		if !strings.Contains(res.Stdout, "ladder") || strings.Count(res.Stdout, "/etc/hosts") == 0 {
			t.Fatal(Hint("bind the parent's /etc/hosts, /etc/hostname and /etc/resolv.conf into the root (network.BindEtcFiles), as in lab 06").With(res))
		}
	}},
	{name: "an address on eth0 (lab 06)", from: 7, to: 7, check: func(t *testing.T, c GalleryLab, bin *Binary) {
		res := c.Run(t, bin, nil, "/bin/sh", "-c", "ip -o -4 addr show eth0")
		if !strings.Contains(res.Stdout, "inet ") {
			t.Fatal(Hint("configure eth0 from inside (network.ConfigureInside), as in lab 06").With(res))
		}
	}},
}

// RunEarlierSteps runs the checks of the earlier labs' steps that apply to the lab named lab,
// on containers made as setup says (see RunGallery).
func RunEarlierSteps(t *testing.T, lab string, setup func(t *testing.T, bin *Binary, root string) GalleryLab) {
	RequireRoot(t)
	var n int
	if _, err := fmt.Sscanf(lab, "%02d-", &n); err != nil {
		t.Fatalf("%q is not a lab name", lab)
	}
	bin := Lab(t, lab)
	root := BusyboxRoot(t)
	InstallProbe(t, root)
	c := setup(t, bin, root)
	for _, s := range earlierSteps {
		if n < s.from || (s.to != 0 && n > s.to) {
			continue
		}
		t.Run("earlier step holds: "+s.name, func(t *testing.T) { s.check(t, c, bin) })
	}
}
