#!/usr/bin/env bash
# cgroup2-vm.sh: run Go test packages on a real cgroup v2 kernel, in a small VM.
#
#   cgroup2-vm.sh [-run REGEX] [PACKAGE...]     (default package: ./labs/cgroup)
#
# This host is cgroup v1 (hybrid), so the v2 driver of labs/cgroup cannot run here for real.
# The script boots Debian's own kernel under qemu's software emulation (TCG: the VM needs no
# /dev/kvm) with an initramfs made of busybox-static, the packages' test binaries (static,
# CGO_ENABLED=0), the lab binaries from bin/ (as $LAB_BIN, for a lab's graded checks) and
# the overlay, veth and bridge modules; its /init mounts cgroup2 at /sys/fs/cgroup, runs
# each test binary with -test.v, and powers off. The tests' output is printed as it comes,
# then a summary of what passed, failed and was skipped on the v2 kernel, and the times.
# Exits non-zero if a test failed or the VM did not finish.
#
# The kernel package is downloaded once (apt-get download) and kept, unpacked, under
# /var/cache/containerlabs/cgroup2-vm. Environment: VM_TIMEOUT (seconds, default 1200),
# VM_MEMORY (MiB, default 2048), VM_CPUS (default 2).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
require_root "$@"
find_go || die "no Go toolchain found; run scripts/setup.sh first"

RUN=""
PACKAGES=()
while [ $# -gt 0 ]; do
	case "$1" in
	-run | --run)
		[ $# -ge 2 ] || die "-run needs a regular expression"
		RUN="$2"
		shift 2
		;;
	-h | --help)
		sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'
		exit 0
		;;
	-*) die "unknown option $1 (usage: $0 [-run REGEX] [PACKAGE...])" ;;
	*)
		PACKAGES+=("$1")
		shift
		;;
	esac
done
[ "${#PACKAGES[@]}" -gt 0 ] || PACKAGES=(./labs/cgroup)

CACHE=/var/cache/containerlabs/cgroup2-vm
TIMEOUT="${VM_TIMEOUT:-1200}"
# The modules later labs need, in load order (bridge needs llc and stp).
MODULES=(llc stp bridge veth overlay)

start_total=$EPOCHREALTIME
elapsed() { # elapsed SINCE: seconds from SINCE to now, one decimal
	awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'
}

apt_install qemu-system-x86 busybox-static xz-utils

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

# unpack_kernel DIR PACKAGE VERSION: download the package and keep what the VM needs in DIR.
unpack_kernel() {
	local dir="$1" pkg="$2" version="$3" deb ko
	echo "${BOLD}kernel${RESET}: downloading $pkg $version into $CACHE (once)"
	rm -rf "$dir"
	mkdir -p "$dir/modules" "$dir/unpack"
	if ! (cd "$dir" && apt-get download -q "$pkg=$version" >"$dir/download.log" 2>&1); then
		cat "$dir/download.log" >&2
		rm -rf "$dir"
		return 1
	fi
	deb="$(echo "$dir"/*.deb)"
	local patterns=('./boot/vmlinuz-*')
	for m in "${MODULES[@]}"; do patterns+=("*/$m.ko*"); done
	dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$dir/unpack" --wildcards "${patterns[@]}"
	mv "$dir"/unpack/boot/vmlinuz-* "$dir/vmlinuz"
	for m in "${MODULES[@]}"; do
		ko="$(find "$dir/unpack" -name "$m.ko*" | head -1)"
		case "$ko" in
		*.ko) cp "$ko" "$dir/modules/$m.ko" ;;
		*.ko.xz) xz -dc "$ko" >"$dir/modules/$m.ko" ;;
		*.ko.zst) zstd -qdc "$ko" >"$dir/modules/$m.ko" ;;
		*) die "$pkg has no module $m (or one this script cannot unpack: '$ko')" ;;
		esac
	done
	extract_vmlinux "$dir/vmlinuz" "$dir/vmlinux" ||
		echo "note: could not unpack vmlinux from vmlinuz; booting the compressed kernel (slower)"
	rm -rf "$dir/unpack" "$deb" "$dir/download.log"
	touch "$dir/ready"
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
		KERNEL_DIR="$CACHE/$pkg-$version"
		if [ -f "$KERNEL_DIR/ready" ] || unpack_kernel "$KERNEL_DIR" "$pkg" "$version"; then
			return
		fi
	fi
	KERNEL_DIR="$(find "$CACHE" -mindepth 2 -maxdepth 2 -name ready -printf '%h\n' 2>/dev/null | sort -V | tail -1)"
	[ -n "$KERNEL_DIR" ] || die "cannot download Debian's current kernel (linux-image-amd64) and none is cached in $CACHE"
	echo "note: using the cached $(basename "$KERNEL_DIR")"
}

prepare_kernel
KERNEL="$KERNEL_DIR/vmlinux"
[ -f "$KERNEL" ] || KERNEL="$KERNEL_DIR/vmlinuz"

# --- the initramfs: busybox, modules, test binaries, lab binaries, an /init ---

TMP="$(mktemp -d /tmp/cgroup2-vm.XXXXXX)"
trap 'rm -rf "$TMP"' EXIT
ROOT="$TMP/root"
mkdir -p "$ROOT"/{bin,dev,proc,sys,tmp,run,root,lib/modules,tests,lab-bin,src}
cp "$(command -v busybox)" "$ROOT/bin/busybox"
cp "$KERNEL_DIR"/modules/*.ko "$ROOT/lib/modules/"
cp "$REPO/go.mod" "$ROOT/src/"

cd "$REPO"
# A lab's graded checks run its binary: build the labs fresh when a lab is among the packages.
for pkg in "${PACKAGES[@]}"; do
	case "${pkg#./}" in [0-9][0-9]-*)
		"$SCRIPTS/build.sh" >/dev/null
		break
		;;
	esac
done
for f in "$BIN"/*; do
	[ -f "$f" ] && [ -x "$f" ] && cp "$f" "$ROOT/lab-bin/"
done

start_build=$EPOCHREALTIME
TESTS=()
while IFS='|' read -r dir importpath; do
	[ -n "$dir" ] || continue
	rel="${dir#"$REPO"/}"
	name="${rel//\//_}"
	CGO_ENABLED=0 go test -c -ldflags="-s -w" -o "$ROOT/tests/$name.test" "$importpath"
	mkdir -p "$ROOT/src/$rel"
	[ -d "$dir/testdata" ] && cp -r "$dir/testdata" "$ROOT/src/$rel/"
	TESTS+=("$name:$rel")
done < <(go list -f '{{if or .TestGoFiles .XTestGoFiles}}{{.Dir}}|{{.ImportPath}}{{end}}' "${PACKAGES[@]}")
[ "${#TESTS[@]}" -gt 0 ] || die "no test files in ${PACKAGES[*]}"
build_time="$(elapsed "$start_build")"

RUN_ARG=""
[ -n "$RUN" ] && RUN_ARG="-test.run '$RUN'"
{
	cat <<'EOF'
#!/bin/busybox sh
# /init of the cgroup v2 test VM (written by scripts/cgroup2-vm.sh).
#
# The kernel unpacks the initramfs into rootfs, the first mount of all, which can never be
# unmounted or moved, so pivot_root(2) refuses (EINVAL) to swap it out: every container
# would fail at pivot_root. So the files move to a tmpfs first, and switch_root makes that
# the root (deleting the rootfs copy) and runs this script again from there.
if [ "$1" != switched ]; then
	/bin/busybox mkdir /newroot
	/bin/busybox mount -t tmpfs -o mode=0755 tmpfs /newroot
	/bin/busybox cp -a /bin /lib /root /tests /lab-bin /src /init /newroot/
	/bin/busybox mkdir /newroot/dev /newroot/proc /newroot/sys /newroot/tmp /newroot/run
	exec /bin/busybox switch_root /newroot /init switched
fi
/bin/busybox --install -s /bin
export PATH=/bin HOME=/root TMPDIR=/tmp LAB_BIN=/lab-bin CONTAINERLABS_EXPECT_CGROUP=v2
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
# The unified hierarchy only (the kernel runs with cgroup_no_v1=all), and the controllers
# handed to the root's children, as systemd does on a v2 host.
mount -t cgroup2 cgroup2 /sys/fs/cgroup
echo "+cpu +io +memory +pids" >/sys/fs/cgroup/cgroup.subtree_control
for m in llc stp bridge veth overlay; do insmod /lib/modules/$m.ko || echo "@@vm warning: insmod $m failed"; done
ip link set lo up
echo "@@vm booted $(cut -d' ' -f1 /proc/uptime) $(uname -r) controllers: $(cat /sys/fs/cgroup/cgroup.controllers)"
EOF
	for t in "${TESTS[@]}"; do
		name="${t%%:*}" rel="${t#*:}"
		echo "echo '@@vm start $name'"
		echo "cd /src/$rel && /tests/$name.test -test.v -test.count=1 $RUN_ARG 2>&1; echo \"@@vm result $name \$?\""
	done
	echo 'echo "@@vm done $(cut -d" " -f1 /proc/uptime)"'
	echo 'poweroff -f'
} >"$ROOT/init"
chmod +x "$ROOT/init"
# Uncompressed: the kernel copies it as it is, where decompressing would cost seconds of TCG.
(cd "$ROOT" && find . | busybox cpio -o -H newc 2>/dev/null) >"$TMP/initramfs.cpio"

# --- boot ---

echo "${BOLD}boot${RESET}: $(basename "$KERNEL_DIR") ($(basename "$KERNEL")), $(du -m "$TMP/initramfs.cpio" | cut -f1) MB initramfs, ${#TESTS[@]} test binaries (built in ${build_time}s), tcg, ${VM_CPUS:-2} CPUs"
LOG="$TMP/console.log"
start_vm=$EPOCHREALTIME
boot_time="" kernel_uptime="" done_uptime=""
declare -A RESULT
while IFS= read -r line; do
	line="${line//$'\r'/}"
	printf '%s\n' "$line" >>"$LOG"
	case "$line" in
	*"@@vm booted "*)
		boot_time="$(elapsed "$start_vm")"
		read -r _ kernel_uptime kernel _ controllers <<<"${line#*@@vm }"
		echo "${DIM}[vm] booted in ${boot_time}s (kernel $kernel up ${kernel_uptime}s), cgroup2 ${controllers}${RESET}"
		;;
	*"@@vm start "*) echo "${BOLD}[vm] ${line#*@@vm start }${RESET}" ;;
	*"@@vm result "*)
		read -r _ name rc <<<"${line#*@@vm }"
		RESULT[$name]="$rc"
		;;
	*"@@vm done "*) done_uptime="${line#*@@vm done }" ;;
	*"@@vm warning"*) echo "${YELLOW}[vm] ${line#*@@vm }${RESET}" ;;
	*) [ -n "$boot_time" ] && printf '%s\n' "$line" ;;
	esac
done < <(timeout "$TIMEOUT" qemu-system-x86_64 -accel tcg \
	-m "${VM_MEMORY:-2048}" -smp "${VM_CPUS:-2}" \
	-display none -monitor none -serial stdio -no-reboot -nic none \
	-kernel "$KERNEL" -initrd "$TMP/initramfs.cpio" \
	-append "console=ttyS0 quiet loglevel=3 panic=-1 cgroup_no_v1=all" </dev/null 2>&1)
vm_time="$(elapsed "$start_vm")"

# --- summary ---

# tests_with OUTCOME: the names of the tests that go test -v reports with OUTCOME (PASS,
# SKIP or FAIL) in its standard input, on one line.
tests_with() {
	{ grep -oP "^\s*--- $1: \K\S+" || true; } | tr '\n' ' '
}

# list LABEL NAMES: "LABEL (N):" and the names, wrapped and indented.
list() {
	[ -n "$2" ] || return 0
	echo "       $1 ($(wc -w <<<"$2")):"
	fold -s -w 96 <<<"$2" | sed 's/^/         /'
}

echo
echo "${BOLD}on the cgroup v2 kernel${RESET} ($(basename "$KERNEL_DIR")):"
failed=0
if [ -z "$boot_time" ]; then
	echo "${RED}the VM did not boot${RESET}; its console said:"
	tail -20 "$LOG"
	failed=1
fi
for t in "${TESTS[@]}"; do
	name="${t%%:*}"
	# The test lines of this binary: from its start marker to its result.
	section="$(awk -v n="$name" '$0 ~ "@@vm start "n"$" { on = 1; next } $0 ~ "@@vm result "n" " { on = 0 } on' "$LOG")"
	passed="$(tests_with PASS <<<"$section")"
	skipped="$(tests_with SKIP <<<"$section")"
	failures="$(tests_with FAIL <<<"$section")"
	rc="${RESULT[$name]:-}"
	if [ "$rc" = 0 ]; then
		echo "  ${GREEN}ok${RESET}   ${t#*:}"
	else
		echo "  ${RED}FAIL${RESET} ${t#*:} (${rc:+exit status $rc}${rc:-no result: the VM stopped first})"
		failed=1
	fi
	list "passed" "$passed"
	list "${YELLOW}skipped${RESET}" "$skipped"
	# A skip says why on the line after it.
	[ -n "$skipped" ] && grep -A1 -P '^\s*--- SKIP: ' <<<"$section" | grep -vP '^\s*--- SKIP: |^--$' | sed 's/^ */         why: /'
	list "${RED}failed${RESET}" "$failures"
done
[ -n "$done_uptime" ] || { [ -n "$boot_time" ] && echo "${RED}the VM stopped before running every test (timeout ${TIMEOUT}s?)${RESET}" && failed=1; }
echo "times: boot ${boot_time:-?}s (qemu start to /init ready), VM ${vm_time}s in all (tests done at kernel uptime ${done_uptime:-?}s), total $(elapsed "$start_total")s"
exit "$failed"
