#!/usr/bin/env bash
# containerd-demo.sh DIR: run a busybox container under containerd with labs-runc as its
# runtime, in a private containerd (its own socket, root and state under DIR), then stop
# it and remove everything it made. containerd's shim calls labs-runc exactly as it calls
# runc: create, start, state, kill, delete.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
require_root "$@"
[ $# -eq 1 ] || die "usage: $0 DIR"
command -v containerd >/dev/null && command -v ctr >/dev/null || die "containerd is not installed (apt-get install containerd)"
dir="$(mkdir -p "$1" && cd "$1" && pwd)/containerd"
mkdir -p "$dir"
sock="$dir/containerd.sock"
cat >"$dir/config.toml" <<TOML
version = 2
root = "$dir/root"
state = "$dir/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$sock"
[ttrpc]
  address = "$sock.ttrpc"
TOML
had_run_containerd=0
[ -d /run/containerd ] && had_run_containerd=1
containerd --config "$dir/config.toml" >"$dir/containerd.log" 2>&1 &
daemon=$!
cleanup() {
	ctr --address "$sock" --namespace labs task kill -s SIGKILL demo >/dev/null 2>&1 || true
	ctr --address "$sock" --namespace labs container delete demo >/dev/null 2>&1 || true
	kill "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null || true
	unmount_tree "$dir"
	rm -rf "$dir"
	if [ "$had_run_containerd" = 0 ]; then rmdir /run/containerd/s /run/containerd 2>/dev/null || true; fi
}
trap cleanup EXIT
for _ in $(seq 50); do ctr --address "$sock" version >/dev/null 2>&1 && break; sleep 0.1; done
ctr() { command ctr --address "$sock" --namespace labs "$@"; }

# The busybox image, built offline (lab 07) and saved as docker save would.
store="$dir/images"
CONTAINERLABS_ROOT="$store" "$SCRIPTS/busybox-image.sh" containerlabs/busybox:latest >/dev/null
CONTAINERLABS_ROOT="$store" "$BIN/07-images" save containerlabs/busybox:latest -o "$dir/busybox.tar" >/dev/null
ctr image import --base-name docker.io/containerlabs/busybox "$dir/busybox.tar" >/dev/null
echo "\$ ctr run --rm --runc-binary $BIN/labs-runc docker.io/containerlabs/busybox:latest demo sh -c 'echo hello from containerd; cat /proc/self/cgroup | head -2'"
ctr run --rm --runc-binary "$BIN/labs-runc" --runc-root "$dir/runc" --fifo-dir "$dir/fifo" \
	docker.io/containerlabs/busybox:latest demo sh -c 'echo hello from containerd; cat /proc/self/cgroup | head -2'
