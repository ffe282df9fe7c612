package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"containerlabs/labs/image"
	"containerlabs/labs/network"
	"containerlabs/labs/state"
	"containerlabs/scripts/i18n"
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
	changes, err := store.Changes(name)
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
			return errors.New(i18n.Sprintf("image %s is used by container %s: remove the container first", normal, name))
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
