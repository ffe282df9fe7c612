// Package overlay stacks read-only image layers under a writable layer with overlayfs, and
// reads back what a container changed.
//
// # Layers, upper, work, merged
//
// An overlay mount joins directories into one tree. The lower directories ("lowerdirs") are
// the image's layers: they are only ever read, so any number of containers can share them.
// The upper directory belongs to one container and receives every change it makes. The
// merged directory (the mount point) shows the union: a name is looked up in the upper
// directory first, then in each layer from the top down, and the first hit wins. Directories
// of the same name are merged, so /etc is the union of every layer's /etc.
//
//	merged   /etc/hosts  /etc/passwd  /bin/sh         what the container sees
//	upper    /etc/hosts                               written by the container
//	layer 2               /etc/passwd                 image layers, read-only
//	layer 1  /etc/hosts   /etc/passwd  /bin/sh
//
// # Copy-up
//
// A layer is never written to. The first time a container opens a lower file for writing
// (or changes its owner, mode or times), the kernel copies the file, and every directory
// above it, into the upper directory, and the write goes to the copy. That is copy-up. It
// copies the whole file, so appending one line to a large lower file costs a copy of the
// file; this is why databases keep their data in volumes, not in the container's layer.
//
// # Whiteouts and opaque directories
//
// Deleting a lower file cannot remove it from the layer, so the kernel records the deletion
// in the upper directory instead: a whiteout, a character device with device number 0/0 of
// the same name. Lookup stops at a whiteout, and the name disappears from the merged view.
// Deleting a directory and creating a new one of the same name must hide the old contents
// too, so the new upper directory is marked opaque with the extended attribute
// trusted.overlay.opaque="y": lookup does not descend into the layers below it.
// (trusted.* attributes need CAP_SYS_ADMIN; an overlay mounted inside a user namespace,
// which Linux allows since 5.11, uses the "userxattr" option and user.overlay.opaque instead,
// and Mount adds it there.)
//
// Image layers use the same two markers, in tar form: a file ".wh.NAME" deletes NAME from the
// layers below, and ".wh..wh..opq" makes its directory opaque. Unpacking a layer turns them
// into overlay's markers (labs/image), and committing an upper directory turns them back.
// Because the upper directory is itself a layer in overlay's format, Diff can list a
// container's changes by walking it, without comparing it with the image file by file.
//
// # Why the work directory
//
// Copy-up must be atomic: a crash halfway must not leave a half-copied file visible in the
// merged view. The kernel therefore builds the copy in the work directory and renames it
// into the upper directory when it is complete, and rename(2) only works within one file
// system. That is why the work directory must be an empty directory on the same file
// system as the upper directory (and why Mount checks it and says so, where the kernel only
// writes "workdir and upperdir must reside under the same mount" to its log).
//
// # index, redirect_dir, metacopy
//
// Three overlay features trade the simple format above for speed or POSIX correctness:
//
//   - redirect_dir lets a lower directory be renamed without copying its whole tree up; the
//     upper directory then holds an xattr pointing back at the old lower path. Without it,
//     rename(2) of a lower directory fails with EXDEV and mv falls back to copy and delete.
//   - metacopy makes a chmod or chown copy up only the metadata; the data stays in the layer
//     and an xattr points to it.
//   - index keeps a map of copied-up files by their lower inode, so hard links to a lower
//     file stay linked after copy-up (and NFS export works).
//
// Each makes the upper directory depend on the layers: its files are no longer a
// self-contained set of changes that Diff can list or a commit can archive. Mount turns all
// three off, whatever the kernel's defaults (Docker's overlay2 driver and containerd's
// overlay snapshotter likewise mount with index=off). For redirect_dir it says "nofollow"
// rather than "off": "off" still follows redirects that a layer carries, and an overlay
// mounted from a user namespace (userxattr) accepts only "nofollow".
//
// # Limits
//
// The layers are passed to the kernel in one option string, "lowerdir=TOP:...:BOTTOM"
// (topmost layer first, the reverse of the order an image lists them in), and mount(2)
// copies at most one page of options (4096 bytes on most systems): about 40 layers with
// paths of 100 characters. Mount refuses longer option strings with a message that says so.
// Engines with deep images shorten the paths (Docker's overlay2 driver uses short symlinks
// under l/ and mounts relative to that directory). The kernel also caps the stack at 500
// layers.
package overlay
