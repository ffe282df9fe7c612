#!/usr/bin/env bash
# bench.sh: how long `run` of /bin/true takes with labs-runc, runc and crun, side by side, on
# the same busybox bundle, measured with hyperfine; and each runtime's peak RSS.
#
#   bench.sh              60 runs of each, in 5 rounds (RUNS=N, ROUNDS=M to change)
#
# The runtimes are measured round by round, each round all of them in turn, and the figure
# given is the median of the rounds' medians: on a shared machine a burst of other work then
# slows one round of every runtime rather than all the runs of one.
#
# Two configs are measured: runc's own default (`runc spec`: no seccomp, no cgroup
# namespace) and Docker's default hardening (`labs-runc spec`: seccomp profile, masked and
# read-only paths, cgroup namespace), which every runtime must then also apply. The bare
# `unshare` floor (namespaces and a chroot, no runtime at all) is the reference.
#
# crun 1.8 refuses a cgroup v1 host that also mounts cgroup2 at /sys/fs/cgroup/unified
# ("hybrid"): it reads that tree's cgroup.controllers, finds hugetlb there, and stops with
# "cgroups in hybrid mode not supported". The benchmarks therefore run in a private mount
# namespace in which that one file is covered with an empty one (/dev/null), so that crun
# sees a plain v1 host, as it would on a host without the hybrid tree. Nothing outside the
# namespace changes; runc and labs-runc never read that file.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
require_root "$@"
find_go || die "no Go toolchain found; run scripts/setup.sh first"
apt_install hyperfine runc crun time busybox-static gcc libseccomp-dev

RUNS="${RUNS:-60}"
ROUNDS="${ROUNDS:-5}"
WORK="$(mktemp -d /tmp/containerlabs-bench.XXXXXX)"
# cleanup deletes what an interrupted run left (each runtime its own containers), then the
# work directory.
cleanup() {
	local runtime id
	for runtime in labs-runc runc crun; do
		for id in "$WORK/state-$runtime"/*; do
			if [ -d "$id" ]; then
				"${runtime/labs-runc/$BIN/labs-runc}" --root "$WORK/state-$runtime" delete --force "$(basename "$id")" >/dev/null 2>&1 || true
			fi
		done
	done
	unmount_tree "$WORK" && rm -rf "$WORK"
}
trap cleanup EXIT

cd "$REPO"
echo "building bin/labs-runc (cgo, static)"
CGO_ENABLED=1 go build -tags osusergo,netgo -ldflags '-linkmode external -extldflags -static' \
	-o "$BIN/labs-runc" ./08-engine/labs-runc

# A busybox root: the static binary and the two applets the benchmark and the shell need.
ROOTFS="$WORK/rootfs"
mkdir -p "$ROOTFS"/{bin,proc,sys,dev,tmp,etc}
busybox="$(command -v busybox)"
cp "$busybox" "$ROOTFS/bin/busybox"
ln -s busybox "$ROOTFS/bin/true"
ln -s busybox "$ROOTFS/bin/sh"

# bundle NAME CONFIG: a bundle directory with its own config.json, whose root.path is the
# shared root (runc refuses a rootfs that is a symlink, so the path goes into the config).
bundle() {
	mkdir -p "$WORK/$1"
	sed "s|\"path\": \"rootfs\"|\"path\": \"$ROOTFS\"|" "$2" >"$WORK/$1/config.json"
	grep -q "\"path\": \"$ROOTFS\"" "$WORK/$1/config.json" || die "could not set root.path in $2"
}
(cd "$WORK" && runc spec && mv config.json runc-spec.json)
sed -i -e 's/"terminal": true/"terminal": false/' -e 's/"sh"$/"\/bin\/true"/' "$WORK/runc-spec.json"
grep -q '"/bin/true"' "$WORK/runc-spec.json" || die "could not set /bin/true in runc's default config"
"$BIN/labs-runc" spec --bundle "$WORK" /bin/true
mv "$WORK/config.json" "$WORK/docker-spec.json"
bundle plain "$WORK/runc-spec.json"
bundle hardened "$WORK/docker-spec.json"

# measure NAME BUNDLE: hyperfine of the three runtimes (and the floor) on one bundle,
# inside the private mount namespace described above, in $ROUNDS rounds. Each round's
# results go to $WORK/NAME.ROUND.csv.
measure() {
	local name="$1" dir="$WORK/$2" round
	for round in $(seq "$ROUNDS"); do
		unshare --mount --propagation private bash -euc '
			controllers=/sys/fs/cgroup/unified/cgroup.controllers
			[ -e "$controllers" ] && mount --bind /dev/null "$controllers"
			cd "$1"
			hyperfine --shell=none --warmup 3 --runs "$2" --export-csv "$3" --style basic \
				-n floor "unshare -fpmuin --mount-proc=$4/proc chroot $4 /bin/true" \
				-n labs-runc "$5 --root $6/state-labs-runc run bench" \
				-n runc "runc --root $6/state-runc run bench" \
				-n crun "crun --root $6/state-crun run bench"
		' _ "$dir" "$(( (RUNS + ROUNDS - 1) / ROUNDS ))" "$WORK/$name.$round.csv" "$ROOTFS" "$BIN/labs-runc" "$WORK" \
			>"$WORK/$name.log" 2>&1 || { cat "$WORK/$name.log"; die "the $name benchmark failed"; }
	done
}

# median NAME COMMAND: the median, in ms, over the rounds of COMMAND's median in NAME.
median() {
	awk -F, -v c="$2" '$1 == c { print $4 * 1000 }' "$WORK/$1".*.csv | sort -n |
		awk '{ v[NR] = $1 } END { if (NR % 2) m = v[(NR + 1) / 2]; else m = (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.1f", m }'
}

# rss COMMAND...: median peak RSS (KiB) of 5 runs, as GNU time reports it: the largest of
# the runtime and the processes it waited for (its init, for runc and labs-runc).
rss() {
	local values=()
	for _ in 1 2 3 4 5; do
		values+=("$(unshare --mount --propagation private bash -c '
			[ -e /sys/fs/cgroup/unified/cgroup.controllers ] && mount --bind /dev/null /sys/fs/cgroup/unified/cgroup.controllers
			cd "$1" && shift && /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1' _ "$WORK/plain" "$@")")
	done
	printf '%s\n' "${values[@]}" | sort -n | sed -n 3p
}

echo "measuring run /bin/true, $RUNS runs each in $ROUNDS rounds (this takes a minute or two)"
measure plain plain
measure hardened hardened

ENGINE_LINE="08-engine run --rm: skipped (no 08-engine yet)"
if [ -f 08-engine/main.go ]; then
	CGO_ENABLED=1 go build -tags osusergo,netgo -ldflags '-linkmode external -extldflags -static' \
		-o "$BIN/08-engine" ./08-engine
	# The engine's own command line; override with ENGINE_RUN if it needs more.
	engine_run="${ENGINE_RUN:-$BIN/08-engine run --rm busybox /bin/true}"
	if $engine_run >/dev/null 2>&1; then
		hyperfine --shell=none --warmup 3 --runs "$RUNS" --export-csv "$WORK/engine.1.csv" --style basic \
			-n engine "$engine_run" >"$WORK/engine.log" 2>&1
		ENGINE_LINE="08-engine run --rm (end to end): $(median engine engine) ms median"
	else
		ENGINE_LINE="08-engine run --rm: skipped ('$engine_run' failed; set ENGINE_RUN)"
	fi
fi

echo
printf '%-28s %10s %10s %10s %10s %10s\n' "run /bin/true, median ms" floor labs-runc runc crun "labs/crun"
for name in plain hardened; do
	ours="$(median $name labs-runc)" crun="$(median $name crun)"
	printf '%-28s %10s %10s %10s %10s %10s\n' "$name config" "$(median $name floor)" "$ours" \
		"$(median $name runc)" "$crun" "$(awk -v a="$ours" -v b="$crun" 'BEGIN { printf "%.2fx", a / b }')"
done
echo
ours="$(median plain labs-runc)" runc="$(median plain runc)" crun="$(median plain crun)"
awk -v o="$ours" -v r="$runc" -v c="$crun" 'BEGIN {
	printf "labs-runc / crun = %.2f   (target: at most 1.0, stretch 0.8)\n", o / c
	printf "labs-runc / runc = %.2f   (target: at most 0.4)\n", o / r
}'
rss_ours="$(rss "$BIN/labs-runc" --root "$WORK/state-labs-runc" run bench)"
rss_runc="$(rss runc --root "$WORK/state-runc" run bench)"
rss_crun="$(rss crun --root "$WORK/state-crun" run bench)"
awk -v o="$rss_ours" -v r="$rss_runc" -v c="$rss_crun" 'BEGIN {
	printf "peak RSS, KiB: labs-runc %d, runc %d, crun %d; labs-runc / crun = %.2f   (target: at most 2)\n", o, r, c, o / c
}'
echo "$ENGINE_LINE"
echo "${DIM}crun ran in a private mount namespace where /sys/fs/cgroup/unified/cgroup.controllers is empty (see the top of this script).${RESET}"
