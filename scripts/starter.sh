#!/usr/bin/env bash
# starter.sh LAB OUTDIR: write a learner's starter tree for LAB (4, 04 or 04-cgroups) into
# OUTDIR, a new or empty directory. The labs before LAB keep their solutions; the steps of
# LAB and of every later lab are replaced by `TODO(lab NN)` comments with hints, listed in
# OUTDIR/STARTER.md. The tree builds, and `scripts/grade.sh --src OUTDIR` grades it.
# The markers it works from are described in scripts/starter/main.go.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
case "${1:-}" in -h | --help | "") sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; [ $# -gt 0 ]; exit ;; esac
[ $# -eq 2 ] || die "usage: $0 LAB OUTDIR"
find_go || die "no Go toolchain found; run scripts/setup.sh first"
out="$(realpath -m "$2")"
cd "$REPO"
exec go run ./scripts/starter -repo "$REPO" "$1" "$out"
