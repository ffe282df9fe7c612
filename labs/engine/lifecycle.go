package engine

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"containerlabs/labs/image"
	"containerlabs/labs/process"
	"containerlabs/labs/runtime"
)

// Stop asks a running container to stop, as `docker stop` does: SIGTERM (or the given
// signal) to its init, then SIGKILL if it has not ended after timeout. A process that
// ignores SIGTERM, or a shell as PID 1 without a trap (PID 1 gets no signal it does not
// handle), is killed after the timeout. It returns when the monitor has recorded the exit.
func (e *Engine) Stop(ref string, sig syscall.Signal, timeout time.Duration) error {
	c, err := e.Store.Get(ref)
	if err != nil {
		return err
	}
	if !c.State.Running() {
		return nil
	}
	// A container removed meanwhile (its --rm clean-up won the race) is stopped.
	if err := e.markStopped(c.ID); errors.Is(err, ErrNotFound) {
		return nil
	} else if err != nil {
		return err
	}
	if sig == 0 {
		sig = syscall.SIGTERM
	}
	// The runtime may already see the container dead while its monitor has not yet
	// recorded it: an error from Kill is not final, the record is.
	_ = e.Runtime.Kill(c.ID, sig, false)
	if e.waitExited(c.ID, timeout) {
		return nil
	}
	_ = e.Runtime.Kill(c.ID, syscall.SIGKILL, true)
	if !e.waitExited(c.ID, 30*time.Second) {
		return fmt.Errorf("stop %s: the container did not end after SIGKILL", c.Name)
	}
	return nil
}

// Kill sends a signal to a running container's init, as `docker kill` does.
func (e *Engine) Kill(ref string, sig syscall.Signal) error {
	c, err := e.Store.Get(ref)
	if err != nil {
		return err
	}
	if !c.State.Running() {
		return fmt.Errorf("container %s is not running", c.Name)
	}
	// Killed with a signal that ends it, the container stays ended, whatever its restart
	// policy (as `docker kill`).
	if sig == syscall.SIGKILL || sig == syscall.SIGTERM {
		if err := e.markStopped(c.ID); errors.Is(err, ErrNotFound) {
			return fmt.Errorf("container %s is not running", c.Name)
		} else if err != nil {
			return err
		}
	}
	if err := e.Runtime.Kill(c.ID, sig, false); err != nil {
		// It may have ended since we looked (the runtime then has it stopped, or its
		// monitor has deleted it already): that is "not running", not a runtime error.
		if now, getErr := e.Store.Get(c.ID); getErr != nil || !now.State.Running() || !Alive(now.State.Pid, now.State.PidStart) {
			return fmt.Errorf("container %s is not running", c.Name)
		}
		return err
	}
	return nil
}

// Wait waits until the container is no longer running and returns its exit status.
func (e *Engine) Wait(ref string) (int, error) {
	c, err := e.Store.Get(ref)
	if err != nil {
		return process.ExitSetupFailed, err
	}
	for {
		c, err = e.Store.Get(c.ID)
		if errors.Is(err, ErrNotFound) {
			return 0, nil // removed (--rm) when it ended
		}
		if err != nil {
			return process.ExitSetupFailed, err
		}
		if !c.State.Running() && c.State.Status != StatusCreated {
			return c.State.ExitCode, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitExited waits up to timeout for the monitor to record the container's end.
func (e *Engine) waitExited(id string, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for {
		c, err := e.Store.Get(id)
		if err != nil || !c.State.Running() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Remove removes a container, as `docker rm` does: refused while it runs unless force,
// which kills it first; with volumes, its anonymous volumes go too.
//
// Other processes may act on the same container meanwhile: its monitor removing it at its
// end (--rm), another rm, a start. A container that was there when Remove looked and is
// gone by the time it holds the lock was removed by one of them, which is what was asked:
// success. One that was started meanwhile is running again: refused, or killed again with
// force.
func (e *Engine) Remove(ref string, force, volumes bool) error {
	c, err := e.Store.Get(ref)
	if err != nil {
		return err
	}
	for {
		if c.State.Running() {
			if !force {
				return fmt.Errorf("container %s is running: stop it first, or use rm -f", c.Name)
			}
			if err := e.Stop(c.ID, syscall.SIGKILL, 0); err != nil {
				return err
			}
		}
		done, err := e.removeStopped(c.ID, volumes)
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		if err != nil || done {
			return err
		}
		// Started again while we waited for the lock: look again.
		if c, err = e.Store.Get(c.ID); errors.Is(err, ErrNotFound) {
			return nil
		} else if err != nil {
			return err
		}
	}
}

// removeStopped removes container id under its lock, if it is still stopped; done is false
// if it runs again.
func (e *Engine) removeStopped(id string, volumes bool) (done bool, err error) {
	unlock, err := e.Store.Lock(id)
	if err != nil {
		return false, err
	}
	defer unlock()
	c, err := e.Store.load(id)
	if err != nil {
		return false, err
	}
	if c.State.Running() && (Alive(c.State.Pid, c.State.PidStart) || Alive(c.State.MonitorPid, c.State.MonitorStart)) {
		return false, nil
	}
	// A monitor killed with SIGKILL could not undo its set-up: do it now.
	_ = e.Runtime.Delete(c.ID, true)
	_ = e.unmountRootfs(c)
	e.detach(c)
	if volumes {
		e.removeAnonymousVolumes(c)
	}
	if err := e.Store.Remove(c); err != nil {
		return false, err
	}
	removeCgroupParent()
	return true, nil
}

// removeCgroupParent removes the engine's parent cgroup in every hierarchy once no
// container's group is left in it (rmdir refuses while it has children, which is the
// check).
func removeCgroupParent() {
	dirs, _ := filepath.Glob("/sys/fs/cgroup/*/" + CgroupParent)
	for _, dir := range append(dirs, "/sys/fs/cgroup/"+CgroupParent) {
		_ = syscall.Rmdir(dir)
	}
}

// Exec runs another process in a running container, joining all its namespaces and its
// cgroup (labs/runtime), as `docker exec` does: the image's environment with the given
// additions, the container's user unless another is given.
func (e *Engine) Exec(ref string, args, env []string, dir, user string, tty bool, stdio *Attach) (int, error) {
	c, err := e.Store.Get(ref)
	if err != nil {
		return process.ExitSetupFailed, err
	}
	if c.State.Status != StatusRunning {
		return process.ExitSetupFailed, fmt.Errorf("container %s is %s, not running", c.Name, c.State.Status)
	}
	spec, err := e.Runtime.Config(c.ID)
	if err != nil {
		return process.ExitSetupFailed, err
	}
	p := *spec.Process
	p.Args, p.Terminal = args, tty
	p.Env = append(append([]string(nil), p.Env...), env...)
	if dir != "" {
		p.Cwd = dir
	}
	if user != "" {
		u, err := image.ResolveUser(e.Store.Dir(c.ID)+"/rootfs", user)
		if err != nil {
			return process.ExitSetupFailed, err
		}
		p.User = specs.User{UID: uint32(u.UID), GID: uint32(u.GID)}
	}
	opts := runtime.ExecOptions{}
	if stdio != nil {
		opts.Stdin, opts.Stdout, opts.Stderr = stdio.Stdin, stdio.Stdout, stdio.Stderr
	}
	return e.Runtime.Exec(c.ID, &p, opts)
}

// Top lists the processes of a running container, as `docker top` does.
func (e *Engine) Top(ref string) (string, error) {
	c, err := e.Store.Get(ref)
	if err != nil {
		return "", err
	}
	if !c.State.Running() {
		return "", fmt.Errorf("container %s is not running", c.Name)
	}
	pids, err := e.Runtime.Ps(c.ID)
	if err != nil {
		return "", err
	}
	return runtime.ProcessTable(pids), nil
}

// Prune removes every stopped container (with its anonymous volumes), the dangling images
// no running container uses, the image store's unreferenced blobs and layers, the
// user-defined networks no running container is on, and, if no container runs, the
// default network; with volumes, every volume no container uses. It returns what it
// removed, one line each.
func (e *Engine) Prune(volumes bool) ([]string, error) {
	var removed []string
	all, err := e.Store.List()
	if err != nil {
		return nil, err
	}
	running := false
	inUse := map[string]bool{}
	for _, c := range all {
		if c.State.Running() {
			running = true
			inUse[c.ImageID] = true
			continue
		}
		if err := e.Remove(c.ID, false, true); err != nil {
			return removed, err
		}
		removed = append(removed, "container "+c.Name)
	}
	// Images no container runs on: the dangling ones (their name moved), and the build
	// cache (labs/build files every step's image under BuildCache), which Docker's system
	// prune drops too, so the next build starts from scratch.
	pruned, gc, err := e.Images.Prune(func(s image.Summary) bool {
		return !inUse[s.ID.String()] && (s.Ref == "" || strings.HasPrefix(s.Ref, BuildCache+":"))
	})
	cached := 0
	var dangling []string
	for _, s := range pruned {
		if s.Ref == "" {
			dangling = append(dangling, "image "+s.ID.String())
		} else {
			cached++
		}
	}
	if cached > 0 {
		removed = append(removed, fmt.Sprintf("%d build cache images", cached))
	}
	removed = append(removed, dangling...)
	if err != nil {
		return removed, err
	}
	if n := len(gc.Blobs) + len(gc.Layers); n > 0 {
		removed = append(removed, fmt.Sprintf("%d image blobs and %d unpacked layers", len(gc.Blobs), len(gc.Layers)))
	}
	if volumes {
		vols, err := e.Volumes.List()
		if err != nil {
			return removed, err
		}
		for _, v := range vols {
			if used, _ := e.VolumeUsers(v.Name); len(used) > 0 {
				continue
			}
			if err := e.Volumes.Remove(v.Name); err != nil {
				return removed, err
			}
			removed = append(removed, "volume "+v.Name)
		}
	}
	networks, err := e.PruneNetworks()
	for _, name := range networks {
		removed = append(removed, "network "+name)
	}
	if err != nil {
		return removed, err
	}
	removeCgroupParent()
	if !running {
		// Only the runtime's cache of compiled seccomp filters is left there.
		if err := os.RemoveAll(e.Runtime.Root); err != nil {
			return removed, err
		}
		if nw, err := e.Network(); err == nil {
			lines, err := nw.Cleanup()
			if err != nil && !os.IsNotExist(err) {
				return removed, err
			}
			removed = append(removed, lines...)
		}
	}
	return removed, nil
}

// VolumeUsers lists the containers that mount the volume name.
func (e *Engine) VolumeUsers(name string) ([]string, error) {
	all, err := e.Store.List()
	if err != nil {
		return nil, err
	}
	var users []string
	for _, c := range all {
		for _, m := range c.Mounts {
			if m.Type == "volume" && m.Name == name {
				users = append(users, c.Name)
				break
			}
		}
	}
	return users, nil
}
