#!/usr/bin/env bash
# cgroup2-vm.sh: run Go test packages on a real cgroup v2 kernel, in a small VM.
#
#   cgroup2-vm.sh [-run REGEX] [--fail-fast] [PACKAGE...]   (default package: ./labs/cgroup)
#   cgroup2-vm.sh --image                                    only build (or find) the VM image
#   cgroup2-vm.sh --bench [SECTION...]                       scripts/bench.sh in the VM (default
#                                                            and only section so far: runtimes)
#
# This host is cgroup v1 (hybrid), so nothing here can exercise the v2 code paths for real.
# The script boots Debian's own kernel under qemu's software emulation (TCG: the VM needs no
# /dev/kvm) on a Debian userland of the host's release, with the unified hierarchy only
# (cgroup_no_v1=all), and runs the packages' test binaries there, in the order given, each
# under test2json; --fail-fast stops at the first package that fails. A line is printed as
# each package finishes, then the summary of scripts/grade --summary (one line per package,
# every skipped test with its reason, every failure in full) and the times. Exits non-zero
# if a test failed or the VM did not finish.
#
# Two disks. The first is the userland: debootstrap installs VM_PACKAGES (glibc, busybox,
# iptables, iproute2, containerd, runc, docker.io, CNI plugins, ...) into a folder, the
# kernel's modules go beside them, and mkfs.ext4 -d turns the folder into an ext4 image (no
# loop mount). It is built once and cached; its name carries a hash of the package list, the
# kernel and the recipe below, so changing any of them builds a new one. The VM opens it with
# snapshot=on: what the tests write goes to a temporary overlay, and the cached image never
# changes. The second disk is made for each run the same way: the test binaries (built here,
# with cgo where a package uses it: they find the same glibc and libseccomp inside), the labs'
# binaries as $LAB_BIN, the repository's files (tests read testdata, go.mod marks the root),
# and free space for /tmp, which must be a file system overlayfs accepts as upper layer and
# that keeps user xattrs (ext4 does both; 9p does neither).
#
# The kernel's block and ext4 drivers are modules, so a small busybox initramfs loads them,
# mounts the first disk and switch_roots into it (a disk root, unlike the initramfs's
# rootfs, can be pivot_root'ed away from, which every container start does). The VM has no
# network card (-nic none): the tests use loopback and the bridges and namespaces they make.
#
# --bench runs scripts/bench.sh's runtimes section in the VM instead of tests (labs-runc, runc
# and crun on one bundle, and their peak RSS), with the labs' binaries built here, on an image
# of its own: the test image plus BENCH_PACKAGES, cached beside it as bench-image-*, so the
# test leg's image stays as it is. Under software emulation every instruction costs 10 to 50
# times what it does natively, so the table's times mean nothing and its ratios are rough (two
# runs on a loaded host gave labs-runc / crun 0.98x and 1.32x); the peak RSS is unchanged by
# emulation. RUNS=20 ROUNDS=2 by default (set them to change that) keep the run to about two
# minutes. The other sections cannot give a meaningful figure here (see the top of bench.sh).
#
# Cache: /var/cache/containerlabs/cgroup2-vm (the kernel, unpacked, and the image).
# Environment: VM_TIMEOUT (seconds, default 3000), VM_MEMORY (MiB, default 3072), VM_CPUS
# (default 2), VM_MIRROR (Debian mirror for debootstrap, default deb.debian.org), VM_LOG
# (a file to keep the VM's whole console in).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
require_root "$@"

RUN=""
FAIL_FAST=0
IMAGE_ONLY=0
BENCH=0
PACKAGES=()
while [ $# -gt 0 ]; do
	case "$1" in
	-run | --run)
		[ $# -ge 2 ] || die "-run needs a regular expression"
		RUN="$2"
		shift 2
		;;
	--fail-fast)
		FAIL_FAST=1
		shift
		;;
	--image)
		IMAGE_ONLY=1
		shift
		;;
	--bench)
		BENCH=1
		shift
		;;
	-h | --help)
		sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'
		exit 0
		;;
	-*) die "unknown option $1 (usage: $0 [-run REGEX] [--fail-fast] [PACKAGE...] | --image | --bench [SECTION...])" ;;
	*)
		PACKAGES+=("$1")
		shift
		;;
	esac
done
if [ "$BENCH" = 1 ]; then
	# The arguments are bench.sh's sections.
	SECTIONS=("${PACKAGES[@]}")
	PACKAGES=()
	[ "${#SECTIONS[@]}" -gt 0 ] || SECTIONS=(runtimes)
	for s in "${SECTIONS[@]}"; do
		[ "$s" = runtimes ] || die "bench.sh section $s does not run in the VM (only runtimes does; bench.sh's header says why)"
	done
fi
[ "${#PACKAGES[@]}" -gt 0 ] || [ "$BENCH" = 1 ] || PACKAGES=(./labs/cgroup)
[ "$IMAGE_ONLY" = 1 ] || find_go || die "no Go toolchain found; run scripts/setup.sh first"

CACHE=/var/cache/containerlabs/cgroup2-vm
TIMEOUT="${VM_TIMEOUT:-3000}"
MIRROR="${VM_MIRROR:-http://deb.debian.org/debian}"
# The VM's userland, from Debian's packages: busybox-static for container roots, kmod so
# the kernel can load modules on demand (overlay, veth, bridge, netfilter), iproute2 and
# iptables for lab 06 and the checks' snapshots, procps for ps, libseccomp2 for the cgo
# test binaries, containerd and runc for the containerd check, docker.io for Docker's, and
# containernetworking-plugins for the pods of containerd's CRI plugin, uidmap and
# slirp4netns for the rootless engine's checks (a user with a delegated cgroup).
VM_PACKAGES=(busybox-static kmod iproute2 iptables procps libseccomp2 containerd runc docker.io containernetworking-plugins
	uidmap slirp4netns)
# What bench.sh's runtimes section needs besides: hyperfine to time, crun to compare with, GNU
# time for the peak RSS.
BENCH_PACKAGES=(hyperfine crun time)
IMAGE_KIND=image
if [ "$BENCH" = 1 ]; then
	VM_PACKAGES+=("${BENCH_PACKAGES[@]}")
	IMAGE_KIND=bench-image
fi

start_total=$EPOCHREALTIME
elapsed() { # elapsed SINCE: seconds from SINCE to now, one decimal
	awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'
}

apt_install qemu-system-x86 busybox-static xz-utils debootstrap e2fsprogs

TMP="$(mktemp -d /tmp/cgroup2-vm.XXXXXX)"
trap 'remove_tree "$TMP"' EXIT

# --- the kernel: Debian's current linux-image-*-amd64, unpacked once into the cache ---

# kernel_package names the package that linux-image-amd64 depends on: the current kernel.
kernel_package() {
	apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ { print $2; exit }'
}

# extract_vmlinux unpacks the ELF kernel from a bzImage. Booting it directly (qemu's PVH
# entry) skips the decompressor, which under TCG takes about as long as the rest of the boot.
extract_vmlinux() {
	local image="$1" out="$2" magic tool offset
	for pair in 'xz:\xfd7zXZ\x00' 'zstd:\x28\xb5\x2f\xfd' 'gzip:\x1f\x8b\x08'; do
		tool="${pair%%:*}" magic="${pair#*:}"
		command -v "$tool" >/dev/null || continue
		while read -r offset; do
			[ -n "$offset" ] || continue
			tail -c "+$((offset + 1))" "$image" | "$tool" -dc 2>/dev/null >"$out" || true
			if [ "$(head -c 4 "$out" | od -An -tx1 | tr -d ' ')" = 7f454c46 ]; then
				return 0
			fi
		done < <(LC_ALL=C grep -obUaP "$magic" "$image" | cut -d: -f1)
	done
	rm -f "$out"
	return 1
}

# unpack_kernel DIR PACKAGE VERSION: download the package and keep what the VM needs in DIR:
# the kernel, and its modules but for the hardware drivers and sound a VM has no use for
# (a quarter of the size: block, virtio, char and the virtual network devices stay).
unpack_kernel() {
	local dir="$1" pkg="$2" version="$3" deb
	echo "${BOLD}kernel${RESET}: downloading $pkg $version into $CACHE (once)"
	rm -rf "$dir"
	mkdir -p "$dir/unpack"
	if ! (cd "$dir" && apt-get download -q "$pkg=$version" >"$dir/download.log" 2>&1); then
		cat "$dir/download.log" >&2
		rm -rf "$dir"
		return 1
	fi
	deb="$(echo "$dir"/*.deb)"
	dpkg-deb -x "$deb" "$dir/unpack"
	mv "$dir"/unpack/boot/vmlinuz-* "$dir/vmlinuz"
	local modules
	modules="$(echo "$dir"/unpack/lib/modules/*)"
	[ -d "$modules/kernel" ] || die "$pkg has no modules in /lib/modules"
	mkdir -p "$dir/lib/modules"
	mv "$modules" "$dir/lib/modules/"
	modules="$dir/lib/modules/$(basename "$modules")"
	mv "$modules/kernel/drivers" "$dir/unpack/drivers"
	rm -rf "$modules/kernel/sound"
	mkdir -p "$modules/kernel/drivers/net"
	mv "$dir"/unpack/drivers/{block,char,virtio} "$modules/kernel/drivers/"
	mv "$dir"/unpack/drivers/net/*.ko "$dir"/unpack/drivers/net/{ipvlan,vxlan} "$modules/kernel/drivers/net/"
	extract_vmlinux "$dir/vmlinuz" "$dir/vmlinux" ||
		echo "note: could not unpack vmlinux from vmlinuz; booting the compressed kernel (slower)"
	rm -rf "$dir/unpack" "$deb" "$dir/download.log"
	touch "$dir/unpacked"
}

# prepare_kernel sets KERNEL_DIR to the cached current kernel, downloading it if needed;
# offline, to the newest kernel in the cache.
prepare_kernel() {
	local pkg version
	pkg="$(kernel_package)"
	if [ -z "$pkg" ]; then
		apt-get update -qq >/dev/null 2>&1 || true
		pkg="$(kernel_package)"
	fi
	if [ -n "$pkg" ]; then
		version="$(apt-cache policy "$pkg" | awk '/Candidate:/ { print $2 }')"
		KERNEL_DIR="$CACHE/kernel-$pkg-$version"
		if [ -f "$KERNEL_DIR/unpacked" ] || unpack_kernel "$KERNEL_DIR" "$pkg" "$version"; then
			return
		fi
	fi
	KERNEL_DIR="$(find "$CACHE" -mindepth 2 -maxdepth 2 -path '*/kernel-*/unpacked' -printf '%h\n' 2>/dev/null | sort -V | tail -1)"
	[ -n "$KERNEL_DIR" ] || die "cannot download Debian's current kernel (linux-image-amd64) and none is cached in $CACHE"
	echo "note: using the cached $(basename "$KERNEL_DIR")"
}

# --- the image: a Debian userland on an ext4 disk, and the initramfs that mounts it ---

# stage1_init is the initramfs's /init: load the disk and ext4 drivers (the list the image
# build wrote, in dependency order), mount the userland and switch_root into it.
stage1_init() {
	cat <<'EOF'
#!/bin/busybox sh
# /init of the cgroup v2 test VM's initramfs (written by scripts/cgroup2-vm.sh).
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t devtmpfs devtmpfs /dev
# A module that does not apply (crc32c-intel without SSE4.2) fails; the next one stands in.
while read -r m; do /bin/busybox insmod "/modules/$m" 2>/dev/null; done </modules/order
if ! /bin/busybox mount -t ext4 /dev/vda /newroot; then
	echo "@@vm error: cannot mount the userland disk /dev/vda"
	/bin/busybox poweroff -f
fi
/bin/busybox mount --move /dev /newroot/dev
/bin/busybox umount /proc
exec /bin/busybox switch_root /newroot /sbin/containerlabs-init
EOF
}

# stage2_init is the userland's /sbin/containerlabs-init, PID 1: the mounts a systemd host
# has, the unified cgroup hierarchy, then the run's script from the second disk.
stage2_init() {
	cat <<'EOF'
#!/bin/sh
# PID 1 of the cgroup v2 test VM (written by scripts/cgroup2-vm.sh): set the machine up as
# a systemd host would, then run /work/run.sh from the second disk, and power off.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mkdir -p /dev/pts /dev/shm /dev/mqueue
mount -t devpts -o gid=5,mode=0620,ptmxmode=0666 devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t mqueue mqueue /dev/mqueue
mount -t tmpfs -o mode=0755 tmpfs /run
# The unified hierarchy only (the kernel runs with cgroup_no_v1=all), and the controllers
# handed to the root's children, as systemd does on a v2 host.
mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup
echo "+cpu +io +memory +pids" >/sys/fs/cgroup/cgroup.subtree_control
mount -t bpf bpf /sys/fs/bpf 2>/dev/null
# systemd makes every mount shared; containers must cope with that.
mount --make-rshared /
hostname cgroup2-vm
ip link set lo up
for m in overlay veth bridge tun loop; do modprobe "$m" || echo "@@vm warning: modprobe $m failed"; done
mkdir -p /work
if ! mount -t ext4 /dev/vdb /work; then
	echo "@@vm error: no second disk with a run script"
	busybox poweroff -f
fi
mount --bind /work/tmp /tmp
chmod 1777 /tmp
echo "@@vm booted $(cut -d' ' -f1 /proc/uptime) $(uname -r) controllers: $(cat /sys/fs/cgroup/cgroup.controllers)"
sh /work/run.sh
sync
busybox poweroff -f
EOF
}

# build_image DIR: debootstrap the userland, add the kernel's modules and the inits, and
# write DIR/root.img and DIR/initrd.cpio.
build_image() {
	local dir="$1" root="$TMP/image" suite kver size
	suite="$(. /etc/os-release && echo "$VERSION_CODENAME")"
	kver="$(basename "$(echo "$KERNEL_DIR"/lib/modules/*)")"
	echo "${BOLD}image${RESET}: debootstrap $suite with ${VM_PACKAGES[*]} (once; about a minute)"
	if ! debootstrap --variant=minbase --include="$(IFS=,; echo "${VM_PACKAGES[*]}")" \
		"$suite" "$root" "$MIRROR" >"$TMP/debootstrap.log" 2>&1; then
		tail -20 "$TMP/debootstrap.log" >&2
		die "debootstrap of $suite from $MIRROR failed (log above)"
	fi
	unmount_tree "$root" || die "debootstrap left mounts under $root"
	# What a test VM never reads: the downloaded packages, the package lists, the docs.
	rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* \
		"$root"/usr/share/{doc,man,info,locale}
	cp -a "$KERNEL_DIR/lib/modules" "$root/lib/"
	chroot "$root" depmod -a "$kver"
	stage2_init >"$root/sbin/containerlabs-init"
	chmod +x "$root/sbin/containerlabs-init"
	echo cgroup2-vm >"$root/etc/hostname"
	printf '127.0.0.1\tlocalhost cgroup2-vm\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"

	local initrd="$TMP/initrd"
	mkdir -p "$initrd"/{bin,modules,newroot,proc,dev}
	cp "$(command -v busybox)" "$initrd/bin/busybox"
	# busybox's insmod takes plain .ko files: newer kernels' compressed modules are unpacked.
	local ko name
	for ko in $(for m in virtio_pci virtio_blk ext4; do chroot "$root" modprobe -S "$kver" --show-depends "$m"; done |
		awk '$1 == "insmod" && !seen[$2]++ { print $2 }'); do
		name="$(basename "${ko%.xz}")" && name="${name%.zst}"
		case "$ko" in
		*.xz) xz -dc "$root$ko" >"$initrd/modules/$name" ;;
		*.zst) zstd -qdc "$root$ko" >"$initrd/modules/$name" ;;
		*) cp "$root$ko" "$initrd/modules/$name" ;;
		esac
		echo "$name" >>"$initrd/modules/order"
	done
	stage1_init >"$initrd/init"
	chmod +x "$initrd/init"
	mkdir -p "$dir"
	# Uncompressed: the kernel copies it as it is, where decompressing would cost TCG time.
	(cd "$initrd" && find . | busybox cpio -o -H newc 2>/dev/null) >"$dir/initrd.cpio"
	# Room for what the tests write outside /tmp (state under /run is a tmpfs).
	size=$(($(du -sm "$root" | cut -f1) + 512))
	mkfs.ext4 -q -F -L clabs-vm -d "$root" "$dir/root.img" "${size}M" >/dev/null
	rm -rf "$root"
	touch "$dir/ready"
}

# prepare_image sets IMAGE_DIR to the cached image for this kernel, package list and recipe,
# building it if there is none, and removes images made by other recipes.
prepare_image() {
	local key
	key="$({
		echo "${VM_PACKAGES[*]}" "$MIRROR" "$(basename "$KERNEL_DIR")"
		declare -f build_image stage1_init stage2_init
	} | sha256sum | cut -c1-12)"
	IMAGE_DIR="$CACHE/$IMAGE_KIND-$key"
	[ -f "$IMAGE_DIR/ready" ] && return
	local start=$EPOCHREALTIME
	rm -rf "$IMAGE_DIR"
	build_image "$IMAGE_DIR"
	# What older runs left: images of this kind (test or bench) from other recipes, other
	# kernels, the old layout's kernels.
	find "$CACHE" -mindepth 1 -maxdepth 1 \( -name "$IMAGE_KIND-*" -o -name 'kernel-*' -o -name 'linux-image-*' \) \
		! -path "$IMAGE_DIR" ! -path "$KERNEL_DIR" -exec rm -rf {} +
	echo "${BOLD}image${RESET}: built in $(elapsed "$start")s: $(du -sm "$IMAGE_DIR" | cut -f1) MB in $IMAGE_DIR"
}

prepare_kernel
KERNEL="$KERNEL_DIR/vmlinux"
[ -f "$KERNEL" ] || KERNEL="$KERNEL_DIR/vmlinuz"
prepare_image
[ "$IMAGE_ONLY" = 1 ] && exit 0

# --- the run's disk: test binaries, lab binaries, the repository's files, room for /tmp ---

WORK="$TMP/work"
mkdir -p "$WORK"/{tests,bin,src,tmp}
cd "$REPO"
# A lab's graded checks run its binary: build the labs fresh when a lab is among the packages
# (the benchmark runs bin/labs-runc).
[ "$BENCH" = 0 ] || "$SCRIPTS/build.sh" >/dev/null
for pkg in "${PACKAGES[@]}"; do
	case "${pkg#./}" in [0-9][0-9]-*)
		"$SCRIPTS/build.sh" >/dev/null
		break
		;;
	esac
done
for f in "$BIN"/*; do
	[ -f "$f" ] && [ -x "$f" ] && cp "$f" "$WORK/bin/"
done
# The repository's files as the working tree has them (tracked and new, not ignored; from
# a copy that is not a git checkout, everything but bin/).
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "$WORK/src" 2>/dev/null || true
else
	tar -c --exclude=./bin --exclude=./.git . | tar -x -C "$WORK/src"
fi

start_build=$EPOCHREALTIME
TESTS=()
if [ "$BENCH" = 1 ]; then
	# bench.sh as it runs after its own set-up (CLBENCH_PRIVATE: packages installed, private
	# mount namespace entered; the VM is private already), on the binaries built here.
	cat >"$WORK/run.sh" <<EOF
# The run's script (written by scripts/cgroup2-vm.sh --bench), started by the VM's init.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root TMPDIR=/tmp
ln -s /work/bin /work/src/bin
echo "@@vm start bench"
(cd /work/src && CLBENCH_PRIVATE=1 CLBENCH_PREBUILT=1 RUNS=${RUNS:-20} ROUNDS=${ROUNDS:-2} \
	bash scripts/bench.sh ${SECTIONS[*]} 2>&1; echo "@@vm result bench \$? \$(cut -d' ' -f1 /proc/uptime)") | sed 's/^/@@bench /'
echo "@@vm done \$(cut -d' ' -f1 /proc/uptime)"
EOF
else
	# test2json turns each binary's -test.v output into go test -json's events inside the VM;
	# they come back on the console, and the grader's --summary prints them here.
	mkdir -p "$WORK/tools"
	CGO_ENABLED=0 go build -o "$WORK/tools/test2json" cmd/test2json
	go build -o "$TMP/grade" ./scripts/grade
	while IFS='|' read -r dir importpath; do
		[ -n "$dir" ] || continue
		rel="${dir#"$REPO"/}"
		[ "$dir" = "$REPO" ] && rel=.
		name="${rel//\//_}"
		[ "$name" = . ] && name=root
		go test -c -ldflags="-s -w" -o "$WORK/tests/$name.test" "$importpath"
		TESTS+=("$name:$rel:$importpath")
	done < <(go list -f '{{if or .TestGoFiles .XTestGoFiles}}{{.Dir}}|{{.ImportPath}}{{end}}' "${PACKAGES[@]}")
	[ "${#TESTS[@]}" -gt 0 ] || die "no test files in ${PACKAGES[*]}"
	RUN_ARG=""
	[ -n "$RUN" ] && RUN_ARG="-test.run '$RUN'"
	{
		cat <<EOF
# The run's script (written by scripts/cgroup2-vm.sh), started by the VM's init.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root TMPDIR=/tmp
export LAB_BIN=/work/bin CONTAINERLABS_EXPECT_CGROUP=v2
run() { # run NAME DIR PACKAGE: one test binary, in its package's folder, between markers
	echo "@@vm start \$1"
	cd "/work/src/\$2" && /work/tools/test2json -t -p "\$3" "/work/tests/\$1.test" -test.v=test2json -test.count=1 -test.timeout=30m $RUN_ARG 2>&1
	status=\$?
	echo "@@vm result \$1 \$status \$(cut -d' ' -f1 /proc/uptime)"
	return \$status
}
EOF
		for t in "${TESTS[@]}"; do
			IFS=: read -r name rel importpath <<<"$t"
			if [ "$FAIL_FAST" = 1 ]; then
				echo "run '$name' '$rel' '$importpath' || { echo '@@vm stopped at the first failure'; exit 1; }"
			else
				echo "run '$name' '$rel' '$importpath'"
			fi
		done
		echo 'echo "@@vm done $(cut -d" " -f1 /proc/uptime)"'
	} >"$WORK/run.sh"
fi
build_time="$(elapsed "$start_build")"

# Sparse: the free space costs nothing until the tests write it.
work_size=$(($(du -sm "$WORK" | cut -f1) + ${VM_SCRATCH_MB:-8192}))
mkfs.ext4 -q -F -L clabs-work -d "$WORK" "$TMP/work.img" "${work_size}M" >/dev/null
rm -rf "$WORK"

# --- boot ---

what="${#TESTS[@]} test binaries"
[ "$BENCH" = 0 ] || what="bench.sh ${SECTIONS[*]}"
echo "${BOLD}boot${RESET}: $(basename "$KERNEL_DIR") ($(basename "$KERNEL")), image $(basename "$IMAGE_DIR"), $what (built in ${build_time}s), tcg, ${VM_CPUS:-2} CPUs"
LOG="$TMP/console.log"
EVENTS="$TMP/events.json"
: >"$EVENTS"
start_vm=$EPOCHREALTIME
boot_time="" kernel_uptime="" done_uptime="" stopped=""
declare -A RESULT
while IFS= read -r line; do
	line="${line//$'\r'/}"
	printf '%s\n' "$line" >>"$LOG"
	case "$line" in
	"{"*) printf '%s\n' "$line" >>"$EVENTS" ;;
	*"@@vm booted "*)
		boot_time="$(elapsed "$start_vm")"
		read -r _ kernel_uptime kernel _ controllers <<<"${line#*@@vm }"
		echo "${DIM}[vm] booted in ${boot_time}s (kernel $kernel up ${kernel_uptime}s), cgroup2 ${controllers}${RESET}"
		last_uptime="$kernel_uptime"
		;;
	*"@@vm start "*) ;;
	*"@@vm result "*)
		read -r _ name rc uptime <<<"${line#*@@vm }"
		RESULT[$name]="$rc"
		took="$(awk -v a="$last_uptime" -v b="$uptime" 'BEGIN { printf "%.0f", b - a }')"
		last_uptime="$uptime"
		if [ "$rc" = 0 ]; then
			echo "${DIM}[vm] ok   $name (${took}s)${RESET}"
		else
			echo "${RED}[vm] FAIL $name (exit status $rc, ${took}s)${RESET}"
		fi
		;;
	*"@@vm stopped "*) stopped=1 ;;
	*"@@vm done "*) done_uptime="${line#*@@vm done }" ;;
	*"@@vm warning"* | *"@@vm error"*) echo "${YELLOW}[vm] ${line#*@@vm }${RESET}" ;;
	*"@@bench "*) printf '%s\n' "${line#*@@bench }" ;;
	esac
done < <(timeout "$TIMEOUT" qemu-system-x86_64 -accel tcg \
	-m "${VM_MEMORY:-3072}" -smp "${VM_CPUS:-2}" \
	-display none -monitor none -serial stdio -no-reboot -nic none \
	-kernel "$KERNEL" -initrd "$IMAGE_DIR/initrd.cpio" \
	-drive "file=$IMAGE_DIR/root.img,if=virtio,format=raw,snapshot=on" \
	-drive "file=$TMP/work.img,if=virtio,format=raw" \
	-append "console=ttyS0 quiet loglevel=3 panic=-1 cgroup_no_v1=all" </dev/null 2>&1)
vm_time="$(elapsed "$start_vm")"
[ -z "${VM_LOG:-}" ] || cp "$LOG" "$VM_LOG"

# --- summary ---

echo
echo "${BOLD}on the cgroup v2 kernel${RESET} ($(basename "$KERNEL_DIR")):"
failed=0
if [ -z "$boot_time" ]; then
	echo "${RED}the VM did not boot${RESET}; its console said:"
	tail -20 "$LOG"
	failed=1
fi
if [ "$BENCH" = 1 ]; then
	[ "${RESULT[bench]:-}" = 0 ] || { echo "${RED}bench.sh did not finish in the VM${RESET}"; failed=1; }
else
	"$TMP/grade" --from-json "$EVENTS" --summary --verbose || failed=1
fi
for t in "${TESTS[@]}"; do
	IFS=: read -r name rel _ <<<"$t"
	[ -z "${RESULT[$name]:-}" ] || continue
	if [ -n "$stopped" ]; then
		echo "  ${DIM}--   $rel (not run: --fail-fast stopped at the first failure)${RESET}"
	elif ! grep -q "@@vm start $name\$" "$LOG"; then
		echo "  ${RED}--   $rel (not run: the VM stopped first)${RESET}"
		failed=1
	fi
done
[ -n "$done_uptime" ] || [ -n "$stopped" ] || { [ -n "$boot_time" ] && echo "${RED}the VM stopped before running every test (timeout ${TIMEOUT}s?)${RESET}" && failed=1; }
echo "times: boot ${boot_time:-?}s (qemu start to the tests' start), VM ${vm_time}s in all (tests done at kernel uptime ${done_uptime:-?}s), total $(elapsed "$start_total")s"
exit "$failed"
