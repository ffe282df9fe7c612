package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"containerlabs/labs/image"
	"containerlabs/labs/network"
	"containerlabs/labs/overlay"
	"containerlabs/labs/runtime"
	"containerlabs/labs/state"
)

// BuildCache is the repository under which a build (labs/build) files the image each of
// its steps made, tagged with the step's cache key, so that the next build can reuse it.
// images hides it; system prune removes it.
const BuildCache = "labs-build-cache"

// DefaultRoot is the engine's state root unless --root says otherwise.
const DefaultRoot = "/var/lib/containerlabs"

// EnvBridge and EnvSubnet name the environment variables that put the engine's containers
// on another bridge than labs0 and 10.88.0.0/16.
const (
	EnvBridge = "CONTAINERLABS_BRIDGE"
	EnvSubnet = "CONTAINERLABS_SUBNET"
)

// Engine is the state root of a daemonless engine, and the stores in it:
//
//	ROOT/images           the image store (labs/image), shared with 07-images
//	ROOT/network          the bridge's address book (labs/network), shared with 06 and 07
//	ROOT/engine/containers/ID   each container: record, bundle, writable layer, logs
//	ROOT/engine/names     one file per container name, claimed atomically
//	ROOT/engine/volumes   named and anonymous volumes
//	ROOT/engine/runtime   the OCI runtime's state (labs/runtime)
type Engine struct {
	Root    string
	Store   *Store
	Volumes *Volumes
	Images  *image.Store
	// Runtime keeps the OCI runtime's state under the engine's root, so that two engines
	// with different roots never see each other's containers.
	Runtime *runtime.Runtime
	// Bridge and Subnet are the network of bridge-mode containers (lab 06's labs0 and
	// 10.88.0.0/16 by default), the engine's default network; user-defined networks have
	// bridges of their own (networks.go).
	Bridge, Subnet string
	// Rootless is set when the engine runs as an ordinary user, in a user namespace of its
	// own (see rootless.go).
	Rootless *Rootless
}

// Open opens the engine whose state lives under root.
func Open(root string) (*Engine, error) {
	root, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	// The engine's containers and volumes live apart from the labs' (05-07 keep theirs in
	// containers/); the image store and the network are shared: an image imported with
	// 07-images runs here, and all containers share labs0 and its address book.
	own := filepath.Join(root, "engine")
	// Nothing under the state root is for other users (see state.PassageDir for why, and
	// for the one group a lab's --userns container needs to pass). The engine itself never
	// runs a container as another host user, so its own directories are closed.
	if err := state.PassageDir(root); err != nil {
		return nil, err
	}
	for _, dir := range []string{own, filepath.Join(own, "runtime"), filepath.Join(root, "network")} {
		if err := state.ClosedDir(dir); err != nil {
			return nil, err
		}
	}
	store, err := OpenStore(own)
	if err != nil {
		return nil, err
	}
	volumes, err := OpenVolumes(own)
	if err != nil {
		return nil, err
	}
	images, err := image.Open(filepath.Join(root, "images"))
	if err != nil {
		return nil, err
	}
	rootless, err := rootlessHere()
	if err != nil {
		return nil, err
	}
	e := &Engine{
		Root: root, Store: store, Volumes: volumes, Images: images,
		Runtime: &runtime.Runtime{Root: filepath.Join(own, "runtime"), Rootless: rootless != nil},
		Bridge:  network.DefaultBridge, Subnet: network.DefaultSubnet,
		Rootless: rootless,
	}
	// A workshop machine, or a test, may need the engine on a bridge of its own.
	if b, s := os.Getenv(EnvBridge), os.Getenv(EnvSubnet); b != "" && s != "" {
		e.Bridge, e.Subnet = b, s
	}
	return e, nil
}

// Network returns the engine's default bridge network (lab 06), isolated from its
// user-defined networks.
func (e *Engine) Network() (*network.Network, error) {
	nw, err := network.New(e.Bridge, e.Subnet, filepath.Join(e.Root, "network"))
	if err == nil {
		nw.Isolated = true
	}
	return nw, err
}

// CreateRequest is what `create` and `run` ask for.
type CreateRequest struct {
	Name   string
	Image  string
	Config Config
	// Pull fetches the image from its registry if the store does not have it.
	Pull bool
	// PullOptions are used when Pull fetches the image.
	PullOptions image.Options
}

// Create makes a container: its record, its directory (writable layer, bundle, logs), its
// volumes. It does not start it. The image is resolved now, so the container keeps running
// the image it was made from even if the tag later moves.
func (e *Engine) Create(req CreateRequest) (*Container, error) {
	ref, err := image.Normalize(req.Image)
	if err != nil {
		return nil, err
	}
	details, err := e.Images.Inspect(ref)
	if errors.Is(err, image.ErrNotFound) && req.Pull {
		if _, err = e.Images.Pull(context.Background(), ref, req.PullOptions); err == nil {
			details, err = e.Images.Inspect(ref)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", ref, err)
	}
	layers, err := e.Images.Layers(ref)
	if err != nil {
		return nil, err
	}
	driver, _, err := e.storageDriver()
	if err != nil {
		return nil, err
	}
	c := &Container{
		ID: NewID(), Name: req.Name, Created: time.Now().UTC(), Image: ref, ImageID: details.ID.String(),
		Layers: layers, Driver: driver, Config: req.Config, State: State{Status: StatusCreated},
	}
	c.Config.Image = req.Image
	if c.Name == "" {
		c.Name = "labs_" + c.ID[:8]
	}
	if c.Config.Hostname == "" {
		c.Config.Hostname = c.ID[:12]
	}
	if c.Config.NetworkMode == "" {
		c.Config.NetworkMode = e.defaultNetwork()
	}
	p, err := resolveProcess(c, details.Config)
	if err != nil {
		return nil, err
	}
	if err := checkUserIDs(p.User); err != nil {
		return nil, err
	}
	for _, p := range c.Config.Publish {
		if _, err := network.ParsePort(p); err != nil {
			return nil, fmt.Errorf("-p %s: %w", p, err)
		}
	}
	if err := e.checkNetworks(&c.Config); err != nil {
		return nil, err
	}
	c.Config.Healthcheck = MergeHealthcheck(details.Config.Config.Healthcheck, c.Config.Healthcheck)
	if err := checkPolicies(c.Config); err != nil {
		return nil, err
	}
	if err := e.checkRootless(c); err != nil {
		return nil, err
	}
	if c.Mounts, err = e.mounts(c); err != nil {
		return nil, err
	}
	if err := e.Store.Create(c); err != nil {
		e.removeAnonymousVolumes(c)
		return nil, err
	}
	dir := e.Store.Dir(c.ID)
	// upper's mode becomes the mode of the container's "/", and rootfs is its mount point;
	// etc holds the /etc files bind-mounted in. All are closed off by the container's
	// directory above them.
	for _, sub := range []string{"upper", "work", "rootfs", "etc", "logs"} {
		if err := os.Mkdir(filepath.Join(dir, sub), 0o755); err != nil {
			_ = e.Store.Remove(c)
			return nil, fmt.Errorf("create container %s: %w", c.Name, err)
		}
	}
	return c, nil
}

// mounts resolves -v and --volumes-from into host paths.
func (e *Engine) mounts(c *Container) ([]Mount, error) {
	var mounts []Mount
	for _, from := range c.Config.VolumesFrom {
		other, err := e.Store.Get(from)
		if err != nil {
			return nil, fmt.Errorf("--volumes-from %s: %w", from, err)
		}
		for _, m := range other.Mounts {
			m.Anonymous = false // it belongs to the other container
			mounts = append(mounts, m)
		}
	}
	for _, arg := range c.Config.Volumes {
		m, err := e.Volumes.ParseVolume(arg, NewID)
		if err != nil {
			for _, made := range mounts {
				if made.Anonymous {
					_ = e.Volumes.Remove(made.Name)
				}
			}
			return nil, err
		}
		mounts = slices.DeleteFunc(mounts, func(have Mount) bool { return have.Destination == m.Destination })
		mounts = append(mounts, m)
	}
	return mounts, nil
}

func (e *Engine) removeAnonymousVolumes(c *Container) {
	for _, m := range c.Mounts {
		if m.Anonymous {
			_ = e.Volumes.Remove(m.Name)
		}
	}
}

// resolveProcess applies Docker's rules to the image's config and the container's: Entrypoint
// and Cmd, the environment, the working directory and the user (resolved later, inside).
func resolveProcess(c *Container, cfg *v1.ConfigFile) (image.Process, error) {
	merged := *cfg
	merged.Config = cfg.Config
	if c.Config.EntrypointSet {
		merged.Config.Entrypoint = c.Config.Entrypoint
		if len(c.Config.Cmd) == 0 {
			merged.Config.Cmd = nil
		}
	}
	p, err := image.RunConfig(&merged, c.Config.Cmd)
	if err != nil {
		return p, err
	}
	for _, kv := range c.Config.Env {
		name, _, _ := strings.Cut(kv, "=")
		p.Env = slices.DeleteFunc(p.Env, func(have string) bool { return strings.HasPrefix(have, name+"=") })
		p.Env = append(p.Env, kv)
	}
	if c.Config.WorkingDir != "" {
		p.WorkingDir = c.Config.WorkingDir
	}
	if c.Config.User != "" {
		p.User = c.Config.User
	}
	return p, nil
}

// checkUserIDs range-checks the numbers of a user ("1000", "1000:1000", "app:50") now, so
// that a user ID that could never run (-u 4294967296) is refused before the container is
// made. Names are looked up at start, inside the container's root.
func checkUserIDs(user string) error {
	name, group, _ := strings.Cut(user, ":")
	for _, part := range []struct{ kind, value string }{{"user", name}, {"group", group}} {
		if _, _, err := image.ParseID(part.kind, part.value); err != nil {
			return fmt.Errorf("-u %q: %w", user, err)
		}
	}
	return nil
}

// mountRootfs mounts the container's root, an overlay of the image's layers and its own
// upper directory (lab 05), at rootfs in its directory: the bundle's root. It lives in the
// host's mount namespace while the container runs, as Docker's does, and the monitor
// unmounts it when the container ends. The upper directory of a --rm container is deleted
// with it, so its overlay is volatile: no sync of the host's disk when it is unmounted.
func (e *Engine) mountRootfs(c *Container) error {
	dir := e.Store.Dir(c.ID)
	rootfs := filepath.Join(dir, "rootfs")
	if mounted, _ := isMountPoint(rootfs); mounted {
		return nil
	}
	return mountLayers(c.Driver, c.Layers, filepath.Join(dir, "upper"), filepath.Join(dir, "work"), rootfs, c.Config.AutoRemove)
}

func (e *Engine) unmountRootfs(c *Container) error {
	rootfs := filepath.Join(e.Store.Dir(c.ID), "rootfs")
	if mounted, _ := isMountPoint(rootfs); !mounted {
		return nil
	}
	return overlay.Unmount(rootfs)
}
