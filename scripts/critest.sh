#!/usr/bin/env bash
# critest.sh [RUNTIME]: run critest, Kubernetes' CRI conformance suite, against a private
# containerd (Debian's 1.6, its CRI plugin on) with runc and with labs-runc, and print the
# table of results side by side. RUNTIME (labs-runc or runc) runs the suite with that one
# runtime only; the table then takes the other column from its latest earlier run.
#
#   critest.sh [labs-runc|runc]   (extra ginkgo flags in CRITEST_ARGS, e.g.
#                                  CRITEST_ARGS='-ginkgo.focus=Networking')
#
# Everything runs offline. The pause, busybox and web server images are built here and
# imported into containerd; the tests that pull images from public registries (containerd's
# image service tests) are not run. Results, critest's output and the table are kept in
# bin/critest/. It takes two to three minutes per runtime (so scripts/test.sh does not run
# it), and fails if labs-runc fails a test that runc passes.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
require_root "$@"
case "${1:-}" in
"") handlers="runc labs" ;;
labs-runc | labs) handlers=labs ;;
runc) handlers=runc ;;
*) die "unknown runtime ${1}: want labs-runc or runc" ;;
esac
apt_install_quietly containerd containernetworking-plugins
find_go || die "no Go toolchain found; run scripts/setup.sh first"
tools="$("$SCRIPTS/cri-tools.sh" crictl critest)"
"$SCRIPTS/build.sh" >/dev/null
out="$BIN/critest"
mkdir -p "$out"
cd "$REPO"
set +e
CRI_TOOLS="$tools" CRITEST_HANDLERS="$handlers" CRITEST_OUT="$out" \
	go test -count=1 -run '^TestCritest$' -timeout 5h -v ./08-engine/labs-runc/ >"$out/go-test.log" 2>&1
status=$?
set -e
grep -E '^\s*(--- |ok|FAIL|PASS)|critest on|passes on runc' "$out/go-test.log" || true
[ -f "$out/table.md" ] && cat "$out/table.md"
echo "critest's output: $out/{runc,labs}.log; the go test log: $out/go-test.log"
exit "$status"
