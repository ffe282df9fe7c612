#!/usr/bin/env bash
# build.sh: build every lab into bin/NN-name, and the probe the checks copy into containers.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
find_go || die "no Go toolchain found; run scripts/setup.sh first"
cd "$REPO"
mkdir -p "$BIN"
# Static binaries (no cgo), so a lab's binary or the probe can be copied into a bare root.
export CGO_ENABLED=0
for dir in [0-9][0-9]-*/; do
	lab="${dir%/}"
	[ -f "$lab/main.go" ] || continue
	go build -o "$BIN/$lab" "./$lab"
	echo "built bin/$lab"
done
go build -o "$BIN/probe" ./labs/labtest/probe
go build -o "$BIN/registry" ./scripts/registry
echo "built bin/probe and bin/registry"
