package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"containerlabs/labs/cgroup"
	"containerlabs/labs/image"
	"containerlabs/labs/namespace"
	"containerlabs/labs/network"
	"containerlabs/labs/overlay"
	"containerlabs/labs/state"
)

// record is what a container's state directory remembers of how it was made.
type record struct {
	Layers []string
	Image  string
}

// imageRoot is where the image store lives, under the state root.
func imageRoot() string {
	return filepath.Join(state.RootFromEnv(), "images")
}

// diff prints what a container changed, compared with its image's layers.
func diff(name string) (int, error) {
	store, err := state.Open(state.RootFromEnv())
	if err != nil {
		return 1, err
	}
	var r record
	c, err := store.Load(name, &r)
	if err != nil {
		return 1, err
	}
	changes, err := overlay.Diff(r.Layers, c.Upper())
	if err != nil {
		return 1, err
	}
	for _, change := range changes {
		fmt.Println(change)
	}
	return 0, nil
}

// remove deletes a stopped container named name, or, if there is none, the image name.
// Container names never contain ':' or '/', so "busybox:latest" is always an image.
func remove(name string) error {
	store, err := state.Open(state.RootFromEnv())
	if err != nil {
		return err
	}
	if state.ValidName(name) == nil {
		err := store.Remove(name)
		if !errors.Is(err, state.ErrNotFound) {
			return err
		}
	}
	images, err := image.Open(imageRoot())
	if err != nil {
		return err
	}
	if err := checkUnused(store, images, name); err != nil {
		return err
	}
	removed, err := images.Remove(name)
	if err != nil {
		return err
	}
	fmt.Printf("untagged %s; removed %d blobs and %d unpacked layers\n", name, len(removed.Blobs), len(removed.Layers))
	return nil
}

// checkUnused refuses to remove an image that a container was made from: its unpacked
// layers are that container's lowerdirs.
func checkUnused(store *state.Store, images *image.Store, ref string) error {
	normal, err := image.Normalize(ref)
	if err != nil {
		return err
	}
	names, err := store.List()
	if err != nil {
		return err
	}
	for _, name := range names {
		var r record
		if _, err := store.Load(name, &r); err == nil && r.Image == normal {
			return fmt.Errorf("image %s is used by container %s: remove the container first", normal, name)
		}
	}
	return nil
}

// cleanup removes a network: its bridge, rules and stale leases, refusing while a
// container still uses it.
func cleanup(args []string) error {
	flags := flag.NewFlagSet("cleanup", flag.ContinueOnError)
	flags.SetOutput(io.Discard)
	bridge := flags.String("bridge", network.DefaultBridge, "the bridge to remove")
	subnet := flags.String("subnet", network.DefaultSubnet, "the bridge's subnet")
	if err := flags.Parse(args); err != nil || flags.NArg() != 0 {
		return errUsage
	}
	nw, err := network.New(*bridge, *subnet, filepath.Join(state.RootFromEnv(), "network"))
	if err != nil {
		return err
	}
	removed, err := nw.Cleanup()
	for _, line := range removed {
		fmt.Println(line)
	}
	return err
}

// giveTo makes a container in a user namespace able to use its directories: uid can pass
// through the layers, and owns the writable layer and the mount point.
func giveTo(uid int, layers []string, own ...string) error {
	for _, layer := range layers {
		if err := namespace.ReachableBy(layer, uid, uid); err != nil {
			return err
		}
	}
	for _, dir := range own {
		if err := os.Chown(dir, uid, uid); err != nil {
			return fmt.Errorf("give %s to uid %d: %w", dir, uid, err)
		}
		if err := namespace.ReachableBy(dir, uid, uid); err != nil {
			return err
		}
	}
	return nil
}

// printStats reports what the container used, read from its cgroup's own accounting.
func printStats(cg *cgroup.Cgroup, l cgroup.Limits, s cgroup.Stats) {
	fmt.Fprintf(os.Stderr, "cgroup %s\n", cg.Path())
	for _, setting := range cg.Settings() {
		fmt.Fprintf(os.Stderr, "  %s\n", setting)
	}
	fmt.Fprintf(os.Stderr, "  memory: peak %s, limit reached %d times, OOM kills %d\n",
		cgroup.FormatSize(int64(s.MemoryPeakBytes)), s.MemoryLimitHits, s.OOMKills)
	fmt.Fprintf(os.Stderr, "  cpu:    %.2fs used, %.2fs throttled\n", s.CPUUsage.Seconds(), s.CPUThrottled.Seconds())
	fmt.Fprintf(os.Stderr, "  pids:   %d forks refused at the limit\n", s.ForksRefused)
}

// pathOf returns the value of PATH in env, or "".
func pathOf(env []string) string {
	for _, v := range env {
		if p, ok := strings.CutPrefix(v, "PATH="); ok {
			return p
		}
	}
	return ""
}

// hasVar reports whether env sets the variable name.
func hasVar(env []string, name string) bool {
	for _, v := range env {
		if strings.HasPrefix(v, name+"=") {
			return true
		}
	}
	return false
}
