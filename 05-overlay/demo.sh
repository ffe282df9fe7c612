# Walkthrough of lab 05, sourced by scripts/demo.sh (which defines step, say and $DEMO).

section "05-overlay: an image's layers under a writable layer of the container's own"
B="$DEMO/busybox-root" L2="$DEMO/layer2"
[ -x "$B/bin/busybox" ] || bin/01-chroot rootfs --busybox "$B" >/dev/null
export CONTAINERLABS_ROOT="$DEMO/state"
mkdir -p "$L2/etc" && echo "hello from layer 2" >"$L2/etc/motd"

say "Two read-only layers: the busybox root, and a second layer with one file. 05-overlay stacks them (the last --layer on top) under an upper directory of the container's own. State lives under \$CONTAINERLABS_ROOT, here %s." "$DEMO/state"
step "The overlay is the root; lowerdir lists the layers top first, upperdir is the container's." \
	"bin/05-overlay run --layer $B --layer $L2 --name web sh -c 'cat /etc/motd; mount | head -1'"
bin/05-overlay rm web >/dev/null
step "Change things: add a file, append to a layer's file, delete another." \
	"bin/05-overlay run --layer $B --layer $L2 --name web sh -c 'echo hi > /hello; echo more >> /etc/motd; rm /bin/vi'"
step "The layers did not change: the append was made to a copy, copied up into the upper directory." \
	"cat $L2/etc/motd; find $DEMO/state/containers/web/upper"
step "The deletion is a whiteout: a character device 0/0 that hides the layer's /bin/vi." \
	"ls -l $DEMO/state/containers/web/upper/bin/vi"
step "diff reads the upper directory, as docker diff does." \
	"bin/05-overlay diff web"
step "A second container on the same layers sees none of it." \
	"bin/05-overlay run --layer $B --layer $L2 --name other sh -c 'ls /hello; cat /etc/motd; ls /bin/vi'"
step "While a container runs, the host's mount table has no overlay: it lives in the container's mount namespace." \
	"bin/05-overlay run --layer $B --name bg sleep 30 & BG=\$!; sleep 0.5; findmnt -rn -t overlay | grep -c $DEMO; kill \$BG; wait \$BG; true"
step "rm removes a stopped container's state, and its changes with it." \
	"bin/05-overlay rm web && bin/05-overlay rm other && bin/05-overlay rm bg && ls $DEMO/state/containers | wc -l"
