# Walkthrough of lab 06, sourced by scripts/demo.sh (which defines step, say and $DEMO).

section "06-network: a cable into the container"
B="$DEMO/busybox-root"
[ -x "$B/bin/busybox" ] || bin/01-chroot rootfs --busybox "$B" >/dev/null
mkdir -p "$B/www" && echo "hello from the container" >"$B/www/index.html"
export CONTAINERLABS_ROOT="$DEMO/state"
on_exit "bin/06-network cleanup"

say "06-network is lab 05 plus a network: a bridge (labs0, 10.88.0.1/16), a veth pair per container, an address from the bridge's subnet, a default route, NAT out and published ports in."
step "eth0 inside is one end of a veth pair; the other end is on the host, on the bridge. ip link shows each end's peer as @ifN: the other end's index." \
	"bin/06-network run --layer $B --name one sh -c 'ip -o link show eth0; ip -o -4 addr show eth0; ip route'"
step "The host's side: the bridge with the gateway address, and the NAT rules in chains of their own." \
	"ip -br addr show labs0; iptables -t nat -S | grep CLABS"
step "A web server, published on the host's port 8080 (-p 8080:80 in Docker's words)." \
	"bin/06-network run --layer $B --name web --publish 8080:80 sh -c 'httpd -f -p 80 -h /www' & WEB=\$!; sleep 1; iptables -t nat -S CLABS-labs0"
on_exit "kill \$WEB"
step "The published port answers on the host's loopback: DNAT to the container, in OUTPUT for the host's own traffic." \
	"wget -q -O - http://127.0.0.1:8080/ 2>/dev/null || curl -s http://127.0.0.1:8080/"
step "Another container reaches the web server by its address, across the bridge." \
	"bin/06-network run --layer $B --name client timeout 5 wget -q -O - http://10.88.0.2/"
step "Stop the server: its veth, address lease and port rule go with it. The bridge stays for the next container." \
	"kill \$WEB; wait \$WEB; ip -br link | grep vlabs | wc -l; iptables -t nat -S CLABS-labs0 | grep 8080 | wc -l"

say "--no-icc: containers started with it are isolated ports of the bridge, which forwards nothing between two of them. The host, and so the published ports, still reach them."
step "An isolated web server on port 8081." \
	"bin/06-network run --layer $B --name quiet --no-icc --publish 8081:80 sh -c 'httpd -f -p 80 -h /www' & QUIET=\$!; sleep 1"
on_exit "kill \$QUIET"
step_fails "An isolated neighbour cannot reach it." \
	"bin/06-network run --layer $B --name neighbour --no-icc timeout 3 wget -q -O - http://10.88.0.2/"
step "The published port still answers." \
	"wget -q -O - http://127.0.0.1:8081/ 2>/dev/null || curl -s http://127.0.0.1:8081/; kill \$QUIET; wait \$QUIET; true"
step "cleanup removes the bridge and every rule and chain; ip_forward goes back to what it was." \
	"bin/06-network cleanup"
