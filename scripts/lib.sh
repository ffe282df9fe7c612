# lib.sh: shared helpers for the scripts in this folder. Source it; do not run it.

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SCRIPTS="$REPO/scripts"
BIN="$REPO/bin"

if [ -t 1 ]; then
	BOLD=$'\e[1m' DIM=$'\e[2m' GREEN=$'\e[32m' RED=$'\e[31m' YELLOW=$'\e[33m' RESET=$'\e[0m'
else
	BOLD='' DIM='' GREEN='' RED='' YELLOW='' RESET=''
fi

die() {
	echo "${RED}error:${RESET} $*" >&2
	exit 1
}

require_root() {
	[ "$(id -u)" -eq 0 ] || die "run this as root: sudo $0 $* (without sudo, from a root shell: su -c '$0 $*')"
}

# find_go puts a Go toolchain on PATH: sudo drops /usr/local/go/bin from PATH, and a fresh
# machine may have Go only there.
find_go() {
	command -v go >/dev/null 2>&1 && return 0
	for dir in /usr/local/go/bin /usr/lib/go/bin "$HOME/go/bin" /root/sdk/go/bin; do
		if [ -x "$dir/go" ]; then
			export PATH="$dir:$PATH"
			return 0
		fi
	done
	return 1
}

# apt_install installs the Debian packages that are not installed yet, and nothing else.
apt_install() {
	local missing=()
	for pkg in "$@"; do
		dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
	done
	[ "${#missing[@]}" -eq 0 ] && return 0
	echo "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >/dev/null || apt-get update
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# apt_install_quietly installs packages without letting them start system services (a
# package such as containerd would otherwise start its daemon on a systemd host): the
# policy-rc.d convention tells invoke-rc.d and deb-systemd-invoke not to.
apt_install_quietly() {
	local policy=/usr/sbin/policy-rc.d made=0
	if [ ! -e "$policy" ]; then
		printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && made=1
	fi
	apt_install "$@"
	local status=$?
	[ "$made" = 1 ] && rm -f "$policy"
	return "$status"
}

# unmount_tree unmounts everything at or beneath a directory, deepest first.
unmount_tree() {
	local dir="$1"
	[ -d "$dir" ] || return 0
	local targets
	for _ in 1 2 3 4 5; do
		targets="$(awk -v d="$dir" '$5 == d || index($5, d "/") == 1 { print $5 }' /proc/self/mountinfo | sort -r)"
		[ -z "$targets" ] && return 0
		while read -r t; do umount -l "$t" 2>/dev/null || true; done <<<"$targets"
	done
	[ -z "$(awk -v d="$dir" '$5 == d || index($5, d "/") == 1' /proc/self/mountinfo)" ]
}

# remove_tree removes a scratch directory, but never through a mount that is still there.
remove_tree() {
	local dir="$1"
	[ -d "$dir" ] || return 0
	if unmount_tree "$dir"; then
		rm -rf "$dir"
	else
		echo "warning: mounts remain under $dir; not removing it" >&2
	fi
}

# --- the walkthrough (demo.sh and each lab's demo.sh) ---

DEMO_PAUSE="${DEMO_PAUSE:-0}"
DEMO_SURPRISES=0

section() {
	echo
	echo "${BOLD}━━━ $* ━━━${RESET}"
}

# say prints narration: what the next steps are about.
say() {
	echo
	echo "$*" | fold -s -w 96
}

pause() {
	if [ "$DEMO_PAUSE" = 1 ] && [ -t 0 ]; then
		read -r -p "${DIM}[enter]${RESET}" _
	fi
}

# step NOTICE COMMAND: print the command as a learner would type it, run it, show its output
# indented, then say what to notice. The command is expected to succeed.
step() { run_step 0 "$@"; }

# step_fails NOTICE COMMAND: the same, for a command that is expected to fail.
step_fails() { run_step 1 "$@"; }

run_step() {
	local expect_failure="$1" notice="$2" command="$3" status
	echo
	echo "${BOLD}\$ ${command}${RESET}"
	# Run in this shell (not a pipeline's subshell) so that a step can set variables and
	# start background processes that later steps use.
	local out
	out="$(mktemp)"
	# As in an interactive shell, a pipeline's status is its last command's.
	set +o pipefail
	eval "$command" >"$out" 2>&1 </dev/null
	status=$?
	set -o pipefail
	sed 's/^/    /' "$out"
	rm -f "$out"
	[ "$status" -ne 0 ] && echo "    ${DIM}[exit status $status]${RESET}"
	if { [ "$expect_failure" = 0 ] && [ "$status" -ne 0 ]; } || { [ "$expect_failure" = 1 ] && [ "$status" -eq 0 ]; }; then
		echo "${RED}    ! this step did not turn out as the walkthrough expects${RESET}"
		DEMO_SURPRISES=$((DEMO_SURPRISES + 1))
	fi
	echo "${YELLOW}  → ${notice}${RESET}" | fold -s -w 100
	pause
}
