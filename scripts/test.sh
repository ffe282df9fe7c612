#!/usr/bin/env bash
# test.sh: everything CI checks. Sets the host up, builds, vets, checks formatting, runs every
# test once (library unit tests and the labs' graded checks), and prints the grades.
# Exits non-zero on any failure.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
require_root "$@"
"$SCRIPTS/setup.sh"
# containerd (with ctr and runc) and Docker's daemon for the runtime's containerd and Docker
# checks; their system services are not started: the checks run private daemons of their own.
# e2fsprogs makes the escape gallery's decoy disk; chromium renders `08-engine show --html`
# for its check.
apt_install_quietly containerd docker.io e2fsprogs chromium
find_go
cd "$REPO"
"$SCRIPTS/build.sh"

echo "${BOLD}go vet${RESET}"
go vet ./...
echo "${BOLD}gofmt${RESET}"
unformatted="$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))"
[ -z "$unformatted" ] || die "not gofmt-ed: $unformatted"

echo "${BOLD}go test${RESET} (one package at a time: the labs share the host's network and cgroups)"
go build -o "$BIN/grade" ./scripts/grade
# The grader reads every result from the event stream as it arrives, prints each package as
# it finishes and the grades at the end, and exits non-zero if anything failed.
set +e
go test -json -count=1 -p 1 -timeout 30m ./... | tee "$BIN/test-events.json" | "$BIN/grade" --from-json - --verbose
status="${PIPESTATUS[2]}"
set -e

# The OCI runtime-tools validation suite against labs-runc: a program that should pass and
# fails, fails the run (the script lists the ones that fail for every runtime here).
echo "${BOLD}OCI validation${RESET} (runtime-tools' validation programs against bin/labs-runc)"
if ! "$SCRIPTS/oci-validation.sh"; then
	echo "${RED}the OCI validation suite failed${RESET}"
	status=1
fi

# The escape gallery's checks ran with their labs; this is their matrix, attack by lab.
echo "${BOLD}escape gallery${RESET} (scripts/escapes.sh runs it alone)"
go build -o "$BIN/escapes" ./scripts/escapes
"$BIN/escapes" --from-json "$BIN/test-events.json" || status=1

# This host may be cgroup v1; the whole ladder also runs on a real cgroup v2 kernel, booted
# in a small VM (software emulation, no KVM needed; see scripts/cgroup2-vm.sh). The packages
# go in the order that fails fastest: what differs between v1 and v2 first (the cgroup
# drivers, the device program, lab 04, the runtime and labs-runc with containerd), then the
# cheap rest, the network and image labs, and the engine, the longest, last.
V2_LEG=(
	./labs/cgroup ./04-cgroups ./labs/runtime ./08-engine/labs-runc
	./labs/namespace ./03-namespaces ./labs/overlay ./05-overlay ./labs/engine ./labs/state
	./labs/build ./labs/compose ./labs/rootfs ./labs/mount ./labs/process ./labs/procfs ./labs/show ./01-chroot ./02-proc ./labs
	./06-network ./labs/network ./07-images ./labs/image ./08-engine
)
echo "${BOLD}cgroup v2${RESET} (every lab's checks and the labs/ unit tests on a v2 kernel, in a VM)"
if ! "$SCRIPTS/cgroup2-vm.sh" --fail-fast "${V2_LEG[@]}"; then
	echo "${RED}the cgroup v2 leg failed${RESET}"
	status=1
fi
exit "$status"
