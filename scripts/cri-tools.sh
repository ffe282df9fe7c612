#!/usr/bin/env bash
# cri-tools.sh: build Kubernetes' CRI clients from sigs.k8s.io/cri-tools, through the Go
# module proxy, into bin/cri-tools/VERSION/ (not committed), and print that directory.
#
#   cri-tools.sh [crictl] [critest]      (default: both)
#
# crictl is the command line a person uses against a node's CRI socket; critest is the CRI
# conformance suite (a ginkgo test binary). Each is built once; a second call only prints the
# directory. The module cache of the build is a temporary GOPATH, removed afterwards.
#
# Why VERSION is v1.37.0: containerd 1.6 (Debian 12) serves the CRI as runtime.v1 (and the
# older v1alpha2); every cri-tools release since v1.26 speaks runtime.v1 only, so the newest
# release the proxy serves is the one to use. Tests of the newer CRI features that
# containerd 1.6 lacks fail the same way whichever runtime runs the pods.
#
# critest's tests name some images by their public names. Those names are read here from the
# suite's own source and written to VERSION/images (one "ROLE NAME" a line), so that the
# checks can build look-alike images offline and import them under those names.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
VERSION="${CRI_TOOLS_VERSION:-v1.37.0}"
MODULE=sigs.k8s.io/cri-tools
out="$BIN/cri-tools/$VERSION"
tools=("$@")
[ "${#tools[@]}" -gt 0 ] || tools=(crictl critest)
for tool in "${tools[@]}"; do
	case "$tool" in crictl | critest) ;; *) die "unknown tool $tool: want crictl or critest" ;; esac
done

missing=()
for tool in "${tools[@]}"; do
	[ -x "$out/$tool" ] || missing+=("$tool")
done
if [ "${#missing[@]}" -gt 0 ]; then
	find_go || die "no Go toolchain found; run scripts/setup.sh first"
	mkdir -p "$out"
	gopath="$(mktemp -d /tmp/containerlabs-cri-tools-XXXXXX)"
	trap 'rm -rf "$gopath"' EXIT
	export GOPATH="$gopath" GOMODCACHE="$gopath/mod" GOFLAGS=-modcacherw CGO_ENABLED=0
	echo "building ${missing[*]} $VERSION from the Go module proxy" >&2
	src="$(go mod download -json "$MODULE@$VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')" || die "go mod download $MODULE@$VERSION failed"
	[ -d "$src" ] || die "go mod download $MODULE@$VERSION gave no source directory"
	ldflags="-X $MODULE/pkg/version.Version=${VERSION#v}"
	log="$gopath/build.log"
	for tool in "${missing[@]}"; do
		if [ "$tool" = crictl ]; then
			(cd "$src" && go build -ldflags "$ldflags" -o "$out/crictl" ./cmd/crictl) 2>"$log" || { cat "$log" >&2; die "building crictl failed"; }
		else
			(cd "$src" && go test -c -ldflags "$ldflags" -o "$out/critest" ./cmd/critest) 2>"$log" || { cat "$log" >&2; die "building critest failed"; }
			# The images critest names: the e2e images after the registry prefix (nginx,
			# httpd, nonewprivs), and its own test images after its registry constant.
			e2e="$(sed -n 's/^\s*DefaultRegistryPrefix = "\(.*\)"$/\1/p' "$src/pkg/framework/test_context.go")/e2e-test-images/"
			own="$(sed -n 's/^\s*registry = "\(.*\)"$/\1/p' "$src/pkg/validate/consts.go")"
			{
				grep -ho 'DefaultRegistryE2ETestImagesPrefix + "[a-z]*:[^"]*"' "$src"/pkg/validate/*.go |
					sed 's/.*"\([a-z]*\):\(.*\)"/\1 \1:\2/' | sort -u | sed "s| | $e2e|"
				echo "hostnet-nginx ${own}hostnet-nginx-$(go env GOARCH):latest"
			} >"$out/images"
		fi
	done
fi
echo "$out"
