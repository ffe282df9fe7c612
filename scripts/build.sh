#!/usr/bin/env bash
# build.sh: build every lab into bin/NN-name, the OCI runtime into bin/labs-runc, and the
# probe and the pod sandbox's pause program that the checks copy into containers.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
find_go || die "no Go toolchain found; run scripts/setup.sh first"
cd "$REPO"
mkdir -p "$BIN"
# Static binaries, so a lab's binary or the probe can be copied into a bare root. Labs 01-07
# are pure Go; the engine and the runtime need cgo (nsenter's C constructor, libseccomp) and
# are linked statically with the flags labs/labtest uses (CgoBuildFlags).
CGO_FLAGS=(-tags osusergo,netgo -ldflags '-linkmode external -extldflags -static')
build() { # build NAME PACKAGE
	if [ "$1" = 08-engine ] || [ "$1" = labs-runc ]; then
		CGO_ENABLED=1 go build "${CGO_FLAGS[@]}" -o "$BIN/$1" "./$2"
	else
		CGO_ENABLED=0 go build -o "$BIN/$1" "./$2"
	fi
	echo "built bin/$1"
}
for dir in [0-9][0-9]-*/; do
	lab="${dir%/}"
	[ -f "$lab/main.go" ] && build "$lab" "$lab"
done
[ -f 08-engine/labs-runc/main.go ] && build labs-runc 08-engine/labs-runc
build probe labs/labtest/probe
build pause labs/labtest/pause
build registry scripts/registry
