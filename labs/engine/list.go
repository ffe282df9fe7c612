package engine

import (
	"fmt"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"containerlabs/labs/image"
)

// The formats `ps`, `images` and `volume ls` print without --format: Docker's columns.
const (
	DefaultContainerFormat = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"
	DefaultImageFormat     = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
	DefaultVolumeFormat    = "table {{.Driver}}\t{{.Name}}"
)

// ContainerSummary is one line of `ps`: the fields a --format template can name, with
// Docker's names, already written as ps shows them.
type ContainerSummary struct {
	ID, Image, Command, CreatedAt, RunningFor, Status, State, Ports, Names, Mounts, Networks string
}

// ContainerHeader is the header row of a `ps` table.
var ContainerHeader = ContainerSummary{
	ID: "CONTAINER ID", Image: "IMAGE", Command: "COMMAND", CreatedAt: "CREATED AT", RunningFor: "CREATED",
	Status: "STATUS", State: "STATE", Ports: "PORTS", Names: "NAMES", Mounts: "MOUNTS", Networks: "NETWORKS",
}

// Summarize describes a container as `ps` shows it, at time now.
func Summarize(c *Container, now time.Time) ContainerSummary {
	cmd := strings.Join(append(append([]string(nil), c.Config.Entrypoint...), c.Config.Cmd...), " ")
	if len(cmd) > 20 {
		cmd = cmd[:19] + "…"
	}
	var mounts []string
	for _, m := range c.Mounts {
		if m.Name != "" {
			mounts = append(mounts, m.Name)
		} else {
			mounts = append(mounts, m.Source)
		}
	}
	return ContainerSummary{
		ID: short(c.ID), Image: c.Image, Command: `"` + cmd + `"`,
		CreatedAt: c.Created.Local().Format("2006-01-02 15:04:05 -0700 MST"), RunningFor: Ago(c.Created, now),
		Status: statusLine(c, now), State: c.State.Status, Ports: strings.Join(c.Network.Ports, ", "),
		Names: c.Name, Mounts: strings.Join(mounts, ","), Networks: strings.Join(containerNetworks(c.Config), ","),
	}
}

// statusLine is ps's STATUS: "Up 5 minutes", "Exited (0) 2 hours ago".
func statusLine(c *Container, now time.Time) string {
	switch c.State.Status {
	case StatusRunning:
		return "Up " + HumanDuration(now.Sub(c.State.StartedAt)) + healthSuffix(c.State.Health)
	case StatusRestarting:
		return fmt.Sprintf("Restarting (%d) %s", c.State.ExitCode, Ago(c.State.FinishedAt, now))
	case StatusExited:
		s := fmt.Sprintf("Exited (%d) %s", c.State.ExitCode, Ago(c.State.FinishedAt, now))
		if c.State.OOMKilled {
			s += " (OOM)"
		}
		return s
	}
	return "Created"
}

// healthSuffix is what ps adds to a running container's status: " (healthy)",
// " (unhealthy)" or " (health: starting)".
func healthSuffix(h *Health) string {
	switch {
	case h == nil:
		return ""
	case h.Status == HealthStarting:
		return " (health: starting)"
	}
	return " (" + h.Status + ")"
}

// Ago says how long before now t was: "5 minutes ago".
func Ago(t, now time.Time) string { return HumanDuration(now.Sub(t)) + " ago" }

// HumanDuration writes a duration as ps does: "12 seconds", "5 minutes", "3 days".
func HumanDuration(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%d seconds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%d minutes", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d hours", int(d.Hours()))
	}
	return fmt.Sprintf("%d days", int(d.Hours()/24))
}

// ImageSummary is one line of `images`, with Docker's field names.
type ImageSummary struct {
	Repository, Tag, ID, Digest, CreatedSince, CreatedAt, Size string
}

// ImageHeader is the header row of an `images` table.
var ImageHeader = ImageSummary{
	Repository: "REPOSITORY", Tag: "TAG", ID: "IMAGE ID", Digest: "DIGEST",
	CreatedSince: "CREATED", CreatedAt: "CREATED AT", Size: "SIZE",
}

// SummarizeImage describes an image as `images` shows it. A dangling image (one whose
// name moved to another image) is <none>:<none>, as in Docker.
func SummarizeImage(s image.Summary, now time.Time) ImageSummary {
	repo, tag := SplitRef(s.Ref)
	return ImageSummary{
		Repository: repo, Tag: tag, ID: s.ID.Hex[:12], Digest: s.Digest.String(),
		CreatedSince: Ago(s.Created, now), CreatedAt: s.Created.Local().Format("2006-01-02 15:04:05 -0700 MST"),
		Size: fmt.Sprintf("%.1fMB", float64(s.Size)/1e6),
	}
}

// SplitRef splits "host:5000/repo:tag" at the tag's colon, not the port's; an empty
// reference (a dangling image) is <none>:<none>.
func SplitRef(ref string) (string, string) {
	if ref == "" {
		return "<none>", "<none>"
	}
	slash := strings.LastIndex(ref, "/")
	if i := strings.LastIndex(ref, ":"); i > slash {
		return ref[:i], ref[i+1:]
	}
	return ref, "latest"
}

// VolumeSummary is one line of `volume ls`.
type VolumeSummary struct {
	Driver, Name, Mountpoint string
}

// VolumeHeader is the header row of a `volume ls` table.
var VolumeHeader = VolumeSummary{Driver: "DRIVER", Name: "VOLUME NAME", Mountpoint: "MOUNTPOINT"}

// SummarizeVolume describes a volume as `volume ls` shows it.
func SummarizeVolume(v *Volume) VolumeSummary {
	return VolumeSummary{Driver: "local", Name: v.Name, Mountpoint: v.Mountpoint}
}

// Filters are --filter KEY=VALUE arguments, as Docker reads them: the values of one key
// are alternatives (status=running --filter status=exited shows both), different keys
// must all match.
type Filters map[string][]string

// The keys each listing filters on.
var (
	ContainerFilterKeys = []string{"id", "name", "status", "ancestor", "exited", "volume", "label", "network", "health"}
	ImageFilterKeys     = []string{"dangling", "reference"}
	VolumeFilterKeys    = []string{"dangling", "name"}
)

// ParseFilters reads --filter arguments, accepting only the given keys.
func ParseFilters(args []string, keys []string) (Filters, error) {
	f := Filters{}
	for _, arg := range args {
		key, value, ok := strings.Cut(arg, "=")
		if !ok || value == "" {
			return nil, fmt.Errorf("--filter %q: want KEY=VALUE", arg)
		}
		if !slices.Contains(keys, key) {
			return nil, fmt.Errorf("--filter %q: unknown key %s (want one of %s)", arg, key, strings.Join(keys, ", "))
		}
		if key == "dangling" && value != "true" && value != "false" {
			return nil, fmt.Errorf("--filter %q: dangling is true or false", arg)
		}
		if n, err := strconv.Atoi(value); key == "exited" && (err != nil || n < 0 || n > 255) {
			return nil, fmt.Errorf("--filter %q: exited is an exit status, a number from 0 to 255", arg)
		}
		if key == "status" && !slices.Contains([]string{StatusCreated, StatusRunning, StatusRestarting, StatusExited}, value) {
			return nil, fmt.Errorf("--filter %q: status is created, running, restarting or exited", arg)
		}
		if key == "health" && !slices.Contains([]string{HealthStarting, HealthHealthy, HealthUnhealthy, "none"}, value) {
			return nil, fmt.Errorf("--filter %q: health is starting, healthy, unhealthy or none", arg)
		}
		f[key] = append(f[key], value)
	}
	return f, nil
}

// Has reports whether the filters say anything about key.
func (f Filters) Has(key string) bool { return len(f[key]) > 0 }

// accepts reports whether any value of key passes test, or the filters do not name key.
func (f Filters) accepts(key string, test func(value string) bool) bool {
	return !f.Has(key) || slices.ContainsFunc(f[key], test)
}

// MatchContainer applies the filters of `ps`: id (a prefix), name (a regular expression
// matched anywhere in the name), status, ancestor (the image), exited (the exit status of
// an exited container), volume (a volume name or a mount's destination), label (KEY or
// KEY=VALUE), network (a network it joins) and health.
func (f Filters) MatchContainer(c *Container) bool {
	return f.accepts("id", func(v string) bool { return strings.HasPrefix(c.ID, v) }) &&
		f.accepts("name", func(v string) bool { return matchName(v, c.Name) }) &&
		f.accepts("status", func(v string) bool { return c.State.Status == v }) &&
		f.accepts("ancestor", func(v string) bool {
			normal, err := image.Normalize(v)
			return c.Image == v || (err == nil && c.Image == normal)
		}) &&
		f.accepts("exited", func(v string) bool {
			return c.State.Status == StatusExited && fmt.Sprint(c.State.ExitCode) == v
		}) &&
		f.accepts("volume", func(v string) bool {
			return slices.ContainsFunc(c.Mounts, func(m Mount) bool { return m.Name == v || m.Destination == v })
		}) &&
		f.accepts("label", func(v string) bool {
			key, value, hasValue := strings.Cut(v, "=")
			have, ok := c.Config.Labels[key]
			return ok && (!hasValue || have == value)
		}) &&
		f.accepts("network", func(v string) bool {
			return slices.Contains(containerNetworks(c.Config), v)
		}) &&
		f.accepts("health", func(v string) bool {
			if c.State.Health == nil || c.State.Status != StatusRunning {
				return v == "none"
			}
			return c.State.Health.Status == v
		})
}

// matchName matches a name filter as a regular expression, or as plain text if it is not one.
func matchName(pattern, name string) bool {
	re, err := regexp.Compile(pattern)
	if err != nil {
		return strings.Contains(name, pattern)
	}
	return re.MatchString(name)
}

// MatchImage applies the filters of `images`: dangling (true for images without a name)
// and reference (a glob, matched against REPOSITORY and REPOSITORY:TAG).
func (f Filters) MatchImage(s image.Summary) bool {
	repo, tag := SplitRef(s.Ref)
	return f.accepts("dangling", func(v string) bool { return (s.Ref == "") == (v == "true") }) &&
		f.accepts("reference", func(v string) bool {
			ok1, _ := path.Match(v, repo)
			ok2, _ := path.Match(v, repo+":"+tag)
			return s.Ref != "" && (ok1 || ok2)
		})
}

// MatchVolume applies the filters of `volume ls`: dangling (true for volumes no
// container mounts; users are the containers that do) and name (a part of the name).
func (f Filters) MatchVolume(v *Volume, users []string) bool {
	return f.accepts("dangling", func(d string) bool { return (len(users) == 0) == (d == "true") }) &&
		f.accepts("name", func(n string) bool { return strings.Contains(v.Name, n) })
}

// ImageDocument is what inspect shows of an image: Docker's keys (Id, RepoTags, Created,
// Architecture, Os, Config, Size) and the store's own view of it (the manifest, and each
// layer's blob, diff ID and the directory it is unpacked in).
type ImageDocument struct {
	ID           string `json:"Id"`
	RepoTags     []string
	Digest       string
	Created      time.Time
	Author       string
	Architecture string
	Os           string
	Config       v1.Config
	History      []v1.History
	Size         int64
	Manifest     *v1.Manifest
	Layers       []image.Layer
}

// InspectImage describes the image ref names.
//
// Equivalent to: `docker image inspect REF`.
func (e *Engine) InspectImage(ref string) (*ImageDocument, error) {
	d, err := e.Images.Inspect(ref)
	if err != nil {
		return nil, err
	}
	doc := &ImageDocument{
		ID: d.ID.String(), Digest: d.Digest.String(), Created: d.Config.Created.Time, Author: d.Config.Author,
		Architecture: d.Config.Architecture, Os: d.Config.OS, Config: d.Config.Config, History: d.Config.History,
		Manifest: d.Manifest, Layers: d.Layers,
	}
	for _, l := range d.Layers {
		doc.Size += l.Size
	}
	all, err := e.Images.List()
	if err != nil {
		return nil, err
	}
	for _, s := range all {
		if s.ID == d.ID && s.Ref != "" {
			doc.RepoTags = append(doc.RepoTags, s.Ref)
		}
	}
	return doc, nil
}
