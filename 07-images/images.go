package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"containerlabs/labs/image"
	"containerlabs/labs/overlay"
	"containerlabs/labs/state"
	"containerlabs/scripts/i18n"
)

// images runs one of the image subcommands. Each is a thin layer over labs/image: read the
// code there for how it works.
func images(command string, args []string) (int, error) {
	flags := flag.NewFlagSet(command, flag.ContinueOnError)
	flags.SetOutput(io.Discard)
	output := flags.String("o", "", "the file to write")
	input := flags.String("i", "", "the file to read")
	format := flags.String("format", "docker-archive", "docker-archive or oci-archive")
	insecure := flags.Bool("insecure", false, "allow plain HTTP to the registry")
	cmd := flags.String("cmd", "", "the new image's default command (import)")
	args, err := parseAnywhere(flags, args)
	if err != nil {
		return 2, fmt.Errorf("%v\n%s", err, i18n.T(usage))
	}
	store, err := image.Open(imageRoot())
	if err != nil {
		return 1, err
	}
	opts := image.Options{Insecure: *insecure, Progress: image.ProgressBar(os.Stderr, command)}
	ctx := context.Background()
	switch {
	case command == "import" && len(args) == 2:
		err = importImage(store, args[0], args[1], *cmd)
	case command == "export" && len(args) == 1 && *output != "":
		err = image.WriteArchive(*output, func(w io.Writer) error { return export(store, args[0], w) })
	case command == "commit" && len(args) == 2:
		err = commit(store, args[0], args[1])
	case command == "save" && len(args) >= 1 && *output != "":
		var f image.Format
		if f, err = image.ParseFormat(*format); err == nil {
			err = image.WriteArchive(*output, func(w io.Writer) error { return store.Save(w, args, f) })
		}
	case command == "load" && len(args) == 0 && *input != "":
		err = load(store, *input)
	case command == "push" && len(args) == 1:
		err = report(store.Push(ctx, args[0], opts))
	case command == "pull" && len(args) == 1:
		err = report(store.Pull(ctx, args[0], opts))
	case command == "tag" && len(args) == 2:
		err = store.Tag(args[0], args[1])
	case command == "ls" && len(args) == 0:
		err = list(store)
	case command == "inspect" && len(args) == 1:
		err = inspect(store, args[0])
	default:
		return 2, errUsage
	}
	if err != nil {
		return 1, err
	}
	return 0, nil
}

// parseAnywhere parses flags wherever they appear among the arguments, as Docker's
// command line does ("save REF -o FILE"), and returns the other arguments.
func parseAnywhere(flags *flag.FlagSet, args []string) ([]string, error) {
	var rest []string
	for {
		if err := flags.Parse(args); err != nil {
			return nil, err
		}
		if flags.NArg() == 0 {
			return rest, nil
		}
		rest = append(rest, flags.Arg(0))
		args = flags.Args()[1:]
	}
}

// importImage makes a one-layer image of a root file system, from a tar file or a folder.
func importImage(store *image.Store, source, ref, cmd string) error {
	meta := image.Meta{CreatedBy: "07-images import " + source}
	if cmd != "" {
		meta.Config = &v1.Config{Cmd: strings.Fields(cmd)}
	}
	return report(store.ImportPath(source, ref, meta))
}

// export writes a container's merged files, or an image's flattened ones, as one tar, as
// `docker export` does. A stopped container's overlay is mounted for the time it takes.
func export(store *image.Store, name string, w io.Writer) error {
	containers, err := state.Open(state.RootFromEnv())
	if err != nil {
		return err
	}
	var r record
	c, err := containers.Load(name, &r)
	if errors.Is(err, state.ErrNotFound) || state.ValidName(name) != nil {
		return store.ExportImage(w, name)
	}
	if err != nil {
		return err
	}
	if running, err := c.Running(); err != nil || running {
		return errors.New(i18n.Sprintf("export %s: the container is running; export it when it has stopped", name))
	}
	if err := overlay.Mount(r.Layers, c.Upper(), c.Work(), c.Merged()); err != nil {
		return err
	}
	defer overlay.Unmount(c.Merged())
	return image.ExportDir(w, c.Merged())
}

// commit turns a stopped container's upper directory into a new layer on top of its image.
func commit(store *image.Store, name, ref string) error {
	containers, err := state.Open(state.RootFromEnv())
	if err != nil {
		return err
	}
	var r record
	c, err := containers.Load(name, &r)
	if err != nil {
		return err
	}
	if running, err := c.Running(); err != nil || running {
		return errors.New(i18n.Sprintf("commit %s: the container is running; commit it when it has stopped", name))
	}
	return report(store.Commit(r.Image, c.Upper(), ref, image.Meta{CreatedBy: "07-images commit " + name}))
}

func load(store *image.Store, file string) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	refs, err := store.Load(f)
	for _, ref := range refs {
		fmt.Println("loaded", ref)
	}
	return err
}

func list(store *image.Store) error {
	summaries, err := store.List()
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "REFERENCE\tIMAGE ID\tCREATED\tSIZE")
	for _, s := range summaries {
		ref := s.Ref
		if ref == "" {
			ref = "<none>" // dangling: its name moved to another image (08-engine system prune removes it)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%.1f MB\n", ref, s.ID.Hex[:12], s.Created.Format(time.DateTime), float64(s.Size)/1e6)
	}
	return w.Flush()
}

func inspect(store *image.Store, ref string) error {
	details, err := store.Inspect(ref)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(details)
}

// report prints the digest an operation produced.
func report(digest v1.Hash, err error) error {
	if err == nil {
		fmt.Println(digest)
	}
	return err
}
