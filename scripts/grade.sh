#!/usr/bin/env bash
# grade.sh [LAB...] [--bin DIR | --src DIR] [--json FILE] [--verbose] [--lang ko|en]
#
# Runs the graded checks of the named labs (all by default) and prints one line per check,
# with hints for the failed ones, a score per lab and the total. With --bin DIR the checks
# run against the binaries in DIR (DIR/01-chroot, DIR/02-proc, ...), for grading a learner's
# own build; with --src DIR they run against binaries built from the checkout (or starter
# tree) in DIR, and a lab that does not build is reported with the compiler's errors.
# --json FILE also writes the report as JSON (see docs/instructor.md for its fields).
# The grades are in Korean with --lang ko or a Korean locale (LANG=ko_KR.UTF-8).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
require_root "$@"
find_go || die "no Go toolchain found; run scripts/setup.sh first"
flags=() labs=()
while [ $# -gt 0 ]; do
	case "$1" in
	--lang) [ $# -ge 2 ] || die "$1 needs a value"; flags+=("$1" "$2"); shift 2 ;;
	--lang=*) flags+=("$1"); shift ;;
	--bin | --src | --json) [ $# -ge 2 ] || die "$1 needs a value"; flags+=("$1" "$(realpath -m "$2")"); shift 2 ;;
	--bin=* | --src=* | --json=*) flags+=("${1%%=*}" "$(realpath -m "${1#*=}")"); shift ;;
	--verbose) flags+=("$1"); shift ;;
	-h | --help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	-*) die "unknown option $1" ;;
	*) labs+=("${1%/}"); shift ;;
	esac
done
cd "$REPO"
go build -o "$BIN/grade" ./scripts/grade
exec "$BIN/grade" "${flags[@]}" "${labs[@]}"
