# Walkthrough of lab 07, sourced by scripts/demo.sh (which defines step, say and $DEMO).

section "07-images: containers from images, and images from containers"
export CONTAINERLABS_ROOT="$DEMO/state"
on_exit "bin/07-images cleanup; CONTAINERLABS_ROOT=$DEMO/other bin/07-images cleanup"

say "The base image of the labs is built offline: a busybox root (lab 01) imported as a one-layer image whose default command is sh."
step "scripts/busybox-image.sh builds containerlabs/busybox:latest." \
	"scripts/busybox-image.sh && bin/07-images ls"
step "An image is a manifest (the list of blobs, by digest), a config (what to run, and the diff IDs of the layers) and the layers themselves. The digest names the compressed blob; the diff ID names the uncompressed tar: a layer unpacked once is kept under its diff ID." \
	"bin/07-images inspect containerlabs/busybox | head -40"
step "run REF: the image's layers are the lowerdirs, its Cmd the command." \
	"bin/07-images run --name first containerlabs/busybox sh -c 'echo hello > /greeting; rm /bin/vi; cat /etc/os-release 2>/dev/null || uname -a'"
step "The container's changes, and /etc/hosts is not among them: it is mounted in from outside." \
	"bin/07-images diff first"
step "commit: the upper directory becomes a new layer on top of the image's, with a line of history. In the layer's tar the deletion is an OCI whiteout, bin/.wh.vi; unpacked for overlay, it is a 0/0 device again." \
	"bin/07-images commit first greeting:v1 && bin/07-images inspect greeting:v1 | grep created_by && ls -l \$(bin/07-images inspect greeting:v1 | grep '\"Dir\"' | tail -1 | cut -d'\"' -f4)/bin"
step "A container of the new image sees the change." \
	"bin/07-images run --name second greeting:v1 sh -c 'cat /greeting; ls /bin/vi || echo vi is gone'"
step "save and load: a docker-archive, as docker save writes it; the digests survive." \
	"bin/07-images save greeting:v1 -o $DEMO/greeting.tar && tar tf $DEMO/greeting.tar && bin/07-images rm second && bin/07-images rm first && bin/07-images rm greeting:v1 && bin/07-images load -i $DEMO/greeting.tar"

say "A registry speaks HTTP: blobs by digest, manifests by tag. bin/registry serves one in memory on 127.0.0.1:5000."
step "push: name the image for the registry (host:port/repository:tag), then send the layers and the manifest." \
	"bin/registry & REG=\$!; sleep 0.5; bin/07-images tag greeting:v1 127.0.0.1:5000/labs/greeting:v1 && bin/07-images push 127.0.0.1:5000/labs/greeting:v1"
on_exit "kill \$REG"
step "pull it back into an empty store: the same digest, because the digest is the content." \
	"CONTAINERLABS_ROOT=$DEMO/other bin/07-images pull 127.0.0.1:5000/labs/greeting:v1 && CONTAINERLABS_ROOT=$DEMO/other bin/07-images run --name pulled 127.0.0.1:5000/labs/greeting:v1 cat /greeting"
step "export: a container's files, or an image's, flattened into one plain tar, as docker export makes it (lab 01 can unpack it as a root)." \
	"bin/07-images export greeting:v1 -o $DEMO/flat.tar && tar tf $DEMO/flat.tar | grep -c . && bin/01-chroot rootfs --from-tar $DEMO/flat.tar $DEMO/flat && cat $DEMO/flat/greeting"
