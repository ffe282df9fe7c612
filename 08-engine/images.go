package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"containerlabs/labs/build"
	"containerlabs/labs/engine"
	"containerlabs/labs/image"
	"containerlabs/scripts/i18n"
)

// imageCommands are lab 07's image operations, over the same store, plus commit and export
// of the engine's own containers.
var imageCommands = map[string]func(*engine.Engine, []string) (int, error){
	"images": images,
	"pull":   pull,
	"push":   push,
	"rmi":    rmi,
	"tag":    tag,
	"commit": commit,
	"export": export,
	"import": importImage,
	"save":   save,
	"load":   load,
}

func images(e *engine.Engine, args []string) (int, error) {
	o := newOptions("images")
	quiet := o.Bool("-q,--quiet", "only IDs")
	format := o.String("--format", "a Go template per image ({{.Repository}} {{.Tag}} {{.ID}}...); 'table ...' adds a header")
	filter := o.String("-f,--filter", "only images that match: dangling=true|false, reference=GLOB")
	all := o.Bool("-a,--all", "also the images of the build cache (one per build step)")
	if _, err := o.parse(args, false); err != nil {
		return 125, err
	}
	filters, err := engine.ParseFilters(filter.values, engine.ImageFilterKeys)
	if err != nil {
		return 125, err
	}
	list, err := e.Images.List()
	if err != nil {
		return 125, err
	}
	var rows []engine.ImageSummary
	for _, s := range list {
		if strings.HasPrefix(s.Ref, build.CacheRepository+":") && !all.set {
			continue
		}
		if filters.MatchImage(s) {
			rows = append(rows, engine.SummarizeImage(s, time.Now()))
		}
	}
	return listRows(quiet.set, format, engine.DefaultImageFormat, "{{.ID}}", engine.ImageHeader, rows)
}

func registryOptions(command string, args []string) (image.Options, []string, error) {
	o := newOptions(command)
	insecure := o.Bool("--insecure", "allow plain HTTP to the registry")
	usage := fmt.Errorf("usage: 08-engine %s [--insecure] IMAGE", command)
	var noUnpack *option
	if command == "pull" {
		noUnpack = o.Bool("--no-unpack", "store the layer blobs only; they are unpacked when a container first needs them")
		usage = fmt.Errorf("usage: 08-engine pull [--insecure] [--no-unpack] IMAGE")
	}
	rest, err := o.parse(args, false)
	if err != nil || len(rest) != 1 {
		return image.Options{}, nil, usage
	}
	opts := image.Options{Insecure: insecure.set, Progress: image.ProgressBar(os.Stderr, command)}
	opts.BlobsOnly = noUnpack != nil && noUnpack.set
	return opts, rest, nil
}

func pull(e *engine.Engine, args []string) (int, error) {
	opts, rest, err := registryOptions("pull", args)
	if err != nil {
		return 125, err
	}
	digest, err := e.Images.Pull(context.Background(), rest[0], opts)
	if err != nil {
		return 125, err
	}
	fmt.Println("Digest:", digest)
	return 0, nil
}

func push(e *engine.Engine, args []string) (int, error) {
	opts, rest, err := registryOptions("push", args)
	if err != nil {
		return 125, err
	}
	digest, err := e.Images.Push(context.Background(), rest[0], opts)
	if err != nil {
		return 125, err
	}
	fmt.Println("Digest:", digest)
	return 0, nil
}

func rmi(e *engine.Engine, args []string) (int, error) {
	if len(args) == 0 {
		return 125, fmt.Errorf("usage: 08-engine rmi IMAGE...")
	}
	return each(args, func(ref string) error {
		normal, err := image.Normalize(ref)
		if err != nil {
			return err
		}
		containers, err := e.Store.List()
		if err != nil {
			return err
		}
		for _, c := range containers {
			if c.Image == normal {
				return errors.New(i18n.Sprintf("image %s is used by container %s: remove the container first", normal, c.Name))
			}
		}
		_, err = e.Images.Remove(ref)
		return err
	})
}

func tag(e *engine.Engine, args []string) (int, error) {
	if len(args) != 2 {
		return 125, fmt.Errorf("usage: 08-engine tag IMAGE NEWNAME")
	}
	return 0, e.Images.Tag(args[0], args[1])
}

func commit(e *engine.Engine, args []string) (int, error) {
	o := newOptions("commit")
	author := o.String("-a,--author", "the author")
	message := o.String("-m,--message", "the commit message")
	rest, err := o.parse(args, false)
	if err != nil || len(rest) != 2 {
		return 125, fmt.Errorf("usage: 08-engine commit [-a AUTHOR] [-m MESSAGE] CONTAINER IMAGE")
	}
	c, err := e.Store.Get(rest[0])
	if err != nil {
		return 125, err
	}
	digest, err := e.Images.Commit(c.Image, e.Store.Dir(c.ID)+"/upper", rest[1], image.Meta{
		Author: author.Value(), Comment: message.Value(), CreatedBy: "08-engine commit " + c.Name,
	})
	if err != nil {
		return 125, err
	}
	fmt.Println(digest)
	return 0, nil
}

func export(e *engine.Engine, args []string) (int, error) {
	o := newOptions("export")
	output := o.String("-o,--output", "the tar file to write (default: standard output)")
	rest, err := o.parse(args, false)
	if err != nil || len(rest) != 1 {
		return 125, fmt.Errorf("usage: 08-engine export [-o FILE] CONTAINER")
	}
	return 0, image.WriteArchive(output.Value(), func(w io.Writer) error { return e.Export(rest[0], w) })
}

func importImage(e *engine.Engine, args []string) (int, error) {
	o := newOptions("import")
	change := o.String("-c,--change", `set the default command: 'CMD ["sh"]' or 'CMD sh'`)
	rest, err := o.parse(args, false)
	if err != nil || len(rest) != 2 {
		return 125, fmt.Errorf("usage: 08-engine import [-c 'CMD ...'] FILE.tar|DIR IMAGE")
	}
	meta := image.Meta{CreatedBy: "08-engine import " + rest[0]}
	if change.set {
		cmd, err := parseCmd(change.Value())
		if err != nil {
			return 125, err
		}
		meta.Config = &v1.Config{Cmd: cmd}
	}
	digest, err := e.Images.ImportPath(absPath(rest[0]), rest[1], meta)
	if err != nil {
		return 125, err
	}
	fmt.Println(digest)
	return 0, nil
}

// parseCmd reads a --change CMD instruction in its JSON or shell form.
func parseCmd(change string) ([]string, error) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(change), "CMD ")
	if !ok {
		return nil, fmt.Errorf("--change %q: only CMD is supported", change)
	}
	rest = strings.TrimSpace(rest)
	if strings.HasPrefix(rest, "[") {
		var cmd []string
		if err := json.Unmarshal([]byte(rest), &cmd); err != nil {
			return nil, fmt.Errorf("--change %q: %w", change, err)
		}
		return cmd, nil
	}
	return []string{"/bin/sh", "-c", rest}, nil
}

func save(e *engine.Engine, args []string) (int, error) {
	o := newOptions("save")
	output := o.String("-o,--output", "the tar file to write (default: standard output)")
	format := o.String("--format", "docker-archive (default) or oci-archive")
	rest, err := o.parse(args, false)
	if err != nil || len(rest) == 0 {
		return 125, fmt.Errorf("usage: 08-engine save [-o FILE] [--format docker-archive|oci-archive] IMAGE...")
	}
	f := image.DockerArchive
	if format.set {
		if f, err = image.ParseFormat(format.Value()); err != nil {
			return 125, err
		}
	}
	return 0, image.WriteArchive(output.Value(), func(w io.Writer) error { return e.Images.Save(w, rest, f) })
}

func load(e *engine.Engine, args []string) (int, error) {
	o := newOptions("load")
	input := o.String("-i,--input", "the tar file to read (default: standard input)")
	if rest, err := o.parse(args, false); err != nil || len(rest) != 0 {
		return 125, fmt.Errorf("usage: 08-engine load [-i FILE]")
	}
	in := os.Stdin
	if input.set {
		f, err := os.Open(input.Value())
		if err != nil {
			return 125, err
		}
		defer f.Close()
		in = f
	}
	refs, err := e.Images.Load(in)
	for _, ref := range refs {
		fmt.Println("Loaded image:", ref)
	}
	if err != nil {
		return 125, err
	}
	return 0, nil
}
