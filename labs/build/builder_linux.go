package build

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"containerlabs/labs/engine"
	"containerlabs/labs/image"
	"containerlabs/labs/overlay"
	"containerlabs/labs/rootfs"
)

// builder is one build in progress.
type builder struct {
	e      *engine.Engine
	opts   Options
	out    io.Writer
	file   string // the Dockerfile's name, for errors
	ignore *Ignore
	args   *buildArgs
	// stages are the images of the stages built so far, and their names.
	stages     []imageState
	stageNames []string
	step       int
	steps      int
	// scratch is where steps mount overlays and keep their upper directories.
	scratch string
}

// Build builds the image the Dockerfile in opts describes, step by step: RUN steps run in
// containers of the engine e (so the program must be one that runs the engine's monitors:
// engine.IsMonitor), COPY and ADD write files into a layer of their own, and the other
// instructions change only the config. Each step's result is cached in the engine's image
// store. A failed step leaves no tag and no container behind.
//
// Equivalent to: `docker build`.
func Build(e *engine.Engine, opts Options) (*Result, error) {
	started := time.Now()
	b := &builder{e: e, opts: opts, out: opts.Output}
	if b.out == nil {
		b.out = io.Discard
	}
	switch opts.NetworkMode {
	case "", "bridge", "host", "none":
	default:
		return nil, fmt.Errorf("--network %q: want bridge, host or none", opts.NetworkMode)
	}
	df, err := b.load()
	if err != nil {
		return nil, err
	}
	b.args = &buildArgs{given: opts.BuildArgs, used: map[string]bool{}}
	if err := b.args.globals(df.Args); err != nil {
		return nil, b.lineError(err)
	}
	last := len(df.Stages) - 1
	if opts.Target != "" {
		last = slices.IndexFunc(df.Stages, func(s Stage) bool { return s.Name == strings.ToLower(opts.Target) })
		if last < 0 {
			return nil, fmt.Errorf("--target %s: the Dockerfile has no stage of that name (FROM IMAGE AS %s)", opts.Target, opts.Target)
		}
	}
	for _, st := range df.Stages[:last+1] {
		b.steps += 1 + len(st.Instructions)
	}
	// The steps' overlays and upper directories live under the engine's root, on the file
	// system of its containers.
	if err = os.MkdirAll(filepath.Join(e.Root, "build"), 0o700); err == nil {
		b.scratch, err = os.MkdirTemp(filepath.Join(e.Root, "build"), "build-")
	}
	if err != nil {
		return nil, fmt.Errorf("build: %w", err)
	}
	defer os.RemoveAll(b.scratch)

	for _, st := range df.Stages[:last+1] {
		img, err := b.buildStage(st)
		if err != nil {
			return nil, b.lineError(err)
		}
		b.stages = append(b.stages, img)
		b.stageNames = append(b.stageNames, st.Name)
	}
	final := b.stages[len(b.stages)-1]
	if final.ref == "" {
		return nil, errors.New("the image is empty: a FROM scratch stage needs an instruction after it")
	}
	fmt.Fprintf(b.out, "Successfully built %s\n", short(final.id.String()))
	for _, tag := range opts.Tags {
		if err := e.Images.Tag(final.ref, tag); err != nil {
			return nil, err
		}
		normal, _ := image.Normalize(tag)
		fmt.Fprintf(b.out, "Successfully tagged %s\n", normal)
	}
	if unused := b.args.unused(); len(unused) > 0 {
		fmt.Fprintf(b.out, "[Warning] One or more build-args %v were not consumed\n", unused)
	}
	fmt.Fprintf(b.out, "Build took %.1fs\n", time.Since(started).Seconds())
	return &Result{ID: final.id, Digest: final.digest, Ref: final.ref}, nil
}

// load reads the Dockerfile and the context's .dockerignore.
func (b *builder) load() (*Dockerfile, error) {
	file := b.opts.Dockerfile
	if file == "" {
		file = filepath.Join(b.opts.ContextDir, "Dockerfile")
	}
	b.file = filepath.Base(file)
	info, err := os.Stat(b.opts.ContextDir)
	if err != nil || !info.IsDir() {
		return nil, fmt.Errorf("build context %s: not a directory", b.opts.ContextDir)
	}
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("read the Dockerfile: %w", err)
	}
	defer f.Close()
	df, err := Parse(f, b.file)
	if err != nil {
		return nil, err
	}
	if b.ignore, err = ReadIgnore(b.opts.ContextDir); err != nil {
		return nil, err
	}
	return df, nil
}

func (b *builder) lineError(err error) error {
	var le *LineError
	if errors.As(err, &le) && le.File == "" {
		le.File = b.file
	}
	return err
}

func (b *builder) printStep(text string) {
	b.step++
	fmt.Fprintf(b.out, "Step %d/%d : %s\n", b.step, b.steps, text)
}

// buildStage builds one stage: its FROM, then each instruction on the image so far.
func (b *builder) buildStage(st Stage) (imageState, error) {
	b.printStep(st.From.Text)
	base, err := Expand(st.From.Args[0], b.args.lookupGlobal)
	if err != nil {
		return imageState{}, &LineError{Line: st.From.Line, Err: err}
	}
	s := &stageState{args: map[string]string{}}
	if s.img, err = b.source(base, true); err != nil {
		return imageState{}, &LineError{Line: st.From.Line, Err: err}
	}
	if s.img.ref == "" {
		s.img.cfg = &v1.ConfigFile{Architecture: goruntime.GOARCH, OS: "linux", RootFS: v1.RootFS{Type: "layers"}}
		fmt.Fprintln(b.out, " ---> scratch (an empty image)")
	} else {
		fmt.Fprintf(b.out, " ---> %s\n", short(s.img.id.String()))
	}
	for _, inst := range st.Instructions {
		b.printStep(inst.Text)
		if err := b.do(s, inst); err != nil {
			return imageState{}, &LineError{Line: inst.Line, Err: err}
		}
	}
	return s.img, nil
}

// source finds the image a FROM or a COPY --from names: an earlier stage (by name or
// number), scratch (for FROM), or an image, pulled if the store does not have it.
func (b *builder) source(name string, from bool) (imageState, error) {
	if i := slices.Index(b.stageNames, strings.ToLower(name)); i >= 0 && name != "" {
		return b.stages[i], nil
	}
	if n, err := strconv.Atoi(name); err == nil && !from {
		if n < 0 || n >= len(b.stages) {
			return imageState{}, fmt.Errorf("--from=%d: there is no earlier stage %d", n, n)
		}
		return b.stages[n], nil
	}
	if from && strings.EqualFold(name, "scratch") {
		return imageState{}, nil
	}
	ref, err := image.Normalize(name)
	if err != nil {
		return imageState{}, err
	}
	d, err := b.e.Images.Inspect(ref)
	if errors.Is(err, image.ErrNotFound) {
		fmt.Fprintf(b.out, "Pulling %s\n", ref)
		if _, err = b.e.Images.Pull(context.Background(), ref, image.Options{}); err == nil {
			d, err = b.e.Images.Inspect(ref)
		}
	}
	if err != nil {
		return imageState{}, fmt.Errorf("image %s: %w", ref, err)
	}
	return imageState{ref: ref, id: d.ID, digest: d.Digest, cfg: d.Config}, nil
}

// do runs one instruction after FROM.
func (b *builder) do(s *stageState, inst Instruction) error {
	switch inst.Command {
	case "RUN":
		argv := s.command(inst)
		createdBy := strings.Join(argv, " ")
		if args := s.argList(); len(args) > 0 {
			createdBy = fmt.Sprintf("|%d %s %s", len(args), strings.Join(args, " "), createdBy)
		}
		return b.cached(s, inst.Text, "", func(ref string) error { return b.run(s, argv, ref, createdBy) })
	case "COPY", "ADD":
		return b.copy(s, inst)
	case "WORKDIR":
		p, err := Expand(inst.Args[0], s.lookup)
		if err != nil {
			return err
		}
		dir := path.Clean(s.workdir(p))
		text := "WORKDIR " + dir
		// The directory is made if the image lacks it, as Docker does, so that RUN can
		// start in it: then the step has a layer.
		return b.cached(s, text, "", func(ref string) error {
			return b.changeFiles(s, ref, "#(nop) "+text, func(root string) error {
				host, err := rootfs.Resolve(root, dir)
				if err == nil {
					err = os.MkdirAll(host, 0o755)
				}
				return err
			}, func(cfg *v1.ConfigFile) { cfg.Config.WorkingDir = dir })
		})
	}
	text, change, err := s.metadata(inst, b.args)
	if err != nil {
		return err
	}
	return b.cached(s, text, "", func(ref string) error { return b.configure(s, ref, "#(nop) "+text, change) })
}

// cached looks the step up in the cache, and makes it (named ref) if it is not there.
func (b *builder) cached(s *stageState, text, content string, make func(ref string) error) error {
	parent := ""
	if s.img.ref != "" {
		parent = s.img.id.String()
	}
	ref := CacheRepository + ":" + CacheKey(parent, text, s.argList(), content)
	d, err := b.e.Images.Inspect(ref)
	if err == nil && !b.opts.NoCache {
		fmt.Fprintln(b.out, " ---> Using cache")
	} else {
		if err := make(ref); err != nil {
			return err
		}
		if d, err = b.e.Images.Inspect(ref); err != nil {
			return err
		}
	}
	s.img = imageState{ref: ref, id: d.ID, digest: d.Digest, cfg: d.Config}
	fmt.Fprintf(b.out, " ---> %s\n", short(d.ID.String()))
	return nil
}

// configure makes the image ref: the stage's image with only its config changed, and one
// more history entry, marked as adding no layer.
func (b *builder) configure(s *stageState, ref, createdBy string, change func(*v1.ConfigFile)) error {
	cfg := s.img.cfg.DeepCopy()
	change(cfg)
	now := v1.Time{Time: time.Now().UTC().Truncate(time.Second)}
	cfg.Created = now
	cfg.History = append(cfg.History, v1.History{Created: now, CreatedBy: createdBy, EmptyLayer: true})
	base := empty.Image
	if s.img.ref != "" {
		var err error
		if base, err = b.e.Images.Image(s.img.digest); err != nil {
			return fmt.Errorf("read image %s: %w", s.img.ref, err)
		}
	}
	img, err := mutate.ConfigFile(base, cfg)
	if err != nil {
		return err
	}
	_, err = b.e.Images.Add(context.Background(), ref, img, image.Options{})
	return err
}

// mounted is an overlay of an image's layers with a fresh upper directory: the files of
// an image, to read (COPY --from) or to change without a container (COPY, WORKDIR).
type mounted struct {
	dir, root, upper string
}

func (b *builder) mount(img imageState) (*mounted, error) {
	dir, err := os.MkdirTemp(b.scratch, "step-")
	if err != nil {
		return nil, err
	}
	m := &mounted{dir: dir, root: filepath.Join(dir, "root"), upper: filepath.Join(dir, "upper")}
	var layers []string
	if img.ref != "" {
		if layers, err = b.e.Images.Layers(img.ref); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	if len(layers) == 0 {
		// overlayfs needs a lower directory: an empty one is the empty image.
		empty := filepath.Join(dir, "empty")
		if err := os.Mkdir(empty, 0o755); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		layers = []string{empty}
	}
	if err := b.e.MountLayers(layers, m.upper, filepath.Join(dir, "work"), m.root); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return m, nil
}

func (m *mounted) unmount() error {
	return overlay.Unmount(m.root)
}

func (m *mounted) remove() {
	_ = m.unmount()
	os.RemoveAll(m.dir)
}

// changeFiles makes the image ref by changing the stage's files with apply, in an overlay
// and without a container, and committing the upper directory as a layer. If apply
// changed nothing, only the config changes.
func (b *builder) changeFiles(s *stageState, ref, createdBy string, apply func(root string) error, change func(*v1.ConfigFile)) error {
	m, err := b.mount(s.img)
	if err != nil {
		return err
	}
	defer m.remove()
	if err := apply(m.root); err != nil {
		return err
	}
	if err := m.unmount(); err != nil {
		return err
	}
	if changed, _ := os.ReadDir(m.upper); len(changed) == 0 {
		return b.configure(s, ref, createdBy, change)
	}
	cfg := s.img.cfg.DeepCopy()
	change(cfg)
	_, err = b.e.Images.Commit(s.img.ref, m.upper, ref, image.Meta{CreatedBy: createdBy, Config: &cfg.Config})
	return err
}

// copy runs COPY and ADD: the sources' content digest goes into the cache key, and the
// files are written into a layer of their own.
func (b *builder) copy(s *stageState, inst Instruction) error {
	words, err := s.expandAll(inst.Args)
	if err != nil {
		return err
	}
	srcs, dest := words[:len(words)-1], s.workdir(words[len(words)-1])
	if len(srcs) > 1 && !strings.HasSuffix(dest, "/") {
		return fmt.Errorf("%s with more than one source needs a directory as its destination, ending in /", inst.Command)
	}
	var flags []string
	for _, f := range []string{"from", "chown", "chmod"} {
		if v, ok := inst.Flags[f]; ok {
			if v, err = Expand(v, s.lookup); err != nil {
				return err
			}
			inst.Flags[f] = v
			flags = append(flags, "--"+f+"="+v)
		}
	}
	mode, err := parseChmod(inst.Flags["chmod"])
	if err != nil {
		return err
	}
	root, ignore := b.opts.ContextDir, b.ignore
	if from := inst.Flags["from"]; from != "" {
		img, err := b.source(from, false)
		if err != nil {
			return err
		}
		m, err := b.mount(img)
		if err != nil {
			return err
		}
		defer m.remove()
		root, ignore = m.root, nil
	}
	items, err := collectSources(root, ignore, srcs, inst.Command == "ADD")
	if err != nil {
		return err
	}
	content, err := contentDigest(items)
	if err != nil {
		return err
	}
	text := strings.Join(slices.Concat([]string{inst.Command}, flags, srcs, []string{dest}), " ")
	return b.cached(s, text, content, func(ref string) error {
		return b.changeFiles(s, ref, "#(nop) "+text+" (content sha256:"+content[:12]+")", func(root string) error {
			own := ownership{mode: mode}
			if spec := inst.Flags["chown"]; spec != "" {
				u, err := image.ResolveUser(root, spec)
				if err != nil {
					return fmt.Errorf("--chown=%s: %w", spec, err)
				}
				own.uid, own.gid, own.chown = u.UID, u.GID, true
			}
			return place(root, dest, items, own)
		}, func(*v1.ConfigFile) {})
	})
}

// place writes the items at dest inside root: into dest if it is a directory (it ends in
// "/", exists as one, or the sources are directories or archives), as dest itself if it
// names a file.
func place(root, dest string, items []item, own ownership) error {
	dir, single := dest, ""
	isDir := strings.HasSuffix(dest, "/") || slices.ContainsFunc(items, func(it item) bool { return !it.topLevel || it.archive })
	if !isDir {
		if host, err := rootfs.Resolve(root, dest); err == nil {
			if info, err := os.Stat(host); err == nil && info.IsDir() {
				isDir = true
			}
		}
	}
	if !isDir {
		dir, single = path.Dir(dest), path.Base(dest)
	}
	host, err := rootfs.Resolve(root, dir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(host, 0o755); err != nil {
		return err
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(copyTar(pw, items, single, own)) }()
	err = rootfs.ExtractTar(pr, host)
	pr.CloseWithError(errors.New("copy abandoned"))
	return err
}

// run runs a RUN step: a container of the engine on the stage's image, with the build
// arguments in its environment; its upper directory becomes the new layer. The container
// is removed whatever happens.
func (b *builder) run(s *stageState, argv []string, ref, createdBy string) error {
	if s.img.ref == "" {
		return errors.New("RUN needs files to run: FROM scratch is empty (COPY a program in first)")
	}
	c, err := b.e.Create(engine.CreateRequest{Image: s.img.ref, Config: engine.Config{
		Cmd: argv, EntrypointSet: true, Env: s.argEnv(), NetworkMode: b.opts.NetworkMode,
	}})
	if err != nil {
		return err
	}
	fmt.Fprintf(b.out, " ---> Running in %s\n", short(c.ID))
	defer func() {
		if err := b.e.Remove(c.ID, true, true); err == nil {
			fmt.Fprintf(b.out, "Removing intermediate container %s\n", short(c.ID))
		}
	}()
	devNull, err := os.Open(os.DevNull)
	if err != nil {
		return err
	}
	defer devNull.Close()
	pr, pw, err := os.Pipe()
	if err != nil {
		return err
	}
	copied := make(chan struct{})
	go func() {
		_, _ = io.Copy(b.out, pr)
		pr.Close()
		close(copied)
	}()
	code, err := b.e.Start(c.ID, &engine.Attach{Stdin: devNull, Stdout: pw, Stderr: pw})
	pw.Close()
	<-copied
	if err != nil {
		return err
	}
	if code != 0 {
		return fmt.Errorf("the command '%s' returned a non-zero code: %d", strings.Join(argv, " "), code)
	}
	_, err = b.e.Images.Commit(s.img.ref, filepath.Join(b.e.Store.Dir(c.ID), "upper"), ref, image.Meta{CreatedBy: createdBy})
	return err
}
