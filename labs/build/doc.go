// Package build makes images from a Dockerfile, the way Docker's classic builder does: as a
// series of containers whose changes are committed as layers.
//
// # A build is a series of commits
//
// Nothing in an image needs a special "build" machinery. Lab 07 showed that a container's
// writable layer (its overlay upper directory) can be committed as one more layer on top of
// the image it ran, and that an image's config (Env, Cmd, WorkingDir, ...) is a small JSON
// file beside its layers. A Dockerfile is a script of those two operations:
//
//	FROM busybox          start from an image (or from nothing: FROM scratch)
//	RUN make              run a container on the image so far, commit its upper dir
//	COPY app /app         write files into a fresh upper dir, no process, commit it
//	ENV PORT=80           change only the config: a new image with no new layer
//
// Each step's result is an image, the next step's parent. `docker history` shows the steps
// back: one history entry per instruction, "empty_layer" for those that only changed the
// config.
//
// # The cache
//
// A step's result depends only on its parent image, its instruction and, for COPY and ADD,
// the files copied (and the build arguments in effect). So the builder hashes those into a
// cache key and files each step's result in the image store under a tag named after the
// key (CacheRepository:KEY). Before running a step it looks the tag up: if the image is
// there, the step is skipped (" ---> Using cache"). Changing one file invalidates the COPY
// that copies it and, because every later step's parent changes, every step after it: the
// reason Dockerfiles copy a project's dependency list and install dependencies before they
// copy the rest of the source. The tags keep the cached images from garbage collection, so
// removing them (rmi) empties the cache.
//
// # Multi-stage builds
//
// A Dockerfile with several FROM lines builds several images, one per stage; `COPY
// --from=STAGE` copies files out of an earlier stage's image. The last stage, or the one
// --target names, is the result: a final stage FROM scratch that copies in one static
// program makes an image of a few megabytes, without the compilers that built it.
//
// # What is supported
//
// The instructions FROM, RUN, COPY, ADD (local files and tar archives; not URLs), ENV, ARG,
// WORKDIR, USER, EXPOSE, LABEL, CMD, ENTRYPOINT, VOLUME, SHELL, STOPSIGNAL, MAINTAINER and
// HEALTHCHECK (with --interval, --timeout, --start-period and --retries; the engine's
// monitor runs the check); comments, line continuations, variable substitution ($VAR,
// ${VAR}, ${VAR:-default}, ${VAR:+alternative}) where Docker performs it, and
// .dockerignore. ONBUILD, heredocs and RUN --mount are not.
package build
