#!/usr/bin/env bash
# mutants.sh [--regions [LAB,...]]
#
# The kit's mutation run (scripts/kit, TestMutants): every lab's checks against programs
# that are wrong on purpose, a stub that prints usage and exits 1 and each lab's starter
# kit; with --regions also the reference with one marked region left out at a time. It
# lists the checks that pass on every mutant (they cannot fail; the list must be empty)
# and, with --regions, the regions no check notices. scripts/test.sh runs the short form
# (about 4 minutes on 2 cores); --regions adds 10 to 20 seconds per region, 89 regions, about
# 20 minutes in all (--regions 03,04: only those of labs 03 and 04).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
case "${1:-}" in
-h | --help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
--regions) export CONTAINERLABS_MUTANTS="regions:${2:-}" ;;
"") ;;
*) die "unknown option $1" ;;
esac
require_root "$@"
find_go || die "no Go toolchain found; run scripts/setup.sh first"
cd "$REPO"
exec go test -count=1 -run '^TestMutants$' -v -timeout 0 ./scripts/kit/
