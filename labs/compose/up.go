package compose

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"sort"
	"syscall"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"containerlabs/labs/build"
	"containerlabs/labs/cgroup"
	"containerlabs/labs/engine"
	"containerlabs/labs/image"
)

// The labels a project's containers and networks carry, Docker Compose's own, by which
// they are found again (ps, down) and recognised as unchanged (up).
const (
	LabelProject    = "com.docker.compose.project"
	LabelService    = "com.docker.compose.service"
	LabelNumber     = "com.docker.compose.container-number"
	LabelConfigHash = "com.docker.compose.config-hash"
	LabelNetwork    = "com.docker.compose.network"
	LabelOneOff     = "com.docker.compose.oneoff"
)

// DefaultStopTimeout is how long stop and down wait after SIGTERM before SIGKILL, unless
// a service's stop_grace_period says otherwise.
const DefaultStopTimeout = 10 * time.Second

// pollInterval is how often up looks at a service it waits for.
const pollInterval = 100 * time.Millisecond

// NetworkName is the engine's name of the project's network key: PROJECT_KEY, or the
// network's name: (an external network is found by name alone).
func (p *Project) NetworkName(key string) string {
	n := p.Networks[key]
	switch {
	case n != nil && n.Name != "":
		return n.Name
	case n != nil && n.External:
		return key
	}
	return p.Name + "_" + key
}

// VolumeName is the engine's name of the project's volume key: PROJECT_KEY, or the
// volume's name:.
func (p *Project) VolumeName(key string) string {
	v := p.Volumes[key]
	switch {
	case v != nil && v.Name != "":
		return v.Name
	case v != nil && v.External:
		return key
	}
	return p.Name + "_" + key
}

// ContainerName is the name of a service's container: container_name, or
// PROJECT-SERVICE-1.
func (p *Project) ContainerName(s *Service) string {
	if s.Container != "" {
		return s.Container
	}
	return p.Name + "-" + s.Name + "-1"
}

// ImageName is the image a service runs: image:, or PROJECT-SERVICE for one it builds.
func (p *Project) ImageName(s *Service) string {
	if s.Image != "" {
		return s.Image
	}
	return p.Name + "-" + s.Name
}

// UpOptions say how Up runs.
type UpOptions struct {
	// Build builds the images of services with a build: section even when they exist.
	Build bool
	// Out receives the progress, one line per thing done, as Docker Compose prints it.
	Out io.Writer
}

// Up makes the project run, as `docker compose up -d` does: its networks and volumes, its
// images (built when missing), then its services' containers in dependency order, each
// after the services it depends on are started, healthy, or completed successfully, as
// depends_on says. A container whose configuration is unchanged is left running (or
// started); a changed one is made again. The program must run the engine's monitors
// (engine.IsMonitor), as 08-engine does.
func Up(ctx context.Context, e *engine.Engine, p *Project, opts UpOptions) error {
	out := opts.Out
	if out == nil {
		out = io.Discard
	}
	order, err := p.StartOrder()
	if err != nil {
		return err
	}
	if err := p.makeNetworks(e, out); err != nil {
		return err
	}
	if err := p.makeVolumes(e, out); err != nil {
		return err
	}
	for _, s := range order {
		if err := p.buildImage(e, s, opts.Build, out); err != nil {
			return err
		}
	}
	for _, s := range order {
		for _, dep := range sortedKeys(s.DependsOn) {
			if err := p.waitFor(ctx, e, p.Services[dep], s.DependsOn[dep].Condition, out); err != nil {
				return fmt.Errorf("service %s depends on %s: %w", s.Name, dep, err)
			}
		}
		if err := p.runService(e, s, out); err != nil {
			return fmt.Errorf("service %s: %w", s.Name, err)
		}
	}
	return nil
}

func (p *Project) makeNetworks(e *engine.Engine, out io.Writer) error {
	for _, key := range sortedKeys(p.Networks) {
		cfg, name := p.Networks[key], p.NetworkName(key)
		existing, err := e.LookupNetwork(name)
		switch {
		case err == nil && (cfg.External || existing.Labels[LabelProject] == p.Name):
			continue
		case err == nil:
			return fmt.Errorf("network %s exists and is not project %s's: remove it, or declare it external", name, p.Name)
		case !errors.Is(err, engine.ErrNoNetwork):
			return err
		case cfg.External:
			return fmt.Errorf("external network %s not found: make it with network create %s", name, name)
		}
		req := engine.NetworkRequest{Name: name, Internal: cfg.Internal,
			Labels: mergeLabels(cfg.Labels, map[string]string{LabelProject: p.Name, LabelNetwork: key})}
		if cfg.IPAM != nil && len(cfg.IPAM.Config) > 0 {
			req.Subnet = cfg.IPAM.Config[0].Subnet
		}
		if _, err := e.CreateNetwork(req); err != nil {
			return err
		}
		fmt.Fprintf(out, " Network %s  Created\n", name)
	}
	return nil
}

func (p *Project) makeVolumes(e *engine.Engine, out io.Writer) error {
	for _, key := range sortedKeys(p.Volumes) {
		cfg, name := p.Volumes[key], p.VolumeName(key)
		if _, err := e.Volumes.Get(name); err == nil {
			continue
		} else if !errors.Is(err, engine.ErrNoVolume) {
			return err
		}
		if cfg.External {
			return fmt.Errorf("external volume %s not found: make it with volume create %s", name, name)
		}
		if _, err := e.Volumes.Create(name, false); err != nil {
			return err
		}
		fmt.Fprintf(out, " Volume %s  Created\n", name)
	}
	return nil
}

// buildImage builds a service's image if it has a build: section and the image is missing
// (or always, with force).
func (p *Project) buildImage(e *engine.Engine, s *Service, force bool, out io.Writer) error {
	if s.Build == nil {
		return nil
	}
	ref := p.ImageName(s)
	if _, err := e.Images.Inspect(ref); err == nil && !force {
		return nil
	} else if err != nil && !errors.Is(err, image.ErrNotFound) {
		return err
	}
	opts := build.Options{ContextDir: s.Build.Context, Tags: []string{ref}, BuildArgs: s.Build.Args, Target: s.Build.Target, Output: out}
	if s.Build.Dockerfile != "" {
		opts.Dockerfile = s.Build.Dockerfile
		if !filepath.IsAbs(opts.Dockerfile) {
			opts.Dockerfile = filepath.Join(s.Build.Context, opts.Dockerfile)
		}
	}
	fmt.Fprintf(out, " Image %s  Building\n", ref)
	if _, err := build.Build(e, opts); err != nil {
		return fmt.Errorf("service %s: build: %w", s.Name, err)
	}
	fmt.Fprintf(out, " Image %s  Built\n", ref)
	return nil
}

// runService makes sure the service's container runs with its current configuration.
func (p *Project) runService(e *engine.Engine, s *Service, out io.Writer) error {
	req, err := p.CreateRequest(e, s)
	if err != nil {
		return err
	}
	name := req.Name
	c, err := e.Store.Get(name)
	switch {
	case err == nil && c.Config.Labels[LabelProject] != p.Name:
		return fmt.Errorf("the container name %s is taken by a container that is not project %s's", name, p.Name)
	case err == nil && c.Config.Labels[LabelConfigHash] == req.Config.Labels[LabelConfigHash]:
		if c.State.Running() {
			fmt.Fprintf(out, " Container %s  Running\n", name)
			return nil
		}
	case err == nil:
		if err := e.Stop(c.ID, syscall.SIGTERM, p.stopTimeout(s)); err != nil {
			return err
		}
		if err := e.Remove(c.ID, true, true); err != nil {
			return err
		}
		fmt.Fprintf(out, " Container %s  Recreated\n", name)
		c = nil
	case errors.Is(err, engine.ErrNotFound):
		c = nil
	default:
		return err
	}
	if c == nil {
		if c, err = e.Create(req); err != nil {
			return err
		}
		fmt.Fprintf(out, " Container %s  Created\n", name)
	}
	if _, err := e.Start(c.ID, nil); err != nil {
		return err
	}
	fmt.Fprintf(out, " Container %s  Started\n", name)
	return nil
}

// CreateRequest is what the engine is asked to make for a service: its image and its
// configuration in the engine's terms, labelled with the project, the service and a hash
// of the configuration, by which up recognises an unchanged container.
func (p *Project) CreateRequest(e *engine.Engine, s *Service) (engine.CreateRequest, error) {
	cfg := engine.Config{
		Cmd: s.Command, Env: s.Environment, WorkingDir: s.WorkingDir, User: s.User, Hostname: s.Hostname,
		ReadOnly: s.ReadOnly, Privileged: s.Privileged, CapAdd: s.CapAdd, CapDrop: s.CapDrop,
		PidsLimit: s.PidsLimit, Tty: s.Tty, OpenStdin: s.StdinOpen,
	}
	if s.Entrypoint != nil {
		cfg.EntrypointSet, cfg.Entrypoint = true, s.Entrypoint
	}
	var err error
	if s.MemLimit != "" {
		if cfg.Memory, err = cgroup.ParseSize(string(s.MemLimit)); err != nil {
			return engine.CreateRequest{}, err
		}
	}
	if s.CPUs != "" {
		if cfg.CPUs, err = cgroup.ParseCPUs(string(s.CPUs)); err != nil {
			return engine.CreateRequest{}, err
		}
	}
	for _, port := range s.Ports {
		cfg.Publish = append(cfg.Publish, port.String())
	}
	for _, v := range s.Volumes {
		arg := v.Target
		switch {
		case v.Type == "bind":
			arg = v.Source + ":" + v.Target
		case v.Source != "":
			arg = p.VolumeName(v.Source) + ":" + v.Target
		}
		if v.ReadOnly {
			arg += ":ro"
		}
		cfg.Volumes = append(cfg.Volumes, arg)
	}
	if s.NetworkMode != "" {
		cfg.NetworkMode = s.NetworkMode
	} else {
		// The first network is the container's way out (its default route, its published
		// ports), so an internal one comes last, as Docker takes its gateway from a
		// network that has one.
		keys := sortedKeys(s.Networks)
		sort.SliceStable(keys, func(i, j int) bool { return !p.internal(keys[i]) && p.internal(keys[j]) })
		cfg.Networks = map[string]engine.EndpointConfig{}
		for _, key := range keys {
			// The service's name is an alias on each of its networks: that is how the
			// other services reach it.
			aliases := append([]string{s.Name}, s.Networks[key].Aliases...)
			cfg.Networks[p.NetworkName(key)] = engine.EndpointConfig{Aliases: aliases}
		}
		cfg.NetworkMode = p.NetworkName(keys[0])
	}
	if s.Restart != "" {
		if cfg.RestartPolicy, err = engine.ParseRestartPolicy(s.Restart); err != nil {
			return engine.CreateRequest{}, err
		}
	}
	cfg.Healthcheck = s.Healthcheck.engineConfig()
	cfg.Labels = mergeLabels(s.Labels, map[string]string{
		LabelProject: p.Name, LabelService: s.Name, LabelNumber: "1", LabelOneOff: "False",
	})
	ref := p.ImageName(s)
	hash := sha256.New()
	data, err := json.Marshal(cfg)
	if err != nil {
		return engine.CreateRequest{}, err
	}
	hash.Write(data)
	// A rebuilt or re-pulled image is a change too.
	if d, err := e.Images.Inspect(ref); err == nil {
		hash.Write([]byte(d.ID.String()))
	}
	cfg.Labels[LabelConfigHash] = hex.EncodeToString(hash.Sum(nil))
	return engine.CreateRequest{Name: p.ContainerName(s), Image: ref, Config: cfg, Pull: true}, nil
}

// engineConfig is the health check in the engine's (and the image config's) terms; nil
// leaves the image's.
func (h *Healthcheck) engineConfig() *v1.HealthConfig {
	if h == nil {
		return nil
	}
	if h.Disable {
		return &v1.HealthConfig{Test: []string{"NONE"}}
	}
	hc := &v1.HealthConfig{Test: h.Test}
	if h.Interval != nil {
		hc.Interval = time.Duration(*h.Interval)
	}
	if h.Timeout != nil {
		hc.Timeout = time.Duration(*h.Timeout)
	}
	if h.StartPeriod != nil {
		hc.StartPeriod = time.Duration(*h.StartPeriod)
	}
	if h.Retries != nil {
		hc.Retries = *h.Retries
	}
	return hc
}

// waitFor waits until a service is as depends_on asks: started, healthy (after its health
// check first succeeds), or completed successfully (exited with status 0). It fails as
// soon as that can no longer happen: the service is unhealthy, or ended, or ended badly.
func (p *Project) waitFor(ctx context.Context, e *engine.Engine, dep *Service, condition string, out io.Writer) error {
	name := p.ContainerName(dep)
	waiting := false
	for {
		c, err := e.Store.Get(name)
		if err != nil {
			return err
		}
		switch condition {
		case ServiceStarted:
			return nil
		case ServiceHealthy:
			if c.State.Health == nil && c.State.Running() {
				return fmt.Errorf("container %s has no health check, so it cannot be service_healthy", name)
			}
			switch {
			case c.State.Health != nil && c.State.Health.Status == engine.HealthHealthy && c.State.Status == engine.StatusRunning:
				fmt.Fprintf(out, " Container %s  Healthy\n", name)
				return nil
			case c.State.Health != nil && c.State.Health.Status == engine.HealthUnhealthy:
				return fmt.Errorf("container %s is unhealthy", name)
			case !c.State.Running():
				return fmt.Errorf("container %s exited (%d) before it was healthy", name, c.State.ExitCode)
			}
		case ServiceCompletedSuccessfully:
			if !c.State.Running() && c.State.Status != engine.StatusCreated {
				if c.State.ExitCode != 0 {
					return fmt.Errorf("container %s did not complete successfully: exit %d", name, c.State.ExitCode)
				}
				fmt.Fprintf(out, " Container %s  Exited\n", name)
				return nil
			}
		}
		if !waiting {
			fmt.Fprintf(out, " Container %s  Waiting\n", name)
			waiting = true
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(pollInterval):
		}
	}
}

// Containers lists the containers of project name (by its label), newest first.
func Containers(e *engine.Engine, name string) ([]*engine.Container, error) {
	all, err := e.Store.List()
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(all, func(c *engine.Container) bool { return c.Config.Labels[LabelProject] != name }), nil
}

// ServiceContainer is the container of a service, for exec and logs.
func (p *Project) ServiceContainer(e *engine.Engine, service string) (*engine.Container, error) {
	s, ok := p.Services[service]
	if !ok {
		return nil, fmt.Errorf("no service %q in project %s", service, p.Name)
	}
	c, err := e.Store.Get(p.ContainerName(s))
	if errors.Is(err, engine.ErrNotFound) {
		return nil, fmt.Errorf("service %s has no container: run compose up first", service)
	}
	return c, err
}

// selected lists the services named (all of them for none), in start order.
func (p *Project) selected(services []string) ([]*Service, error) {
	order, err := p.StartOrder()
	if err != nil {
		return nil, err
	}
	for _, name := range services {
		if _, ok := p.Services[name]; !ok {
			return nil, fmt.Errorf("no service %q in project %s", name, p.Name)
		}
	}
	if len(services) == 0 {
		return order, nil
	}
	return slices.DeleteFunc(order, func(s *Service) bool { return !slices.Contains(services, s.Name) }), nil
}

func (p *Project) internal(key string) bool {
	n := p.Networks[key]
	return n != nil && n.Internal
}

func (p *Project) stopTimeout(s *Service) time.Duration {
	if s.StopGrace != nil {
		return time.Duration(*s.StopGrace)
	}
	return DefaultStopTimeout
}

// Stop stops the services' containers (all for none), dependents first.
//
// Equivalent to: `docker compose stop [SERVICE...]`.
func Stop(e *engine.Engine, p *Project, services []string, out io.Writer) error {
	sel, err := p.selected(services)
	if err != nil {
		return err
	}
	slices.Reverse(sel)
	for _, s := range sel {
		c, err := e.Store.Get(p.ContainerName(s))
		if errors.Is(err, engine.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		if !c.State.Running() {
			continue
		}
		if err := e.Stop(c.ID, syscall.SIGTERM, p.stopTimeout(s)); err != nil {
			return err
		}
		fmt.Fprintf(out, " Container %s  Stopped\n", c.Name)
	}
	return nil
}

// Start starts the services' existing containers (all for none), in dependency order,
// waiting for each one's dependencies as up does.
//
// Equivalent to: `docker compose start [SERVICE...]`.
func Start(ctx context.Context, e *engine.Engine, p *Project, services []string, out io.Writer) error {
	sel, err := p.selected(services)
	if err != nil {
		return err
	}
	for _, s := range sel {
		c, err := e.Store.Get(p.ContainerName(s))
		if errors.Is(err, engine.ErrNotFound) {
			return fmt.Errorf("service %s has no container: run compose up first", s.Name)
		}
		if err != nil {
			return err
		}
		for _, dep := range sortedKeys(s.DependsOn) {
			if err := p.waitFor(ctx, e, p.Services[dep], s.DependsOn[dep].Condition, out); err != nil {
				return fmt.Errorf("service %s depends on %s: %w", s.Name, dep, err)
			}
		}
		if c.State.Running() {
			continue
		}
		if _, err := e.Start(c.ID, nil); err != nil {
			return err
		}
		fmt.Fprintf(out, " Container %s  Started\n", c.Name)
	}
	return nil
}

// Down removes what Up made: the project's containers (stopped first, dependents first),
// its networks, and with volumes its named volumes and the containers' anonymous ones.
// External networks and volumes stay.
//
// Equivalent to: `docker compose down [-v]`.
func Down(e *engine.Engine, p *Project, volumes bool, out io.Writer) error {
	if err := Stop(e, p, nil, io.Discard); err != nil {
		return err
	}
	containers, err := Containers(e, p.Name)
	if err != nil {
		return err
	}
	for _, c := range containers {
		if err := e.Remove(c.ID, true, volumes); err != nil {
			return err
		}
		fmt.Fprintf(out, " Container %s  Removed\n", c.Name)
	}
	networks, err := e.Networks()
	if err != nil {
		return err
	}
	for _, n := range networks {
		if n.Labels[LabelProject] != p.Name {
			continue
		}
		if err := e.RemoveNetwork(n.Name); err != nil {
			return err
		}
		fmt.Fprintf(out, " Network %s  Removed\n", n.Name)
	}
	if !volumes {
		return nil
	}
	for _, key := range sortedKeys(p.Volumes) {
		if p.Volumes[key].External {
			continue
		}
		name := p.VolumeName(key)
		if _, err := e.Volumes.Get(name); errors.Is(err, engine.ErrNoVolume) {
			continue
		}
		if err := e.Volumes.Remove(name); err != nil {
			return err
		}
		fmt.Fprintf(out, " Volume %s  Removed\n", name)
	}
	return nil
}

func mergeLabels(user, ours map[string]string) map[string]string {
	merged := map[string]string{}
	for k, v := range user {
		merged[k] = v
	}
	for k, v := range ours {
		merged[k] = v
	}
	return merged
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
