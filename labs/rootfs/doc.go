// Package rootfs makes the directory a container will see as "/".
//
// A root file system is nothing more than a directory with the files a program needs. For
// a dynamically linked program that is the program itself, its ELF interpreter (the
// dynamic loader named in its PT_INTERP header, such as /lib64/ld-linux-x86-64.so.2) and
// every shared library in the closure of its DT_NEEDED entries. CopyPrograms copies exactly
// that, found by reading the ELF headers (what `ldd` shows, without running anything), and
// Busybox builds a whole userland from one static binary.
//
// The package also holds the two tools every later lab needs to work safely inside a root
// that is not "/": Resolve and LookPath, which follow symlinks as a process inside that root
// would, and ExtractTar, which unpacks an archive without ever writing outside the
// destination, however hostile the archive is.
package rootfs
