package build

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"containerlabs/labs/engine"
)

// CacheRepository is the repository the build cache files each step's result under, tagged
// with the step's cache key: CacheRepository:KEY names the image a step made.
const CacheRepository = engine.BuildCache

// Options is what a build is asked for.
//
// Equivalent to: `docker build [-t REF]... [-f FILE] [--build-arg K=V]... [--no-cache]
// [--target STAGE] [--network MODE] DIR`.
type Options struct {
	// ContextDir is the build context: the directory COPY and ADD read from.
	ContextDir string
	// Dockerfile is the Dockerfile's path (default: Dockerfile in ContextDir).
	Dockerfile string
	// Tags are the names the result gets.
	Tags []string
	// BuildArgs give values to the Dockerfile's ARGs.
	BuildArgs map[string]string
	// NoCache runs every step even when the cache has its result.
	NoCache bool
	// Target stops the build after the stage of that name.
	Target string
	// NetworkMode is the network RUN steps get: bridge (the engine's; the default), host
	// or none.
	NetworkMode string
	// Output receives the progress, as Docker's classic builder prints it: each step,
	// the output of its RUN commands, and the ID of each step's image.
	Output io.Writer
}

// Result is what a build made.
type Result struct {
	// ID is the image's config digest, what Docker calls the image ID.
	ID v1.Hash
	// Digest is the image's manifest digest.
	Digest v1.Hash
	// Ref is the store's name for the image in the build cache.
	Ref string
}

// CacheKey is the key the result of a step is cached under: a hash of everything the
// result depends on. parent is the parent image's ID ("" for an empty FROM scratch),
// instruction the step as it is run (variables substituted), args the build arguments in
// effect as NAME=value, and content the digest of the files a COPY or ADD copies ("" for
// other steps). Two steps with the same key make the same image.
func CacheKey(parent, instruction string, args []string, content string) string {
	args = slices.Clone(args)
	slices.Sort(args)
	h := sha256.New()
	fmt.Fprintf(h, "containerlabs build cache v1\nparent %s\ninstruction %s\ncontent %s\n", parent, instruction, content)
	for _, a := range args {
		fmt.Fprintf(h, "arg %q\n", a)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// short is the 12-digit form Docker prints of an ID.
func short(id string) string {
	if _, hex, ok := strings.Cut(id, ":"); ok {
		id = hex
	}
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
