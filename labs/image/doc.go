// Package image keeps container images on disk: their manifests, configs and layer blobs,
// and each layer unpacked once into a directory that an overlay can stack (labs/overlay).
//
// # What an image is
//
// An image is three kinds of JSON and tar, each named by the SHA-256 digest of its bytes:
//
//	manifest  {"config": {digest, size}, "layers": [{digest, size}, ...]}   the table of contents
//	config    {"config": {Entrypoint, Cmd, Env, WorkingDir, User, ...},
//	           "rootfs": {"diff_ids": [...]}, "history": [...]}                how to run it
//	layers    compressed tar archives of file system changes, lowest first
//
// A reference such as "busybox:latest" is a mutable name for a manifest digest; the digest
// is immutable, and because the manifest names every other part by its digest, one digest
// pins the whole image. The "image ID" Docker prints is the digest of the config.
//
// # Digests and diff IDs
//
// A layer has two names. Its digest is the hash of the compressed blob, the bytes a registry
// stores and sends; the manifest lists it, and a download is checked against it. Its diff
// ID is the hash of the uncompressed tar; the config lists it, and it names the content
// whatever the compression (the same tar gzipped twice at different levels has two digests
// and one diff ID). The store checks both while it reads a blob, in one pass: the bytes are
// hashed (digest), decompressed, hashed again (diff ID) and unpacked as they stream by, and
// only if both hashes match is the result moved into the store. A layer whose bytes do not
// match leaves nothing behind. That check is the only one a blob gets, whichever way it
// comes in: a pull downloads a registry's blobs itself, as they are sent, rather than
// through go-containerregistry's layers, which would hash every byte a second time.
//
// # Whiteouts
//
// A layer records deletions with whiteouts, because a tar archive cannot say "remove": the
// empty file ".wh.NAME" deletes NAME from the layers below, and ".wh..wh..opq" in a
// directory hides everything the layers below have in it. Unpacking turns them into the
// markers overlayfs reads (a 0/0 character device and the trusted.overlay.opaque
// attribute), so an unpacked layer is ready to be a lowerdir as it is; committing a
// container's upper directory turns overlay's markers back into .wh. files.
//
// # Stored once
//
// Because every part is named by the hash of its content, two images that share a base share
// its layers: the store keeps each blob once (blobs/sha256/DIGEST) and each layer unpacked
// once (layers/DIFFID), a pull skips every blob it already has, and a push skips every blob
// the registry already has. The store's layout on disk:
//
//	ROOT/oci-layout, index.json, blobs/sha256/...   an OCI image layout (tags live in
//	                                                 index.json as ref.name annotations)
//	ROOT/layers/DIFFID/                              each layer unpacked, a ready lowerdir
//	ROOT/tmp/                                        work in progress, renamed into place
//	ROOT/gc.lock, index.lock                         flock(2) locks shared by all processes
//
// Removing an image only removes its name; garbage collection then deletes the blobs and
// layer directories no remaining image refers to, the way `docker rmi` and `docker image
// prune` do. It waits for pulls and unpacks in progress, so it never takes a blob that is
// written but not yet named. A name that moves to another image (tagging, importing or
// pulling over it) leaves the image it named in the index without a name, "dangling",
// because a container made from it may still run on its layers; PruneDangling removes the
// dangling images no container uses.
//
// Formats and the registry protocol come from go-containerregistry (the layout reader, the
// docker-archive tarball format, the registry client); what this package does by hand is what
// the lesson is about: the one-pass verified unpack, whiteouts, the layer store and its
// garbage collection.
package image
