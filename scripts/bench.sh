#!/usr/bin/env bash
# bench.sh: the labs' runtime and engine beside runc, crun, podman and Docker, measured on
# this machine side by side, with medians, min/max and ratios.
#
#   bench.sh [SECTION...]     (default: every section)
#
#   runtimes  `run` of /bin/true with labs-runc, runc and crun on one busybox bundle, and each
#             runtime's peak RSS (RUNS=60 runs each in ROUNDS=5 rounds)
#   run       `run --rm IMAGE /bin/true` with --network none and with the default bridge:
#             08-engine, podman with crun, podman with runc, Docker (ENGINE_RUNS=20 each, in
#             ENGINE_ROUNDS=2 rounds)
#   parallel  20 detached `run -d IMAGE sleep` started at once: the wall time until all
#             returned (PARALLEL=20 containers, REPEAT=3 times)
#   memory    the per-container monitor of an idle detached container, Pss from
#             /proc/PID/smaps_rollup, at n=1 and n=20: 08-engine's monitor, conmon,
#             containerd-shim
#   rootless  `run --rm IMAGE /bin/true` of 08-engine as an ordinary user (a user the script
#             creates, with a subordinate range, and removes) beside 08-engine as root, with
#             --network none and with each one's default network (slirp4netns, bridge)
#             (ENGINE_RUNS=20 each, in ENGINE_ROUNDS=2 rounds)
#   images    an image of about 200 MB in 5 layers (one of 20,000 small files) served by an
#             in-memory registry on 127.0.0.1: pull without unpack (crane, skopeo), pull and
#             unpack into the store (podman, docker), unpack alone (umoci, tar), push (crane,
#             skopeo), in MB/s (REPEAT=3 times)
#
# Everything the script starts is private to it and goes when it ends (also on ^C): a
# dockerd with its own containerd on sockets, state and a bridge of its own under a temp dir
# (never the system's services), podman with its own storage and network, 08-engine with its
# own state root and bridge, a registry on loopback. Network traffic stays on loopback and
# on those bridges. An anchor that cannot run (a package missing, a daemon that does not
# start) is skipped and the table says so.
#
# The runtimes are measured round by round, each round all of them in turn, and the figure
# given is the median of the rounds' medians: on a shared machine a burst of other work then
# slows one round of every runtime rather than all the runs of one. Figures from one run on
# a busy machine are noisy; compare ratios from the same run, not absolute times across runs.
#
# Two configs are measured: runc's own default (`runc spec`: no seccomp, no cgroup
# namespace) and Docker's default hardening (`labs-runc spec`: seccomp profile, masked and
# read-only paths, cgroup namespace), which every runtime must then also apply. The bare
# `unshare` floor (namespaces and a chroot, no runtime at all) is the reference.
#
# On cgroup v2, `scripts/cgroup2-vm.sh --bench` runs the runtimes section in the VM (software
# emulation: compare its ratios, never its times). The other sections are not run there: the
# engines' sections (run, parallel, memory, rootless) need podman and a dockerd booted in the
# VM, and 20 containers started at once under emulation measure qemu's translation of two
# CPUs more than the engines; images times gunzip and SHA-256 in emulated code, and crane
# and the registry need Go to build.
#
# crun 1.8 refuses a cgroup v1 host that also mounts cgroup2 at /sys/fs/cgroup/unified
# ("hybrid"): it reads that tree's cgroup.controllers, finds hugetlb there, and stops with
# "cgroups in hybrid mode not supported". The whole benchmark therefore runs in a private
# mount namespace in which that one file is covered with an empty one (/dev/null), so that
# crun (alone, or under podman) sees a plain v1 host, as it would on a host without the
# hybrid tree. Nothing outside the namespace changes; runc, labs-runc, 08-engine and Docker
# never read that file.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
require_root "$@"

SECTIONS=("$@")
[ "${#SECTIONS[@]}" -gt 0 ] || SECTIONS=(runtimes run parallel memory rootless images)
for s in "${SECTIONS[@]}"; do
	case "$s" in runtimes | run | parallel | memory | rootless | images) ;; *) die "unknown section $s (runtimes run parallel memory rootless images)" ;; esac
done
wants() { [[ " ${SECTIONS[*]} " == *" $1 "* ]]; }

if [ -z "${CLBENCH_PRIVATE:-}" ]; then
	find_go || die "no Go toolchain found; run scripts/setup.sh first"
	apt_install hyperfine runc crun time busybox-static gcc libseccomp-dev
	wants rootless && apt_install uidmap slirp4netns
	if wants run || wants parallel || wants memory || wants images; then
		# Never started as services: policy-rc.d keeps the packages from starting them.
		apt_install_quietly docker.io podman conmon containernetworking-plugins skopeo umoci ||
			echo "${YELLOW}could not install every anchor; those missing are skipped${RESET}"
	fi
	export CLBENCH_PRIVATE=1
	exec unshare --mount --propagation private bash ${BENCH_TRACE:+-x} "$0" "$@"
fi
# CLBENCH_PREBUILT: bin/ holds the binaries already, and there may be no Go (the v2 VM).
[ -n "${CLBENCH_PREBUILT:-}" ] || find_go
controllers=/sys/fs/cgroup/unified/cgroup.controllers
[ -e "$controllers" ] && mount --bind /dev/null "$controllers"

RUNS="${RUNS:-60}"
ROUNDS="${ROUNDS:-5}"
ENGINE_RUNS="${ENGINE_RUNS:-20}"
ENGINE_ROUNDS="${ENGINE_ROUNDS:-2}"
PARALLEL="${PARALLEL:-20}"
REPEAT="${REPEAT:-3}"
WORK="$(mktemp -d /tmp/containerlabs-bench.XXXXXX)"
RESULTS="$WORK/results.txt"
: >"$RESULTS"

# Cleanup steps, run last first when the script ends however it ends.
CLEANUPS=()
at_exit() { CLEANUPS+=("$1"); }
cleanup() {
	set +e
	local i
	for ((i = ${#CLEANUPS[@]} - 1; i >= 0; i--)); do
		eval "${CLEANUPS[i]}" >/dev/null 2>&1
	done
	remove_tree "$WORK"
}
trap cleanup EXIT

# result LINE: a line of the final table, printed now and again at the end.
result() {
	echo "$*"
	echo "$*" >>"$RESULTS"
}
skipped() { result "${YELLOW}skipped: $*${RESET}"; }

# stats FILE: "median min max" of the numbers in FILE, one a line.
stats() {
	sort -g "$1" | awk '{ v[NR] = $1 } END {
		if (NR == 0) { print "- - -"; exit }
		m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		printf "%.3f %.3f %.3f\n", m, v[1], v[NR] }'
}

# ratio A B: A/B, or "-" when either is missing.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b == 0) print "-"; else printf "%.2fx", a / b }'; }

# seconds COMMAND...: the wall time of COMMAND in seconds; its output goes to $WORK/last.log.
seconds() {
	local start end
	start="$(date +%s%N)"
	"$@" >"$WORK/last.log" 2>&1 || { cat "$WORK/last.log" >&2; return 1; }
	end="$(date +%s%N)"
	awk -v s="$start" -v e="$end" 'BEGIN { printf "%.4f\n", (e - s) / 1e9 }'
}

cd "$REPO"
if [ -z "${CLBENCH_PREBUILT:-}" ]; then
	echo "building bin/labs-runc and bin/08-engine (cgo, static)"
	CGO_FLAGS=(-tags osusergo,netgo -ldflags '-linkmode external -extldflags -static')
	CGO_ENABLED=1 go build "${CGO_FLAGS[@]}" -o "$BIN/labs-runc" ./08-engine/labs-runc
	CGO_ENABLED=1 go build "${CGO_FLAGS[@]}" -o "$BIN/08-engine" ./08-engine
fi

# --- runtimes: labs-runc, runc and crun on one bundle ---

bench_runtimes() {
	local R="$WORK/runtimes"
	mkdir -p "$R"
	at_exit "runtimes_cleanup '$R'"
	# A busybox root: the static binary and the two applets the benchmark and the shell need.
	local rootfs="$R/rootfs"
	mkdir -p "$rootfs"/{bin,proc,sys,dev,tmp,etc}
	cp "$(command -v busybox)" "$rootfs/bin/busybox"
	ln -s busybox "$rootfs/bin/true"
	ln -s busybox "$rootfs/bin/sh"
	(cd "$R" && runc spec && mv config.json runc-spec.json)
	sed -i -e 's/"terminal": true/"terminal": false/' -e 's/"sh"$/"\/bin\/true"/' "$R/runc-spec.json"
	grep -q '"/bin/true"' "$R/runc-spec.json" || die "could not set /bin/true in runc's default config"
	"$BIN/labs-runc" spec --bundle "$R" /bin/true
	mv "$R/config.json" "$R/docker-spec.json"
	# Each bundle has its own config.json, whose root.path is the shared root (runc refuses
	# a rootfs that is a symlink, so the path goes into the config).
	local name config
	for name in plain hardened; do
		config="$R/runc-spec.json"
		[ "$name" = hardened ] && config="$R/docker-spec.json"
		mkdir -p "$R/$name"
		sed "s|\"path\": \"rootfs\"|\"path\": \"$rootfs\"|" "$config" >"$R/$name/config.json"
		grep -q "\"path\": \"$rootfs\"" "$R/$name/config.json" || die "could not set root.path in $config"
	done

	echo "measuring run /bin/true, $RUNS runs each in $ROUNDS rounds (this takes a minute or two)"
	local round
	for name in plain hardened; do
		for round in $(seq "$ROUNDS"); do
			(cd "$R/$name" && hyperfine --shell=none --warmup 3 --runs "$(((RUNS + ROUNDS - 1) / ROUNDS))" \
				--export-csv "$R/$name.$round.csv" --style basic \
				-n floor "unshare -fpmuin --mount-proc=$rootfs/proc chroot $rootfs /bin/true" \
				-n labs-runc "$BIN/labs-runc --root $R/state-labs-runc run bench" \
				-n runc "runc --root $R/state-runc run bench" \
				-n crun "crun --root $R/state-crun run bench") >"$R/$name.log" 2>&1 ||
				{ cat "$R/$name.log"; die "the $name benchmark failed"; }
		done
	done
	# median NAME COMMAND: the median, in ms, over the rounds of COMMAND's median in NAME.
	median() { awk -F, -v c="$2" '$1 == c { print $4 * 1000 }' "$R/$1".*.csv >"$R/m" && stats "$R/m" | awk '{ printf "%.1f", $1 }'; }
	# rss COMMAND...: median peak RSS (KiB) of 5 runs, as GNU time reports it: the largest
	# of the runtime and the processes it waited for (its init, for runc and labs-runc).
	rss() {
		local values=() i
		for i in 1 2 3 4 5; do
			values+=("$(cd "$R/plain" && /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1)")
		done
		printf '%s\n' "${values[@]}" | sort -n | sed -n 3p
	}
	result ""
	result "$(printf '%-28s %10s %10s %10s %10s %10s' "run /bin/true, median ms" floor labs-runc runc crun "labs/crun")"
	local ours crun runc
	for name in plain hardened; do
		ours="$(median $name labs-runc)" crun="$(median $name crun)"
		result "$(printf '%-28s %10s %10s %10s %10s %10s' "$name config" "$(median $name floor)" "$ours" \
			"$(median $name runc)" "$crun" "$(ratio "$ours" "$crun")")"
	done
	ours="$(median plain labs-runc)" runc="$(median plain runc)" crun="$(median plain crun)"
	result "labs-runc / crun = $(ratio "$ours" "$crun")   (target: at most 1.0, stretch 0.8)"
	result "labs-runc / runc = $(ratio "$ours" "$runc")   (target: at most 0.4)"
	local rss_ours rss_runc rss_crun
	rss_ours="$(rss "$BIN/labs-runc" --root "$R/state-labs-runc" run bench)"
	rss_runc="$(rss runc --root "$R/state-runc" run bench)"
	rss_crun="$(rss crun --root "$R/state-crun" run bench)"
	result "peak RSS, KiB: labs-runc $rss_ours, runc $rss_runc, crun $rss_crun; labs-runc / crun = $(ratio "$rss_ours" "$rss_crun")   (target: at most 2)"
}

# runtimes_cleanup DIR deletes the containers an interrupted run left, each runtime its own.
runtimes_cleanup() {
	local runtime id
	for runtime in labs-runc runc crun; do
		for id in "$1/state-$runtime"/*; do
			[ -d "$id" ] && "${runtime/labs-runc/$BIN/labs-runc}" --root "$1/state-$runtime" delete --force "$(basename "$id")"
		done
	done
}

# --- the engines: 08-engine, podman and Docker, each private to this run ---

IMAGE=containerlabs/busybox:latest
# Names and subnets of this script's own bridges.
OUR_BRIDGE=clbench0 OUR_SUBNET=10.236.0.0/24
PODMAN_BRIDGE=clbenchp0 PODMAN_SUBNET=10.237.0.0/24
DOCKER_BRIDGE=clbenchd0 DOCKER_ADDR=10.238.0.1/24

ENGINES=()     # the engines that started: ours podman-crun podman-runc docker
declare -A CMD # an engine's command line, before the subcommand

start_ours() {
	export CONTAINERLABS_BRIDGE="$OUR_BRIDGE" CONTAINERLABS_SUBNET="$OUR_SUBNET"
	export CONTAINERLABS_ROOT="$WORK/engine"
	CMD[ours]="$BIN/08-engine --root $WORK/engine"
	at_exit "engine_cleanup"
	"$SCRIPTS/busybox-image.sh" "$IMAGE" >/dev/null
	${CMD[ours]} save -o "$WORK/busybox.tar" "$IMAGE"
	ENGINES+=(ours)
}

engine_cleanup() {
	local ids
	ids="$(${CMD[ours]} ps -aq)"
	[ -n "$ids" ] && ${CMD[ours]} rm -f -v $ids
	${CMD[ours]} system prune --volumes
}

start_podman() {
	command -v podman >/dev/null && command -v conmon >/dev/null || { skipped "podman (not installed)"; return; }
	local P="$WORK/podman"
	mkdir -p "$P"/{root,run,tmp,net,ipam}
	# Its own storage, network config and CNI bridge: nothing of the host's podman is used.
	# Containers get this shell's open-files limit and a modest process limit: podman would
	# raise both to the kernel's maximum, which a sandboxed shell (such as a CI runner's)
	# cannot, and crun and runc then fail with EPERM.
	cat >"$P/storage.conf" <<-EOF
		[storage]
		driver = "overlay"
		graphroot = "$P/root"
		runroot = "$P/run"
	EOF
	cat >"$P/containers.conf" <<-EOF
		[containers]
		cgroupns = "private"
		default_ulimits = [ "nofile=$(ulimit -Hn):$(ulimit -Hn)", "nproc=1024:1024" ]
		[network]
		network_backend = "cni"
		network_config_dir = "$P/net"
		default_network = "clbench"
		[engine]
		cgroup_manager = "cgroupfs"
		events_logger = "file"
		tmp_dir = "$P/tmp"
	EOF
	cat >"$P/net/clbench.conflist" <<-EOF
		{ "cniVersion": "0.4.0", "name": "clbench", "plugins": [ { "type": "bridge",
		  "bridge": "$PODMAN_BRIDGE", "isGateway": true, "ipMasq": false, "hairpinMode": true,
		  "ipam": { "type": "host-local", "dataDir": "$P/ipam", "routes": [ { "dst": "0.0.0.0/0" } ],
		  "ranges": [ [ { "subnet": "$PODMAN_SUBNET", "gateway": "${PODMAN_SUBNET%.0/24}.1" } ] ] } } ] }
	EOF
	export CONTAINERS_STORAGE_CONF="$P/storage.conf" CONTAINERS_CONF="$P/containers.conf"
	local base="podman --root $P/root --runroot $P/run --tmpdir $P/tmp --cgroup-manager cgroupfs --events-backend file --network-config-dir $P/net"
	at_exit "podman_cleanup '$base'"
	if ! $base load -i "$WORK/busybox.tar" >"$P/load.log" 2>&1; then
		cat "$P/load.log"
		skipped "podman (could not load the image)"
		return
	fi
	local runtime
	for runtime in crun runc; do
		if command -v "$runtime" >/dev/null; then
			CMD[podman-$runtime]="$base --runtime $runtime"
			ENGINES+=("podman-$runtime")
		else
			skipped "podman with $runtime ($runtime not installed)"
		fi
	done
}

podman_cleanup() {
	$1 rm -a -f -t 0
	$1 rmi -a -f
	ip link del "$PODMAN_BRIDGE"
	rm -rf /var/lib/cni/results/clbench-*
	rmdir_cgroups libpod_parent
}

start_docker() {
	command -v dockerd >/dev/null && [ -x /usr/bin/docker ] || { skipped "Docker (docker.io not installed)"; return; }
	local D="$WORK/docker"
	mkdir -p "$D"
	echo '{}' >"$D/daemon.json"
	# A bridge of its own for the default network; no iptables rules, no forwarding.
	ip link add "$DOCKER_BRIDGE" type bridge
	at_exit "ip link del $DOCKER_BRIDGE"
	ip addr add "$DOCKER_ADDR" dev "$DOCKER_BRIDGE"
	ip link set "$DOCKER_BRIDGE" up
	# dockerd starts a containerd of its own under --exec-root and --data-root.
	dockerd --config-file "$D/daemon.json" --data-root "$D/data" --exec-root "$D/exec" \
		--pidfile "$D/dockerd.pid" -H "unix://$D/docker.sock" --bridge "$DOCKER_BRIDGE" \
		--iptables=false --ip-masq=false --ip-forward=false --userland-proxy=false \
		--exec-opt native.cgroupdriver=cgroupfs --cgroup-parent clbench-docker \
		--storage-driver overlay2 --log-level error >"$D/dockerd.log" 2>&1 &
	local pid=$!
	at_exit "docker_cleanup $pid"
	CMD[docker]="/usr/bin/docker -H unix://$D/docker.sock"
	local i
	for i in $(seq 100); do
		${CMD[docker]} version >/dev/null 2>&1 && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.2
	done
	if ! ${CMD[docker]} load -i "$WORK/busybox.tar" >"$D/load.log" 2>&1; then
		tail -5 "$D/dockerd.log" "$D/load.log"
		skipped "Docker (its private dockerd did not start or load the image)"
		return
	fi
	ENGINES+=(docker)
}

docker_cleanup() {
	local pid="$1" ids
	ids="$(${CMD[docker]} ps -aq)"
	[ -n "$ids" ] && ${CMD[docker]} rm -f $ids
	kill "$pid"
	for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	kill -9 "$pid"
	rmdir_cgroups clbench-docker
}

# rmdir_cgroups NAME removes the (empty) cgroup NAME and the groups beneath it in every
# hierarchy, deepest first.
rmdir_cgroups() {
	# conmon also writes a "tasks" file into plain directories it makes for the v1
	# controllers this host does not mount (hugetlb, net_cls, ...): on the tmpfs under
	# /sys/fs/cgroup those are files like any other (in a real hierarchy the unlink fails).
	find /sys/fs/cgroup/*/"$1" -depth -type f -name tasks -delete 2>/dev/null
	find /sys/fs/cgroup/*/"$1" -depth -type d -exec rmdir {} \; 2>/dev/null
}

# has ENGINE: whether ENGINE started.
has() { [[ " ${ENGINES[*]} " == *" $1 "* ]]; }

# remove_all ENGINE removes every container of ENGINE.
remove_all() {
	local ids
	ids="$(${CMD[$1]} ps -aq)"
	[ -z "$ids" ] || ${CMD[$1]} rm -f $ids >/dev/null 2>&1
}

label() {
	case "$1" in ours) echo 08-engine ;; podman-crun) echo podman+crun ;; podman-runc) echo podman+runc ;; *) echo "$1" ;; esac
}

# --- run: run --rm /bin/true ---

bench_run() {
	local R="$WORK/run" network engine round args
	mkdir -p "$R"
	echo "measuring run --rm $IMAGE /bin/true, $ENGINE_RUNS runs of each in $ENGINE_ROUNDS rounds"
	for network in none bridge; do
		args=()
		for engine in "${ENGINES[@]}"; do
			if [ "$network" = none ]; then
				args+=(-n "$engine" "${CMD[$engine]} run --rm --network none $IMAGE /bin/true")
			else
				args+=(-n "$engine" "${CMD[$engine]} run --rm $IMAGE /bin/true")
			fi
		done
		for round in $(seq "$ENGINE_ROUNDS"); do
			hyperfine --shell=none --warmup 2 --runs "$(((ENGINE_RUNS + ENGINE_ROUNDS - 1) / ENGINE_ROUNDS))" \
				--export-csv "$R/$network.$round.csv" --style basic "${args[@]}" >"$R/$network.log" 2>&1 ||
				{ cat "$R/$network.log"; die "the run --rm benchmark ($network) failed"; }
		done
	done
	result ""
	result "$(printf '%-34s %10s %10s %10s %10s %10s' "run --rm /bin/true, ms" median min max "ours/this" target)"
	local median min max ours target
	for network in none bridge; do
		for engine in "${ENGINES[@]}"; do
			# The median of the rounds' medians; min and max over every run.
			awk -F, -v c="$engine" '$1 == c { print $4 * 1000 }' "$R/$network".*.csv >"$R/m"
			median="$(stats "$R/m" | awk '{ printf "%.1f", $1 }')"
			min="$(awk -F, -v c="$engine" '$1 == c { print $7 * 1000 }' "$R/$network".*.csv | sort -g | head -1)"
			max="$(awk -F, -v c="$engine" '$1 == c { print $8 * 1000 }' "$R/$network".*.csv | sort -g | tail -1)"
			[ "$engine" = ours ] && ours="$median"
			target=""
			case "$network/$engine" in
			none/podman-crun) target="<= 0.20x" ;;
			none/docker) target="<= 0.10x" ;;
			bridge/podman-crun) target="<= 0.25x" ;;
			esac
			result "$(printf '%-34s %10s %10.1f %10.1f %10s %10s' "--network $network: $(label "$engine")" "$median" "$min" "$max" "$(ratio "$ours" "$median")" "$target")"
		done
	done
}

# --- parallel: 20 detached starts at once ---

bench_parallel() {
	local R="$WORK/parallel" engine i n
	mkdir -p "$R"
	echo "measuring $PARALLEL detached starts at once, $REPEAT times per engine"
	for engine in "${ENGINES[@]}"; do
		: >"$R/$engine"
		for n in $(seq "$REPEAT"); do
			remove_all "$engine"
			start_parallel() {
				local pids=() i status=0
				for i in $(seq "$PARALLEL"); do
					${CMD[$engine]} run -d "$IMAGE" sleep 600 >/dev/null &
					pids+=($!)
				done
				for i in "${pids[@]}"; do wait "$i" || status=1; done
				return "$status"
			}
			seconds start_parallel >>"$R/$engine" || { skipped "$PARALLEL parallel starts with $(label "$engine") (a run -d failed)"; break; }
			[ "$(${CMD[$engine]} ps -q | wc -l)" -eq "$PARALLEL" ] || echo "warning: $(label "$engine") runs $(${CMD[$engine]} ps -q | wc -l) containers, not $PARALLEL" >&2
		done
		remove_all "$engine"
	done
	result ""
	result "$(printf '%-34s %10s %10s %10s %10s %10s' "$PARALLEL x run -d at once, s" median min max "ours/this" target)"
	local ours="" median min max target
	for engine in "${ENGINES[@]}"; do
		read -r median min max < <(stats "$R/$engine")
		[ "$engine" = ours ] && ours="$median"
		target=""
		[ "$engine" = podman-crun ] && target="<= 0.40x"
		result "$(printf '%-34s %10s %10s %10s %10s %10s' "$(label "$engine")" "$median" "$min" "$max" "$(ratio "$ours" "$median")" "$target")"
	done
}

# --- memory: the per-container monitor's Pss ---

# monitors ENGINE: the PIDs of ENGINE's per-container monitors: 08-engine's monitor
# processes, podman's conmon, Docker's containerd-shim (only this script's: their command
# lines name its state).
monitors() {
	local pid cmdline argv
	for pid in /proc/[0-9]*; do
		cmdline="$(tr '\0' ' ' <"$pid/cmdline" 2>/dev/null)" || continue
		case "$1" in
		ours)
			read -ra argv <<<"$cmdline"
			[ "${argv[1]:-}" = container-monitor ] && [ -e "$WORK/engine/engine/containers/${argv[2]:-none}" ] || continue
			;;
		podman-*) [[ "$cmdline" == *conmon* && "$cmdline" == *"$WORK/podman"* ]] || continue ;;
		docker) [[ "$cmdline" == *containerd-shim* && "$cmdline" == *"$WORK/docker"* ]] || continue ;;
		esac
		echo "${pid#/proc/}"
	done
}

# kib FIELD PID...: the sum of a smaps_rollup field (Pss, Rss) over the PIDs, in KiB.
kib() {
	local field="$1"
	shift
	local pid sum=0 v
	for pid in "$@"; do
		v="$(awk -v f="$field:" '$1 == f { print $2 }' "/proc/$pid/smaps_rollup" 2>/dev/null)"
		sum=$((sum + ${v:-0}))
	done
	echo "$sum"
}

bench_memory() {
	local engine n pids i
	echo "measuring the monitors' memory at n=1 and n=$PARALLEL"
	result ""
	result "$(printf '%-34s %12s %12s %12s %10s' "idle monitor per container, KiB" "Pss n=1" "Pss n=$PARALLEL" "Rss n=$PARALLEL" target)"
	for engine in "${ENGINES[@]}"; do
		[ "$engine" = podman-runc ] && continue # the same conmon as with crun
		local row=()
		for n in 1 "$PARALLEL"; do
			remove_all "$engine"
			for i in $(seq "$n"); do
				${CMD[$engine]} run -d --network none "$IMAGE" sleep 600 >/dev/null
			done
			sleep 2 # let start-up garbage be collected and the monitors settle
			mapfile -t pids < <(monitors "$engine")
			if [ "${#pids[@]}" -ne "$n" ]; then
				echo "warning: found ${#pids[@]} monitors of $(label "$engine"), not $n" >&2
			fi
			if [ "${#pids[@]}" -eq 0 ]; then row+=(- -); continue; fi
			row+=("$(($(kib Pss "${pids[@]}") / ${#pids[@]}))")
			[ "$n" = "$PARALLEL" ] && row+=("$(($(kib Rss "${pids[@]}") / ${#pids[@]}))")
		done
		remove_all "$engine"
		local name="$(label "$engine")"
		case "$engine" in ours) name="08-engine monitor" ;; podman-crun) name="conmon (podman)" ;; docker) name="containerd-shim (docker)" ;; esac
		result "$(printf '%-34s %12s %12s %12s %10s' "$name" "${row[0]}" "${row[1]}" "${row[2]:--}" "$([ "$engine" = ours ] && echo "<= 1024")")"
	done
}

# --- images: a 200 MB image through a registry on loopback ---

REGISTRY_PID=""
# start_registry: a fresh, empty in-memory registry on $REGISTRY (the old one, if any, goes).
start_registry() {
	if [ -n "$REGISTRY_PID" ]; then
		kill "$REGISTRY_PID"
		wait "$REGISTRY_PID" 2>/dev/null || true # its status is that of the kill
	fi
	"$WORK/registry" -addr "$REGISTRY" 2>/dev/null &
	REGISTRY_PID=$!
	local i
	for i in $(seq 100); do
		(exec 3<>"/dev/tcp/${REGISTRY%:*}/${REGISTRY#*:}") 2>/dev/null && return 0
		sleep 0.1
	done
	die "the registry did not start on $REGISTRY"
}

# make_big_image DIR writes five gzip'd layer tars into DIR: 20,000 files of 2 kB of text
# in 100 directories; 60 MB of random bytes (incompressible); 50 MB of text in 10 files;
# 30 MB of numbers (very compressible); 40 MB of text in 400 files.
make_big_image() {
	local d="$1" i
	mkdir -p "$d"/src/{1,2,3,4,5}
	for i in $(seq -w 100); do
		mkdir -p "$d/src/1/usr/share/d$i"
		head -c 300000 /dev/urandom | base64 -w 76 | split -b 2000 -a 3 -d - "$d/src/1/usr/share/d$i/f"
	done
	for i in 1 2 3; do head -c 20000000 /dev/urandom >"$d/src/2/blob$i"; done
	for i in $(seq 10); do head -c 3750000 /dev/urandom | base64 -w 76 >"$d/src/3/text$i"; done
	seq 1 4200000 >"$d/src/4/numbers"
	for i in $(seq -w 400); do
		mkdir -p "$d/src/5/lib/m${i:0:2}"
		head -c 75000 /dev/urandom | base64 -w 76 >"$d/src/5/lib/m${i:0:2}/mod$i.so"
	done
	for i in 1 2 3 4 5; do
		tar -C "$d/src/$i" --numeric-owner --owner=0 --group=0 -cf "$d/layer$i.tar" .
		gzip -6 <"$d/layer$i.tar" >"$d/layer$i.tar.gz"
	done
	rm -rf "$d/src"
}

# On ext4 without a journal (the disk of some VMs, this one's included), the inode allocator
# will not reuse an inode freed in the last 60 to 360 seconds while its inode table block is
# cached (recently_deleted in fs/ext4/ialloc.c), and steps over each such inode anew for every
# file it creates. Right after the 20,000 files of the previous run were removed, an unpack
# then spends most of its time (a pull of this image 16 s instead of 3.5 s) in that scan,
# whoever unpacks. settle writes the removals out and drops the clean page cache, the inode
# tables with it, which ends that window at once; on a file system with a journal the
# allocator does not look, and settle does nothing.
NO_JOURNAL=""
settle() { [ -z "$NO_JOURNAL" ] || { sync && echo 1 >/proc/sys/vm/drop_caches; }; }

# timed NAME COMMAND...: time COMMAND $REPEAT times into $WORK/images/NAME, running
# $BEFORE first and $AFTER after each (untimed).
timed() {
	local name="$1" i
	shift
	: >"$WORK/images/$name"
	for i in $(seq "$REPEAT"); do
		eval "${BEFORE:-:}" >"$WORK/before.log" 2>&1 || { cat "$WORK/before.log"; die "could not prepare $name"; }
		settle
		seconds "$@" >>"$WORK/images/$name" || { rm -f "$WORK/images/$name"; eval "${AFTER:-:}" >/dev/null 2>&1; return 0; }
		eval "${AFTER:-:}" >/dev/null 2>&1
	done
}

bench_images() {
	local I="$WORK/images"
	mkdir -p "$I"
	# Ours pulls into a fresh state root each time.
	local out="$BIN/08-engine --root $I/out"
	go build -o "$WORK/registry" ./scripts/registry
	# crane, at the go-containerregistry version in go.mod, built from the module cache or
	# fetched through the Go module proxy.
	local crane="$WORK/gobin/crane"
	GOBIN="$WORK/gobin" GOFLAGS=-mod=mod go install github.com/google/go-containerregistry/cmd/crane@v0.22.1 >"$I/crane.log" 2>&1 ||
		{ cat "$I/crane.log"; die "could not build crane, which makes the test image"; }
	REGISTRY="127.0.0.1:$((20000 + RANDOM % 20000))"
	at_exit '[ -n "$REGISTRY_PID" ] && kill "$REGISTRY_PID"'
	local disk
	disk="$(findmnt -n -o SOURCE --target "$WORK")"
	if [ "$(cat "/sys/fs/ext4/${disk#/dev/}/journal_task" 2>/dev/null)" = "<none>" ]; then
		NO_JOURNAL=1
		echo "$WORK is on ext4 without a journal: the page cache is dropped before each timed command (see settle)"
	fi
	echo "making a 5-layer image of about 200 MB"
	make_big_image "$I/big"
	local ref="$REGISTRY/bench/big:1"
	seed() {
		"$crane" append --insecure -f "$I/big/layer1.tar.gz" -f "$I/big/layer2.tar.gz" -f "$I/big/layer3.tar.gz" \
			-f "$I/big/layer4.tar.gz" -f "$I/big/layer5.tar.gz" -t "$ref" >/dev/null 2>&1 &&
			"$crane" mutate --insecure --set-platform linux/amd64 --entrypoint /bin/true "$ref" -t "$ref" >/dev/null 2>&1
	}
	start_registry
	seed || die "could not push the test image to the registry"
	# One pull, untimed, before any is timed: the first read of the blobs the registry has
	# just received is slower, whoever pulls (here 130 ms more, in the registry's copy of its
	# memory to the socket), and it would go to the first command timed, ours.
	"$crane" pull --insecure --format oci "$ref" "$I/warm" >/dev/null || die "could not pull the test image from the registry"
	rm -rf "$I/warm"
	local compressed uncompressed
	compressed="$(cat "$I"/big/layer*.tar.gz | wc -c)"
	uncompressed="$(cat "$I"/big/layer*.tar | wc -c)"
	echo "image: $((compressed / 1000000)) MB compressed, $((uncompressed / 1000000)) MB of tar; $REPEAT times each"

	# Pull without unpack: blobs only, verified.
	BEFORE="rm -rf $I/out" AFTER=""
	timed pull-ours $out pull --no-unpack "$ref"
	timed pull-crane "$crane" pull --insecure --format oci "$ref" "$I/out"
	command -v skopeo >/dev/null && timed pull-skopeo skopeo --insecure-policy copy -q --src-tls-verify=false "docker://$ref" "oci:$I/out:big"
	# Pull and unpack into the store.
	BEFORE="rm -rf $I/out"
	timed unpacked-ours $out pull "$ref"
	has podman-crun && AFTER="${CMD[podman-crun]} rmi -f $ref" timed unpacked-podman ${CMD[podman-crun]} pull -q --tls-verify=false "$ref"
	has docker && AFTER="${CMD[docker]} rmi -f $ref" timed unpacked-docker ${CMD[docker]} pull -q "$ref"
	# Unpack alone, from blobs on disk: ours unpacks the layers when a container first needs
	# them (create); umoci unpacks an OCI layout into a bundle; tar extracts the layers.
	# An OCI layout of the image, for umoci to unpack and for crane and skopeo to push.
	"$crane" pull --insecure --format oci "$ref" "$I/layout" >/dev/null
	BEFORE="rm -rf $I/out && $out pull --no-unpack $ref" AFTER=""
	timed unpack-ours $out create --network none "$ref"
	BEFORE="rm -rf $I/out"
	if command -v umoci >/dev/null && command -v skopeo >/dev/null; then
		# umoci finds an image in a layout by its tag, which crane's layout lacks.
		skopeo --insecure-policy copy -q "oci:$I/layout" "oci:$I/tagged:big"
		timed unpack-umoci umoci unpack --image "$I/tagged:big" "$I/out"
	fi
	BEFORE="rm -rf $I/out && mkdir -p $I/out"
	timed unpack-tar bash -c 'for l in "$1"/layer*.tar.gz; do tar -xzf "$l" -C "$2" || exit; done' _ "$I/big" "$I/out"
	# Push, each time to a fresh registry so that every blob is sent.
	BEFORE="rm -rf $I/out && $out pull --no-unpack $ref && start_registry" AFTER=""
	timed push-ours $out push "$ref"
	BEFORE="start_registry"
	timed push-crane "$crane" push --insecure "$I/layout" "$ref"
	command -v skopeo >/dev/null && timed push-skopeo skopeo --insecure-policy copy -q --dest-tls-verify=false "oci:$I/layout" "docker://$ref"
	rm -rf "$I/out"
	start_registry

	result ""
	result "$(printf '%-34s %10s %10s %10s %10s %10s' "image of $((compressed / 1000000)) MB (gz), MB/s" median min max "ours/this" target)"
	local row what anchors anchor bytes ours median min max
	for row in "pull, no unpack:pull:crane skopeo:$compressed:>= 0.83x (crane)" \
		"pull + unpack:unpacked:podman docker:$compressed:>= 1.5x (podman)" \
		"unpack alone (tar MB):unpack:umoci tar:$uncompressed:>= 1.5x (umoci)" \
		"push:push:crane skopeo:$compressed:"; do
		IFS=: read -r what name anchors bytes target <<<"$row"
		ours=""
		for anchor in ours $anchors; do
			if [ ! -s "$I/$name-$anchor" ]; then
				result "$(printf '%-34s %10s' "$what: $anchor" "skipped (did not run)")"
				continue
			fi
			# MB/s: the fastest time is the highest rate.
			read -r median min max < <(stats "$I/$name-$anchor")
			read -r median min max < <(awk -v b="$bytes" -v m="$median" -v lo="$min" -v hi="$max" \
				'BEGIN { printf "%.1f %.1f %.1f\n", b / m / 1e6, b / hi / 1e6, b / lo / 1e6 }')
			[ "$anchor" = ours ] && ours="$median"
			local t=""
			[[ "$target" == *"($anchor)" ]] && t="${target% (*}"
			result "$(printf '%-34s %10s %10s %10s %10s %10s' "$what: $([ "$anchor" = ours ] && echo 08-engine || echo "$anchor")" "$median" "$min" "$max" "$(ratio "$ours" "$median")" "$t")"
		done
	done
	result "(unpack by 08-engine is timed as \`create\` of a container from an image whose blobs were pulled with --no-unpack)"
	[ -z "$NO_JOURNAL" ] || result "(ext4 without a journal: the page cache was dropped before each timed command; see settle)"
}

# --- rootless: run --rm as an ordinary user, beside root ---

bench_rootless() {
	local R="$WORK/rootless" tool
	mkdir -p "$R"
	for tool in useradd userdel usermod newuidmap newgidmap setpriv slirp4netns; do
		command -v "$tool" >/dev/null || { skipped "rootless ($tool is missing)"; return; }
	done
	local user="clbench$$" home="/tmp/containerlabs-bench-rootless-$$"
	add_rootless_user "$user" "$home" || { skipped "rootless (could not create $user)"; return; }
	at_exit "remove_rootless_user $user"
	install -m 0755 "$BIN/08-engine" "$home/08-engine"
	install -m 0644 "$WORK/busybox.tar" "$home/busybox.tar"
	# slirp4netns opens /dev/net/tun as the user: open it as Debian's udev does, until the end.
	local tun
	tun="$(stat -c %a /dev/net/tun)"
	at_exit "chmod $tun /dev/net/tun"
	chmod 0666 /dev/net/tun
	# The user's commands run through setpriv and env (two execs more than root's); the
	# row "setpriv + env alone" measures what that adds.
	local as_user
	as_user="$(rootless_user_command "$user")"
	$as_user "$home/08-engine" load -i "$home/busybox.tar" >"$R/load.log" 2>&1 || { cat "$R/load.log"; skipped "rootless (load failed)"; return; }
	echo "measuring run --rm $IMAGE /bin/true as root and as $user, $ENGINE_RUNS runs of each in $ENGINE_ROUNDS rounds"
	local args=(
		-n "root --network none" "${CMD[ours]} run --rm --network none $IMAGE /bin/true"
		-n "rootless --network none" "$as_user $home/08-engine run --rm --network none $IMAGE /bin/true"
		-n "root bridge" "${CMD[ours]} run --rm $IMAGE /bin/true"
		-n "rootless slirp4netns" "$as_user $home/08-engine run --rm $IMAGE /bin/true"
		-n "setpriv + env alone" "$as_user /bin/true"
	)
	local round
	for round in $(seq "$ENGINE_ROUNDS"); do
		hyperfine --shell=none --warmup 2 --runs "$(((ENGINE_RUNS + ENGINE_ROUNDS - 1) / ENGINE_ROUNDS))" \
			--export-csv "$R/$round.csv" --style basic "${args[@]}" >"$R/run.log" 2>&1 ||
			{ cat "$R/run.log"; die "the rootless benchmark failed"; }
	done
	result ""
	result "$(printf '%-34s %10s %10s %10s %10s' "run --rm /bin/true, ms" median min max "vs root")"
	local name median min max rootful=""
	for name in "root --network none" "rootless --network none" "root bridge" "rootless slirp4netns" "setpriv + env alone"; do
		awk -F, -v c="$name" '$1 == c { print $4 * 1000 }' "$R"/*.csv >"$R/m"
		median="$(stats "$R/m" | awk '{ printf "%.1f", $1 }')"
		min="$(awk -F, -v c="$name" '$1 == c { print $7 * 1000 }' "$R"/*.csv | sort -g | head -1)"
		max="$(awk -F, -v c="$name" '$1 == c { print $8 * 1000 }' "$R"/*.csv | sort -g | tail -1)"
		case "$name" in "root "*) rootful="$median" ;; esac
		local vs=""
		case "$name" in rootless*) vs="$(ratio "$median" "$rootful")" ;; esac
		result "$(printf '%-34s %10s %10.1f %10.1f %10s' "08-engine $name" "$median" "$min" "$max" "$vs")"
	done
}

# --- run the sections ---

wants runtimes && bench_runtimes
if wants run || wants parallel || wants memory || wants rootless || wants images; then
	echo "starting the engines (private state, sockets and bridges under $WORK)"
	start_ours
	if wants run || wants parallel || wants memory || wants images; then
		start_podman
		start_docker
	fi
	result ""
	result "engines: ${ENGINES[*]}"
fi
wants run && bench_run
wants parallel && bench_parallel
wants memory && bench_memory
wants rootless && bench_rootless
wants images && bench_images

echo
echo "${BOLD}results${RESET} ($(nproc) CPUs; figures from one run, noisy on a shared machine)"
cat "$RESULTS"
[ ! -e "$controllers" ] || echo "${DIM}everything ran in a private mount namespace where $controllers is empty (see the top of this script).${RESET}"
