#!/usr/bin/env bash
# busybox-image.sh: build the labs' base image, containerlabs/busybox:latest, offline: a
# busybox root file system from the busybox-static package (01-chroot rootfs --busybox),
# imported as a one-layer image whose default command is sh (07-images import).
#
#   busybox-image.sh [REF]      (default containerlabs/busybox:latest)
#
# The image goes into the store under $CONTAINERLABS_ROOT (default /var/lib/containerlabs).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
require_root "$@"
REF="${1:-containerlabs/busybox:latest}"
[ -x "$BIN/01-chroot" ] && [ -x "$BIN/07-images" ] || "$SCRIPTS/build.sh" >/dev/null
tmp="$(mktemp -d /tmp/containerlabs-busybox-XXXXXX)"
trap 'remove_tree "$tmp"' EXIT
"$BIN/01-chroot" rootfs --busybox "$tmp/root"
"$BIN/07-images" import --cmd sh "$tmp/root" "$REF" >/dev/null
echo "built $REF"
