package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"containerlabs/labs/engine"
	"containerlabs/labs/rootfs"
	"containerlabs/scripts/i18n"
)

func volume(e *engine.Engine, args []string) (int, error) {
	if len(args) == 0 {
		return 125, fmt.Errorf("usage: 08-engine volume create|ls|inspect|rm")
	}
	switch sub, rest := args[0], args[1:]; sub {
	case "create":
		if len(rest) != 1 {
			return 125, fmt.Errorf("usage: 08-engine volume create NAME")
		}
		v, err := e.Volumes.Create(rest[0], false)
		if err != nil {
			return 125, err
		}
		fmt.Println(v.Name)
	case "ls":
		return volumeList(e, rest)
	case "inspect":
		var out []*engine.Volume
		for _, name := range rest {
			v, err := e.Volumes.Get(name)
			if err != nil {
				return 125, err
			}
			out = append(out, v)
		}
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return 0, enc.Encode(out)
	case "rm":
		return each(rest, func(name string) error {
			if users, err := e.VolumeUsers(name); err != nil {
				return err
			} else if len(users) > 0 {
				return errors.New(i18n.Sprintf("volume %s is in use by %s: remove those containers first", name, strings.Join(users, ", ")))
			}
			return e.Volumes.Remove(name)
		})
	default:
		return 125, fmt.Errorf("unknown volume command %q: want create, ls, inspect or rm", sub)
	}
	return 0, nil
}

func volumeList(e *engine.Engine, args []string) (int, error) {
	o := newOptions("volume ls")
	quiet := o.Bool("-q,--quiet", "only names")
	format := o.String("--format", "a Go template per volume ({{.Name}} {{.Mountpoint}}); 'table ...' adds a header")
	filter := o.String("-f,--filter", "only volumes that match: dangling=true|false, name=PART")
	if _, err := o.parse(args, false); err != nil {
		return 125, err
	}
	filters, err := engine.ParseFilters(filter.values, engine.VolumeFilterKeys)
	if err != nil {
		return 125, err
	}
	vols, err := e.Volumes.List()
	if err != nil {
		return 125, err
	}
	var rows []engine.VolumeSummary
	for _, v := range vols {
		users, err := e.VolumeUsers(v.Name)
		if err != nil {
			return 125, err
		}
		if filters.MatchVolume(v, users) {
			rows = append(rows, engine.SummarizeVolume(v))
		}
	}
	return listRows(quiet.set, format, engine.DefaultVolumeFormat, "{{.Name}}", engine.VolumeHeader, rows)
}

func system(e *engine.Engine, args []string) (int, error) {
	o := newOptions("system prune")
	volumes := o.Bool("--volumes", "also remove volumes no container uses")
	o.Bool("-f,--force", "do not ask (nothing asks here)")
	o.Bool("-a,--all", "accepted for Docker's sake: unused images go with the blobs")
	if len(args) == 0 || args[0] != "prune" {
		return 125, fmt.Errorf("usage: 08-engine system prune [--volumes]")
	}
	if _, err := o.parse(args[1:], false); err != nil {
		return 125, err
	}
	removed, err := e.Prune(volumes.set)
	for _, line := range removed {
		fmt.Println("removed", line)
	}
	if err != nil {
		return 125, err
	}
	return 0, nil
}

// cp copies between a container and the host: CONTAINER:PATH HOSTPATH or HOSTPATH
// CONTAINER:PATH. Paths inside the container are resolved in its own view (symlinks
// included), so a copy can never reach the host's files through the container's links.
func cp(e *engine.Engine, args []string) (int, error) {
	if len(args) != 2 {
		return 125, fmt.Errorf("usage: 08-engine cp CONTAINER:PATH HOSTPATH | HOSTPATH CONTAINER:PATH")
	}
	from, to := args[0], args[1]
	if ref, path, ok := containerPath(e, from); ok {
		// Container to host: into HOSTPATH if it is a directory, else as HOSTPATH.
		dest, name := to, ""
		if info, err := os.Stat(to); err != nil || !info.IsDir() {
			dest, name = filepath.Dir(to), filepath.Base(to)
		}
		staging, err := os.MkdirTemp(dest, ".cp-")
		if err != nil {
			return 125, err
		}
		defer os.RemoveAll(staging)
		pr, pw := io.Pipe()
		go func() { pw.CloseWithError(e.CopyFrom(ref, path, pw)) }()
		if err := rootfs.ExtractTar(pr, staging); err != nil {
			return 125, err
		}
		base := filepath.Base(filepath.Join("/", path))
		if name == "" {
			name = base
		}
		return 0, os.Rename(filepath.Join(staging, base), filepath.Join(dest, name))
	}
	if ref, path, ok := containerPath(e, to); ok {
		// Host to container: into PATH, which must be a directory in the container.
		src := absPath(from)
		info, err := os.Stat(src)
		if err != nil {
			return 125, err
		}
		pr, pw := io.Pipe()
		go func() { pw.CloseWithError(engine.TarPath(pw, src, filepath.Base(src), info)) }()
		return 0, e.CopyTo(ref, path, pr)
	}
	return 125, fmt.Errorf("cp: one of %q and %q must be CONTAINER:PATH", from, to)
}

// containerPath splits CONTAINER:PATH when CONTAINER names a container.
func containerPath(e *engine.Engine, arg string) (string, string, bool) {
	ref, path, ok := strings.Cut(arg, ":")
	if !ok || ref == "" || strings.Contains(ref, "/") {
		return "", "", false
	}
	if _, err := e.Store.Resolve(ref); err != nil {
		return "", "", false
	}
	return ref, path, true
}
