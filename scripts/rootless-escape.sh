#!/usr/bin/env bash
# rootless-escape.sh: the same breakout, from a container of 08-engine run by root and from
# one run by an ordinary user (rootless).
#
#   rootless-escape.sh
#
# A breakout leaves a process of the container holding the host's file system with the
# credentials it had inside: CVE-2019-5736 overwrote the host's runc through /proc/self/exe,
# CVE-2024-21626 handed the container a host directory as its working directory. What it
# can do then is what the container's root can do on the host. The demo puts a container's
# root in exactly that position, and nowhere else: the "host" it reaches is a directory this
# script makes, holding a marker file that only host root may read, bind-mounted into the
# container. The same payload (read the marker, rewrite it, plant a setuid-root shell) runs
# in a rootful container and in a rootless one, whose user the script creates with a range
# of subordinate IDs and removes again. Nothing outside the script's directories is touched.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
require_root "$@"
[ -x "$BIN/08-engine" ] && [ -x "$BIN/01-chroot" ] || "$SCRIPTS/build.sh" >/dev/null
command -v newuidmap >/dev/null && command -v setpriv >/dev/null || apt_install uidmap util-linux

WORK="$(mktemp -d /tmp/containerlabs-escape.XXXXXX)"
ESCAPEE="clescape$$"
cleanup() {
	set +e
	id "$ESCAPEE" >/dev/null 2>&1 && remove_rootless_user "$ESCAPEE"
	CONTAINERLABS_ROOT="$WORK/state" "$BIN/08-engine" system prune >/dev/null 2>&1
	remove_tree "$WORK"
}
trap cleanup EXIT

# The "host": a directory others may enter, with a file only root may read.
HOST="$WORK/host"
mkdir "$HOST"
chmod 0711 "$WORK"
chmod 0755 "$HOST"
marker() {
	rm -f "$HOST/rootshell"
	echo "host root's secret" >"$HOST/marker"
	chmod 0600 "$HOST/marker"
}
PAYLOAD='id; cat /host/marker; echo rewritten > /host/marker && echo "marker rewritten"; cp /bin/busybox /host/rootshell && chmod 4755 /host/rootshell && echo "setuid-root shell planted"; ls -ln /host'

"$BIN/01-chroot" rootfs --busybox "$WORK/rootfs" >/dev/null
export CONTAINERLABS_ROOT="$WORK/state"
"$BIN/08-engine" import -c 'CMD ["sh"]' "$WORK/rootfs" labs/busybox >/dev/null
"$BIN/08-engine" save -o "$WORK/busybox.tar" labs/busybox
chmod 0644 "$WORK/busybox.tar"

section "The same breakout, rootful and rootless"
marker
say "A marker only host root may read, in a directory the container will reach (as a breakout would reach the host's files):"
ls -ln "$HOST"
say "1. A container of the engine run by root; its root is root on the host."
"$BIN/08-engine" run --rm --network none -v "$HOST:/host" labs/busybox sh -c "$PAYLOAD" 2>&1 | sed 's/^/   /'
say "On the host: the marker rewritten, and a setuid shell owned by uid 0 that any local user could run as root."
ls -ln "$HOST"

marker
add_rootless_user "$ESCAPEE" "/tmp/containerlabs-escape-$ESCAPEE"
home="$(getent passwd "$ESCAPEE" | cut -d: -f6)"
install -m 0755 "$BIN/08-engine" "$home/08-engine"
as_rootless_user "$ESCAPEE" "$home/08-engine" load -i "$WORK/busybox.tar" >/dev/null
say "2. The same in a container of the engine run by $ESCAPEE (uid $(id -u "$ESCAPEE"), subordinate IDs $(grep "^$ESCAPEE:" /etc/subuid | cut -d: -f2-)); its root is $ESCAPEE on the host."
as_rootless_user "$ESCAPEE" "$home/08-engine" run --rm --network none -v "$HOST:/host" labs/busybox sh -c "$PAYLOAD" 2>&1 | sed 's/^/   /'
say "On the host: nothing changed. Inside, host root's files belonged to 65534 (nobody): an ID the user namespace does not map."
ls -ln "$HOST"
