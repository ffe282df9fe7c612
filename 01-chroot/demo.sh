# Walkthrough of lab 01, sourced by scripts/demo.sh (which defines step, say and $DEMO).

section "01-chroot: a root directory of its own"
R="$DEMO/bash-root" B="$DEMO/busybox-root"

say "A container starts as a directory that becomes the program's '/'. Begin the classic way: a directory with nothing but bash in it."
step "bash is in the directory, nothing else is." \
	"mkdir -p $R/bin && cp /bin/bash $R/bin/ && find $R"
step_fails "The file is there, yet the kernel cannot start it: bash is dynamically linked, and its ELF interpreter (the dynamic loader) is missing. chroot(1) would only say 'No such file or directory'." \
	"bin/01-chroot run $R /bin/bash -c 'echo hello'"

say "What does bash need? ldd would run the loader to find out; 01-chroot reads the ELF headers instead (PT_INTERP for the loader, DT_NEEDED for libraries, recursively)."
step "The loader comes first, then every library in the closure." \
	"bin/01-chroot ldd bash"
step "Copy bash, ls and ps with everything they need. On a merged-/usr system /lib64 and /lib are symlinks into /usr, and they are copied as symlinks." \
	"bin/01-chroot rootfs $R bash ls ps | tail -6"
step "Now bash starts, and '/' is the directory: ls shows only what was copied." \
	"bin/01-chroot run $R /bin/bash -c 'echo hello from \$0; ls /'"
step_fails "ps reads the kernel's process list from /proc, and this root has no /proc. Lab 02 mounts one." \
	"bin/01-chroot run $R ps"

say "Copying programs one by one does not scale. A static busybox is one binary that provides ~300 commands through symlinks."
step "Every command is a link to /bin/busybox; it looks at the name it was started by." \
	"bin/01-chroot rootfs --busybox $B && ls -l $B/bin | head -4"
step "A whole userland in a directory." \
	"bin/01-chroot run $B sh -c 'echo \$((6*7)); uname -s; ls /'"

say "chroot changes where path lookups start, nothing more. A process that is root inside it can leave: chroot into a subdirectory without entering it, climb with '..', chroot('.')."
step "A marker file on the host, outside the root." \
	"echo 'host secret: chroot is not a boundary' > $DEMO/host-secret"
step "The static probe escapes the chroot and reads the host's file." \
	"cp bin/probe $B/ && bin/01-chroot run $B /probe chroot $DEMO/host-secret"
