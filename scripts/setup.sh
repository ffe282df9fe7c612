#!/usr/bin/env bash
# setup.sh: install what the labs need from Debian's packages and Go's module proxy, then
# check, one line per requirement, that this host can run every lab. Safe to run again.
#
#   setup.sh            install and check
#   setup.sh --check    only check
set -euo pipefail
source "$(dirname "$0")/lib.sh"
require_root "$@"

# What the labs use: busybox-static for container roots, iptables for NAT and published
# ports (lab 06), iproute2 for the preflight's and learners' own `ip` commands, curl and
# unzip to fetch Go when it is missing; gcc and libseccomp-dev for the engine and runtime
# (cgo: nsenter's C constructor and seccomp filters); util-linux's script for terminal
# checks. (scripts/test.sh adds containerd, without starting its system service, for the
# runtime's containerd check.)
PACKAGES=(busybox-static iptables iproute2 curl unzip ca-certificates gcc libc6-dev libseccomp-dev pkg-config util-linux)
GO_MINOR=1.26

# install_go fetches a Go toolchain from the module proxy (the same place `go` itself gets
# newer toolchains from) when none of at least $GO_MINOR is installed.
install_go() {
	if find_go && go version | grep -Eq "go($GO_MINOR|1\.(2[7-9]|[3-9][0-9]))"; then
		return 0
	fi
	local proxy="${GOPROXY:-https://proxy.golang.org}"
	proxy="${proxy%%,*}"
	local arch
	arch="$(dpkg --print-architecture)"
	local version
	version="$(curl -fsSL "$proxy/golang.org/toolchain/@v/list" | grep -o "go$GO_MINOR\.[0-9]*\.linux-$arch" | sort -t. -k3 -n | tail -1)"
	[ -n "$version" ] || die "no Go $GO_MINOR toolchain for linux-$arch at $proxy"
	echo "installing Go ($version) into /usr/local/go"
	local tmp
	tmp="$(mktemp -d)"
	curl -fsSL -o "$tmp/go.zip" "$proxy/golang.org/toolchain/@v/v0.0.1-$version.zip"
	unzip -q "$tmp/go.zip" -d "$tmp"
	rm -rf /usr/local/go
	mv "$tmp/golang.org/toolchain@v0.0.1-$version" /usr/local/go
	chmod +x /usr/local/go/bin/* /usr/local/go/pkg/tool/*/* 2>/dev/null || true
	rm -rf "$tmp"
	export PATH="/usr/local/go/bin:$PATH"
}

if [ "${1:-}" != "--check" ]; then
	apt_install "${PACKAGES[@]}"
	install_go
	(cd "$REPO" && go mod download)
fi

failed=0
# report ok|missing|optional|info NAME DETAIL [FIX]: one line of the preflight, its words in
# the learner's language (scripts/i18n/messages.tsv; a detail with a value in it stays as is).
report() {
	local detail fix="" width=8
	detail="$(msg "$3")"
	[ $# -ge 4 ] && fix="$(msg "fix:") $(msg "$4")"
	# The marks are padded in bytes: a Korean mark is two three-byte syllables, four columns.
	[ "$LEARNER_LANG" = ko ] && width=10
	case "$1" in
	ok) printf "  ${GREEN}%-${width}s${RESET} %-22s %s\n" "$(msg "ok")" "$2" "$detail" ;;
	info) printf "  ${DIM}%-${width}s${RESET} %-22s %s\n" "$(msg "info")" "$2" "$detail" ;;
	optional) printf "  ${YELLOW}%-${width}s${RESET} %-22s %s\n           %-22s %s\n" "$(msg "optional")" "$2" "$detail" "" "$fix" ;;
	*)
		printf "  ${RED}%-${width}s${RESET} %-22s %s\n           %-22s %s\n" "$(msg "MISSING")" "$2" "$detail" "" "$fix"
		failed=1
		;;
	esac
}

echo "${BOLD}$(msg "preflight")${RESET}"
report ok root "uid 0"
kernel="$(uname -r)"
major="${kernel%%.*}" rest="${kernel#*.}" minor="${rest%%.*}"
if [ "$major" -gt 5 ] || { [ "$major" -eq 5 ] && [ "$minor" -ge 10 ]; }; then
	report ok kernel "$kernel"
else
	report missing kernel "$(printf "$(msg "%s (older than 5.10)")" "$kernel")" "use Debian 11 or newer, or a 5.10+ kernel"
fi

if find_go; then
	report ok go "$(go version | awk '{print $3}')"
else
	report missing go "not installed" "run scripts/setup.sh without --check"
fi

if busybox="$(command -v busybox)" && ! grep -q "ld-linux" <(readelf -l "$busybox" 2>/dev/null || head -c 4096 "$busybox" | tr -d '\0'); then
	report ok busybox-static "$busybox"
else
	report missing busybox-static "no statically linked busybox" "apt-get install busybox-static"
fi

declare -A ns_flag=([uts]=--uts [pid]="--pid --fork" [mnt]=--mount [ipc]=--ipc [net]=--net [user]="--user --map-root-user" [cgroup]=--cgroup [time]=--time)
for ns in uts pid mnt ipc net user cgroup time; do
	# shellcheck disable=SC2086
	if [ -e "/proc/self/ns/$ns" ] && unshare ${ns_flag[$ns]} true 2>/dev/null; then
		report ok "namespace $ns" "$(printf "$(msg "%s works")" "unshare ${ns_flag[$ns]}")"
	elif [ "$ns" = time ]; then
		report optional "namespace $ns" "not available" "Linux 5.6 or newer (no lab needs it)"
	elif [ "$ns" = user ]; then
		report missing "namespace $ns" "cannot create one" "sysctl -w user.max_user_namespaces=15000 (and kernel.unprivileged_userns_clone=1 on old Debian)"
	else
		report missing "namespace $ns" "cannot create one" "$(printf "$(msg "a kernel built with CONFIG_%s_NS")" "$(echo "$ns" | tr a-z A-Z)")"
	fi
done

scratch="$(mktemp -d /tmp/containerlabs-preflight-XXXXXX)"
mkdir -p "$scratch"/{lower,upper,work,merged}
if mount -t overlay overlay -o "lowerdir=$scratch/lower,upperdir=$scratch/upper,workdir=$scratch/work" "$scratch/merged" 2>/dev/null; then
	umount "$scratch/merged"
	report ok overlayfs "mounts"
else
	report missing overlayfs "cannot mount" "modprobe overlay"
fi
remove_tree "$scratch"

case "$(stat -fc %T /sys/fs/cgroup)" in
cgroup2fs)
	report ok "cgroup mode" "v2 (unified)"
	controllers="$(cat /sys/fs/cgroup/cgroup.controllers)"
	;;
tmpfs)
	if [ "$(stat -fc %T /sys/fs/cgroup/unified 2>/dev/null)" = cgroup2fs ]; then
		report ok "cgroup mode" "hybrid (v1 controllers, v2 for process tracking)"
	else
		report ok "cgroup mode" "v1 (legacy)"
	fi
	# /proc/cgroups: name, hierarchy ID (0 = not mounted as v1), cgroup count, enabled.
	controllers="$(awk '!/^#/ && $2 != 0 && $4 == 1 {print $1}' /proc/cgroups | tr '\n' ' ')"
	;;
*)
	controllers=""
	report missing "cgroup mode" "no cgroup file system at /sys/fs/cgroup" "mount cgroup2 at /sys/fs/cgroup"
	;;
esac
for c in memory cpu pids; do
	if grep -qw "$c" <<<"$controllers"; then
		report ok "cgroup $c" "controller available"
	else
		report missing "cgroup $c" "controller not available" "$(printf "$(msg "enable it (on v2: echo +%s > /sys/fs/cgroup/cgroup.subtree_control)")" "$c")"
	fi
done
if grep -Eqw "io|blkio" <<<"$controllers"; then
	report ok "cgroup io" "controller available"
else
	report optional "cgroup io" "controller not available" "only --io-weight needs it"
fi

probe_link=clpreflight0
if ip link add "$probe_link" type bridge 2>/dev/null; then
	ip link del "$probe_link"
	report ok bridge "ip link add type bridge works"
else
	report missing bridge "cannot create a bridge" "modprobe bridge"
fi
if ip link add "$probe_link" type veth peer name clpreflight1 2>/dev/null; then
	ip link del "$probe_link"
	report ok veth "ip link add type veth works"
else
	report missing veth "cannot create a veth pair" "modprobe veth"
fi
if command -v iptables >/dev/null && iptables -t nat -S >/dev/null 2>&1; then
	report ok iptables "$(iptables --version)"
else
	report missing iptables "cannot read the nat table" "apt-get install iptables (and modprobe iptable_nat)"
fi
if [ "$(cat /proc/sys/net/ipv4/ip_forward)" = 1 ]; then
	report info ip_forward "on"
else
	report info ip_forward "off (lab 06 turns it on while a container runs NAT)"
fi

if [ "$failed" -ne 0 ]; then
	echo "${RED}$(msg "some requirements are missing; the labs that need them will fail or skip")${RESET}"
	exit 1
fi
echo "${GREEN}$(msg "this host can run every lab")${RESET}"
