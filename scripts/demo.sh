#!/usr/bin/env bash
# demo.sh [--pause] [--lang ko|en] [LAB...]: the walkthrough. Sets the host up, builds every lab, then runs
# each lab's demo (NN-name/demo.sh) in order: every step prints its command, its output, and
# what to notice. Everything it creates lives under one temporary directory and is removed at
# the end, also on Ctrl-C.
#
#   --pause   wait for Enter after each step (for instructors presenting it)
#   --lang    ko or en: the narration's language (default: the locale's; LANG=ko_KR.UTF-8 is Korean)
#   LAB...    only these labs (default: all), e.g. demo.sh 03-namespaces
set -uo pipefail
source "$(dirname "$0")/lib.sh"
require_root "$@"

labs=() want_lang=0
for arg in "$@"; do
	if [ "$want_lang" = 1 ]; then
		LEARNER_LANG="$(learner_lang "$arg")" want_lang=0
		continue
	fi
	case "$arg" in
	--pause) DEMO_PAUSE=1 ;;
	--lang) want_lang=1 ;;
	--lang=*) LEARNER_LANG="$(learner_lang "${arg#--lang=}")" ;;
	-h | --help) sed -n '2,10p' "$0"; exit 0 ;;
	-*) die "unknown option $arg" ;;
	*) labs+=("${arg%/}") ;;
	esac
done
# The lab programs the demo runs speak its language too (their usage, an OOM kill).
export CONTAINERLABS_LANG="$LEARNER_LANG"
if [ "${#labs[@]}" -eq 0 ]; then
	for dir in "$REPO"/[0-9][0-9]-*/; do
		[ -f "$dir/demo.sh" ] && labs+=("$(basename "$dir")")
	done
fi

"$SCRIPTS/setup.sh" || die "the host is missing something the labs need (see above)"
"$SCRIPTS/build.sh" >/dev/null || die "the labs do not build"

# DEMO is the scratch directory of the whole walkthrough. Labs register extra cleanup
# commands (a process to stop, a bridge to remove) with on_exit.
DEMO="$(mktemp -d /tmp/containerlabs-demo.XXXXXX)"
# mktemp makes it 0700; a container in a user namespace (lab 03) runs as uid 100000 and
# must be able to enter it.
chmod 755 "$DEMO"
CLEANUPS=()
on_exit() { CLEANUPS+=("$1"); }
finish() {
	local i
	for ((i = ${#CLEANUPS[@]} - 1; i >= 0; i--)); do eval "${CLEANUPS[$i]}" >/dev/null 2>&1 || true; done
	remove_tree "$DEMO"
}
trap finish EXIT
trap 'exit 130' INT TERM

cd "$REPO"
for lab in "${labs[@]}"; do
	[ -f "$REPO/$lab/demo.sh" ] || die "no walkthrough for $lab"
	# shellcheck source=/dev/null
	source "$REPO/$lab/demo.sh"
done

echo
if [ "$DEMO_SURPRISES" -ne 0 ]; then
	echo "${RED}$(printf "$(msg "%s step(s) did not turn out as expected; see the marks above")" "$DEMO_SURPRISES")${RESET}"
	exit 1
fi
echo "${GREEN}$(printf "$(msg "walkthrough complete; the scratch directory %s is being removed")" "$DEMO")${RESET}"
