#!/usr/bin/env bash
# oci-validation.sh: run the OCI runtime-tools validation suite against a runtime.
#
#   oci-validation.sh [--timeout SECONDS] [--only REGEX] [--logs DIR] [RUNTIME]
#
# RUNTIME is a path or a command name (labs-runc, runc, crun); default bin/labs-runc. The
# suite is the one behind runtime-tools' `make localvalidation`: 58 programs under
# validation/, each writing TAP, each creating containers with $RUNTIME and checking them
# from outside or, through the runtimetest binary copied into the bundle, from inside. It is
# built from the Go module proxy at the commit Debian ships (0105384), once, into
# /var/cache/containerlabs/oci-validation; the module's hash is pinned below.
#
# Every program runs with a timeout, with its bundles under a temp dir and the runtime's
# state under another (--root), and whatever it leaves (containers, processes) is removed
# after it; a program that fails is run once more (see the loop). One line is printed per
# program, then a total. A program counts as passed if it
# exits 0 and its TAP has no "not ok" (see verdict for the details). Programs that fail
# for runc, crun and labs-runc alike on this kind of host (Debian 12, cgroup v1 hybrid, no
# SELinux or AppArmor) are listed in EVERY_RUNTIME with the reason, and the few labs-runc
# fails on purpose in BY_DESIGN; they do not fail the run, any other failure does (exit
# status 1). --only REGEX runs the programs whose names match; --logs DIR keeps every
# program's output there. For crun, each call runs in a mount namespace of its own (see
# below). Run it under the shared host lock: it creates containers and cgroups.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

TIMEOUT=60
ONLY=""
LOGS=""
RUNTIME=""
while [ $# -gt 0 ]; do
	case "$1" in
	--timeout)
		[ $# -ge 2 ] || die "--timeout needs a number of seconds"
		TIMEOUT="$2"
		shift 2
		;;
	--only)
		[ $# -ge 2 ] || die "--only needs a regular expression"
		ONLY="$2"
		shift 2
		;;
	--logs)
		[ $# -ge 2 ] || die "--logs needs a directory"
		LOGS="$2"
		shift 2
		;;
	-h | --help)
		sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'
		exit 0
		;;
	-*) die "unknown option $1 (usage: $0 [--timeout SECONDS] [--only REGEX] [--logs DIR] [RUNTIME])" ;;
	*)
		[ -z "$RUNTIME" ] || die "one runtime at a time: got $RUNTIME and $1"
		RUNTIME="$1"
		shift
		;;
	esac
done
[[ "$TIMEOUT" =~ ^[1-9][0-9]*$ ]] || die "--timeout $TIMEOUT is not a number of seconds"
require_root
find_go || die "no Go toolchain found; run scripts/setup.sh first"

# The commit of runtime-tools Debian ships, and the hash of its module zip (go.sum's h1:).
# The checksum database may not know a pseudo-version, so it is not asked (GONOSUMDB); the
# hash pinned here is checked instead.
MODULE=github.com/opencontainers/runtime-tools
VERSION=v0.9.1-0.20220125021840-0105384f68e1
SUM=h1:qCESnRZuVKFNEIA2h0FI59QDxRx5WHJBdUs273qjUm4=
CACHE=/var/cache/containerlabs/oci-validation/$VERSION

# Programs that fail for runc 1.1.5, crun 1.8.1 and labs-runc alike on this kind of host,
# and why: the host lacks what they test, or the program expects what today's
# specification and every runtime do differently. They run (a change shows), but do not
# fail the run.
declare -A EVERY_RUNTIME=(
	[linux_cgroups_blkio]="this kernel's IO scheduler has no blkio.weight (no CFQ or BFQ)"
	[linux_cgroups_relative_blkio]="this kernel's IO scheduler has no blkio.weight (no CFQ or BFQ)"
	[linux_cgroups_hugetlb]="hugetlb is attached to the cgroup v2 tree of this hybrid host: no v1 hierarchy has it"
	[linux_cgroups_relative_hugetlb]="hugetlb is attached to the cgroup v2 tree of this hybrid host: no v1 hierarchy has it"
	[linux_cgroups_memory]="it checks kernel memory limits, deprecated since Linux 5.4 and ignored by every runtime"
	[linux_cgroups_relative_memory]="it checks kernel memory limits, deprecated since Linux 5.4 and ignored by every runtime"
	[linux_cgroups_network]="this host mounts no net_cls or net_prio hierarchy"
	[linux_cgroups_relative_network]="this host mounts no net_cls or net_prio hierarchy"
	[linux_process_apparmor_profile]="AppArmor is not enabled on this host"
	[process_capabilities]="it asks for every capability, and this host's root lacks CAP_SYS_RESOURCE in its bounding set"
	[delete]="it wants delete of a created container to fail; every runtime kills and deletes it, as containerd's shim expects"
	[hooks]="it wants prestart hooks run by start; the specification since 1.0.2, and every runtime, run them during create"
	[prestart]="it wants prestart hooks run by start; the specification since 1.0.2, and every runtime, run them during create"
	[misc_props]="it starts /runtimetest without copying it into the bundle"
	[pidfile]="it kills a container whose command, true, may already have exited; kill must then fail"
	[start]="its last case creates a container with no process, which every runtime refuses"
)

# Programs labs-runc fails on purpose, and why. Like the above, they do not fail the run.
declare -A BY_DESIGN=(
	[linux_ns_itype]="a container without a mount namespace would mount its root, /proc and /dev on the host (runc does, and leaves them); labs-runc refuses it, crun makes a mount namespace anyway"
)

# --- the runtime ---

if [ -z "$RUNTIME" ]; then
	RUNTIME="$BIN/labs-runc"
	[ -x "$RUNTIME" ] || die "$RUNTIME is missing: run scripts/build.sh first"
fi
if [[ "$RUNTIME" != */* ]]; then
	found="$(command -v "$RUNTIME")" || die "runtime $RUNTIME not found (apt-get install runc crun, or give a path)"
	RUNTIME="$found"
fi
RUNTIME="$(realpath "$RUNTIME")"
[ -x "$RUNTIME" ] || die "runtime $RUNTIME is not an executable file"
NAME="$(basename "$RUNTIME")"

# --- the suite: built once into the cache ---

# build_suite downloads the module, checks its hash, and builds runtimetest and every
# validation program into the cache.
build_suite() {
	local tmp dir sum
	tmp="$(mktemp -d /tmp/oci-validation-build.XXXXXX)"
	# shellcheck disable=SC2064
	trap "rm -rf '$tmp'" RETURN
	echo "building the runtime-tools validation suite ($MODULE@$VERSION) into $CACHE"
	local info
	info="$(cd "$tmp" && GOFLAGS=-mod=mod GONOSUMDB="$MODULE" go mod download -json "$MODULE@$VERSION")" ||
		die "could not download $MODULE@$VERSION from the Go module proxy"
	dir="$(sed -n 's/^\t"Dir": "\(.*\)",$/\1/p' <<<"$info")"
	sum="$(sed -n 's/^\t"Sum": "\(.*\)",$/\1/p' <<<"$info")"
	[ "$sum" = "$SUM" ] || die "$MODULE@$VERSION has hash $sum, expected $SUM: refusing to build it"
	cp -r "$dir" "$tmp/src"
	chmod -R u+w "$tmp/src"
	# The module zip keeps vendor/modules.txt but not the vendored code: build in module mode.
	rm -rf "$tmp/src/vendor"
	# The one change, made to this temporary copy only: Go >= 1.19 raises the soft
	# RLIMIT_NOFILE to the hard limit when a program starts (and restores it only in the
	# processes it starts), so runtimetest would report the raised limit, not the one the
	# runtime set, and process_rlimits would fail for every runtime. This file puts the
	# limit back before main runs. It reaches the runtime's record of the original limit
	# by linkname, hence -checklinkname=0 below.
	cat >"$tmp/src/cmd/runtimetest/nofile_linux.go" <<'EOF'
package main

import (
	"sync/atomic"
	"syscall"
	"unsafe"
)

// origRlimitNofile is syscall's atomic.Pointer[Rlimit] of the same name, spelled without
// generics because the module's go.mod says go 1.16.
//
//go:linkname origRlimitNofile syscall.origRlimitNofile
var origRlimitNofile struct {
	_ [0]*syscall.Rlimit
	_ struct{}
	v unsafe.Pointer
}

func init() {
	if lim := (*syscall.Rlimit)(atomic.LoadPointer(&origRlimitNofile.v)); lim != nil {
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, lim)
	}
}
EOF
	mkdir -p "$tmp/out/bin"
	(
		cd "$tmp/src"
		export GOFLAGS=-mod=mod CGO_ENABLED=0
		go build -tags "netgo osusergo" -ldflags "-checklinkname=0" -o "$tmp/out/runtimetest" ./cmd/runtimetest
		go build -o "$tmp/out/bin/" ./validation/...
	) || die "building the validation suite failed"
	mkdir -p "$(dirname "$CACHE")"
	rm -rf "$CACHE"
	mv "$tmp/out" "$CACHE"
}
[ -x "$CACHE/runtimetest" ] || build_suite

# --- the run ---

apt_install busybox-static
WORK="$(mktemp -d /tmp/oci-validation.XXXXXX)"
# Open to all: a container in a user namespace runs as another host uid, and reaches its
# bundle through this directory.
chmod 755 "$WORK"
STATE="$WORK/state"

# The cgroups the suite names (cgroupsPath /cgrouptest and testdir/cgrouptest/container,
# relative to the runtime's own group, here the root), parents first. runc and crun remove a
# container's group but not the parents they made for it; whatever of these did not exist
# before the run is removed after each program.
SUITE_CGROUPS=(cgrouptest testdir testdir/cgrouptest testdir/cgrouptest/container)
CGROUP_ROOTS=(/sys/fs/cgroup /sys/fs/cgroup/*/)
preexisting=()
for root in "${CGROUP_ROOTS[@]}"; do
	for group in "${SUITE_CGROUPS[@]}"; do
		[ -d "$root/$group" ] && preexisting+=("$(realpath "$root/$group")")
	done
done
remove_suite_cgroups() {
	local root i dir
	for root in "${CGROUP_ROOTS[@]}"; do
		for ((i = ${#SUITE_CGROUPS[@]} - 1; i >= 0; i--)); do
			dir="$root/${SUITE_CGROUPS[$i]}"
			[ -d "$dir" ] || continue
			[[ " ${preexisting[*]} " == *" $(realpath "$dir") "* ]] && continue
			rmdir "$dir" 2>/dev/null || echo "warning: could not remove cgroup $dir" >&2
		done
	done
}

# delete_leftovers removes every container the runtime still knows under our root, and
# whatever a program left mounted or running, or as a cgroup.
delete_leftovers() {
	local id
	if [ -d "$STATE" ]; then
		for id in $(ls "$STATE"); do
			[[ "$id" == .* ]] && continue
			"$WORK/runtime" delete --force "$id" >/dev/null 2>&1 || true
		done
	fi
	unmount_tree "$WORK/tmp" || true
	remove_suite_cgroups
}
cleanup() {
	delete_leftovers
	remove_tree "$WORK"
}
trap cleanup EXIT

# The runtime, as the programs call it: with a state root of our own. crun 1.8 refuses a
# hybrid host whose cgroup v2 tree has a controller (here hugetlb), so for crun the file
# that lists them is hidden behind an empty one, in a private mount namespace per call.
mkdir -p "$STATE" "$WORK/tmp" "$WORK/rootfs"
if [ "$NAME" = crun ] && grep -qs . /sys/fs/cgroup/unified/cgroup.controllers; then
	cat >"$WORK/runtime" <<EOF
#!/bin/sh
exec unshare --mount --propagation private sh -c 'mount --bind /dev/null /sys/fs/cgroup/unified/cgroup.controllers && exec "\$0" "\$@"' "$RUNTIME" --root "$STATE" "\$@"
EOF
else
	printf '#!/bin/sh\nexec "%s" --root "%s" "$@"\n' "$RUNTIME" "$STATE" >"$WORK/runtime"
fi
chmod +x "$WORK/runtime"

# The bundles' root: busybox-static with a link per applet, the test's passwd and group.
(
	cd "$WORK/rootfs"
	mkdir -p bin dev etc proc sys tmp
	cp "$(command -v busybox)" bin/busybox
	for applet in $(bin/busybox --list); do
		[ -e "bin/$applet" ] || ln -s busybox "bin/$applet"
	done
	printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >etc/passwd
	printf 'root:x:0:\nnogroup:x:65534:\n' >etc/group
	tar -czf "$WORK/rootfs-amd64.tar.gz" .
)
cp "$CACHE/runtimetest" "$WORK/runtimetest"

# run_program BINARY OUTPUT runs one validation program, sets status, and removes what it
# left. timeout makes a process group of its own (env execs it, so its PID is $!) and signals
# all of it; what is left of the group after the program exits is ended too.
run_program() {
	local bin="$1" out="$2" pid
	set +e
	env -C "$WORK" TMPDIR="$WORK/tmp" RUNTIME="$WORK/runtime" \
		timeout -k 5 "$TIMEOUT" "$bin" >"$out" 2>&1 </dev/null &
	pid=$!
	wait "$pid"
	status=$?
	set -e
	kill -KILL -- "-$pid" 2>/dev/null || true
	delete_leftovers
}

# verdict NAME FILE STATUS: "pass", or the first reason the program's output gives for
# failing. The diagnostics are JSON inside TAP's YAML blocks; an "error" in one is normal
# under an "ok" line (the runtime was expected to fail), and a failure only where no test
# line follows it (the lifecycle programs report that way). A program named *_fail checks
# that create fails, and says nothing when it does.
verdict() {
	local name="$1" out="$2" status="$3" line
	if [ "$status" = 124 ] || [ "$status" = 137 ]; then
		echo "timed out after ${TIMEOUT}s"
		return
	fi
	line="$(grep -m1 '^not ok' "$out" || true)"
	[ -n "$line" ] && { echo "$line"; return; }
	if [ "$status" != 0 ]; then
		line="$(grep -v -E '^(TAP version|1\.\.)' "$out" | grep -m1 . || true)"
		echo "exit status $status${line:+: $line}"
		return
	fi
	if ! grep -q -E '^ok ' "$out"; then
		line="$(grep -m1 -E '^[[:space:]]*"error": ' "$out" || true)"
		[ -n "$line" ] && { echo "${line#"${line%%[![:space:]]*}"}"; return; }
		if ! grep -q -E '^1\.\.[0-9]+' "$out" && [[ "$name" != *_fail ]]; then
			echo "no TAP output: the container printed nothing"
			return
		fi
	fi
	echo pass
}

echo "${BOLD}OCI runtime-tools validation${RESET} ($VERSION) against $RUNTIME"
passed=0 failed=0 limited=0 total=0
failures=()
start=$EPOCHREALTIME
for bin in "$CACHE"/bin/*; do
	name="$(basename "$bin")"
	[ -n "$ONLY" ] && ! [[ "$name" =~ $ONLY ]] && continue
	total=$((total + 1))
	out="$WORK/$name.tap"
	known="${EVERY_RUNTIME[$name]:-}"
	[ "$NAME" = labs-runc ] && [ -z "$known" ] && known="${BY_DESIGN[$name]:-}"
	run_program "$bin" "$out"
	result="$(verdict "$name" "$out" "$status")"
	if [ "$result" != pass ] && [ -z "$known" ]; then
		# Some programs race the container's process against a hook or a kill (poststart,
		# kill, killsig), and lose now and then on a busy machine: a failure counts only if
		# it happens twice.
		run_program "$bin" "$out"
		result="$(verdict "$name" "$out" "$status")"
	fi
	[ -n "$LOGS" ] && mkdir -p "$LOGS" && cp "$out" "$LOGS/"
	if [ "$result" = pass ]; then
		passed=$((passed + 1))
		if [ -n "$known" ]; then
			printf '%-34s %s\n' "$name" "${GREEN}pass${RESET} (listed as failing here: update the lists in $0)"
		else
			printf '%-34s %s\n' "$name" "${GREEN}pass${RESET}"
		fi
	elif [ -n "$known" ]; then
		limited=$((limited + 1))
		printf '%-34s %s\n' "$name" "${YELLOW}fail${RESET} ${DIM}(expected: $known)${RESET}"
	else
		failed=$((failed + 1))
		failures+=("$name")
		printf '%-34s %s\n' "$name" "${RED}FAIL${RESET} $result"
	fi
done
seconds="$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }')"
# Worded so that no CI log reader takes it for a test runner's "N passed, N failed" line.
echo "$NAME: $passed of $total programs pass; $limited fail as expected, $failed unexpectedly (${seconds}s)"
if [ "${#failures[@]}" -gt 0 ]; then
	echo "${RED}failed:${RESET} ${failures[*]} (rerun one with --only NAME --logs DIR to keep its TAP output)"
	exit 1
fi
