#!/usr/bin/env bash
# escapes.sh [--expected] [LAB...]
#
# The escape gallery: runs every attack of labs/labtest/gallery.go against every lab (or
# the labs named: 3, 03 or 03-namespaces) and prints the matrix, attack by lab, each cell
# open (the attack worked) or closed (it failed), with the lab that closes each attack.
# A cell that differs from what the lab should do is printed in capitals with a "!", and
# the exit status is 1. --expected prints the expected matrix without running anything.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
case " $* " in *" -h "* | *" --help "*) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac
find_go || die "no Go toolchain found; run scripts/setup.sh first"
cd "$REPO"
go build -o "$BIN/escapes" ./scripts/escapes
[ "${1:-}" != --expected ] || exec "$BIN/escapes" "$@"
require_root "$@"
exec "$BIN/escapes" "$@"
