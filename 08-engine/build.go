package main

import (
	"fmt"
	"os"
	"strings"

	"containerlabs/labs/build"
	"containerlabs/labs/engine"
)

// buildImage is `docker build`: labs/build runs the Dockerfile's steps as containers of
// this engine and commits each one's changes as a layer.
func buildImage(e *engine.Engine, args []string) (int, error) {
	o := newOptions("build")
	tags := o.String("-t,--tag", "name the image (repeatable)")
	file := o.String("-f,--file", "the Dockerfile (default: DIR/Dockerfile)")
	buildArgs := o.String("--build-arg", "set an ARG: NAME=value (repeatable)")
	noCache := o.Bool("--no-cache", "run every step, even those the cache has")
	target := o.String("--target", "stop after this stage")
	network := o.String("--network", "the network of RUN steps: bridge (default), host or none")
	rest, err := o.parse(args, false)
	if err != nil {
		return 125, err
	}
	if len(rest) != 1 {
		return 125, fmt.Errorf("usage: 08-engine build [OPTIONS] DIR\n%s", o.help())
	}
	opts := build.Options{
		ContextDir: absPath(rest[0]), Tags: tags.values, NoCache: noCache.set,
		Target: target.Value(), NetworkMode: network.Value(), Output: os.Stdout,
		BuildArgs: map[string]string{},
	}
	if file.set {
		opts.Dockerfile = absPath(file.Value())
	}
	for _, kv := range buildArgs.values {
		name, value, ok := strings.Cut(kv, "=")
		if !ok {
			// As Docker does: --build-arg NAME takes the value from the environment.
			if value, ok = os.LookupEnv(name); !ok {
				continue
			}
		}
		opts.BuildArgs[name] = value
	}
	if _, err := build.Build(e, opts); err != nil {
		return 1, err
	}
	return 0, nil
}
