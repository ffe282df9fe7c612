# Walkthrough of lab 08, sourced by scripts/demo.sh (which defines step, say and $DEMO).

section "08-engine: Docker's everyday workflow, on labs 01-07"
export CONTAINERLABS_ROOT="$DEMO/engine-state"
E=bin/08-engine
on_exit "$E rm -f \$($E ps -aq) ; $E system prune --volumes"

say "The base image, as lab 07 built it, imported into the engine's store (the same store as 07-images)."
step "import makes an image of a root file system; -c sets its default command." \
	"bin/01-chroot rootfs --busybox $DEMO/bb-root >/dev/null && $E import -c 'CMD [\"sh\"]' $DEMO/bb-root labs/busybox && $E images"
step "run = create (lab 07's image and writable layer) + start: the monitor mounts the root (05), leases an address (06), writes an OCI bundle and has the runtime create the container (03, 04), plugs the veth in and starts it." \
	"$E run --rm labs/busybox sh -c 'echo hello from \$(hostname); ip -o -4 addr show eth0'"

say "A web server, detached: a volume for its files, a published port."
step "run -d prints the container's ID; the monitor stays with it." \
	"$E run -d --name web -p 8080:80 -v site:/www labs/busybox sh -c 'echo served from a volume > /www/index.html; httpd -f -v -p 80 -h /www'"
step "ps shows it, from the state directory: there is no daemon to ask." \
	"sleep 0.5; $E ps"
step "The published port, on the host's loopback." \
	"wget -q -O - http://127.0.0.1:8080/ 2>/dev/null || curl -s http://127.0.0.1:8080/"
step "exec joins all of the container's namespaces (a C constructor does setns before Go starts its threads) and its cgroup." \
	"$E exec web sh -c 'hostname; ps -o pid,comm; ls /www'"
step "logs: the monitor writes the container's output as json-file lines." \
	"$E logs web; cat \$(ls -d $DEMO/engine-state/engine/containers/*/logs | head -1)/container.log | head -2"
step "top and port." \
	"$E top web; $E port web"
step "show draws the container from the kernel's own state, not the engine's records: its namespaces beside the host's, its cgroup, its overlay, its veth, bridge and NAT rules, its hardening (--html FILE makes a page of it)." \
	"$E show web"
step "stop sends SIGTERM; httpd as PID 1 has no handler, so after the timeout comes SIGKILL (137)." \
	"$E stop -t 1 web; $E ps -a"
step "The volume outlives the container." \
	"$E rm web && $E run --rm -v site:/www labs/busybox cat /www/index.html && $E volume ls"

say "The default hardening, as Docker applies it, seen from inside."
step "Capabilities (Docker's 14; the inheritable set empty), no_new_privs, a seccomp filter." \
	"$E run --rm labs/busybox grep -E '^(CapInh|CapBnd|NoNewPrivs|Seccomp):' /proc/1/status"
step_fails "seccomp refuses to create a namespace without CAP_SYS_ADMIN: EPERM." \
	"$E run --rm labs/busybox unshare -U true"
step "--privileged lifts it: every capability the engine has, no filter." \
	"$E run --rm --privileged labs/busybox grep -E '^(CapBnd|Seccomp):' /proc/1/status"
step_fails "A memory hog under --memory 32m: OOM-killed, and inspect says so." \
	"cp bin/probe $DEMO/bb-root/ && $E import $DEMO/bb-root labs/probe >/dev/null && $E run --name hog --memory 32m labs/probe /probe hog 128"
step "The OOM kill, as the monitor recorded it from the cgroup; inspect -f picks keys out of the document with a Go template." \
	"$E inspect -f '{{.State.Status}} {{.State.ExitCode}} OOMKilled={{.State.OOMKilled}}' hog; $E rm hog"

say "build: a Dockerfile is a series of containers whose changes are committed as layers."
step "A two-stage Dockerfile: stage 1 writes a script with the busybox image, stage 2 starts FROM scratch and copies in only the script and the static busybox." \
	"mkdir -p $DEMO/hello && echo 'echo hello from the build context' > $DEMO/hello/greeting.txt && printf '%s\\n' 'FROM labs/busybox AS build' 'WORKDIR /out' \"RUN echo 'echo built by a RUN step' > hello.sh\" 'COPY greeting.txt message.txt' 'RUN cat message.txt >> hello.sh' '' 'FROM scratch' 'COPY --from=build /bin/busybox /bin/busybox' 'COPY --from=build /out/hello.sh /hello.sh' 'CMD [\"/bin/busybox\", \"sh\", \"/hello.sh\"]' > $DEMO/hello/Dockerfile && cat $DEMO/hello/Dockerfile"
step "Each RUN is a container (' ---> Running in'), whose upper dir becomes a layer; COPY writes a layer without a process; CMD changes only the config. Every step's result is an image (' ---> ID')." \
	"$E build -t labs/hello $DEMO/hello && $E run --rm labs/hello"
step "The image: two layers (the two COPYs of the last stage), and a history entry per step, empty_layer for CMD. Stage 1 is not in it." \
	"$E inspect labs/hello | grep -E '\"(created_by|empty_layer)\"'"
step "Change one copied file and build again: the steps before its COPY, and the COPY of the unchanged busybox, come from the cache; the rest run." \
	"echo 'echo changed' > $DEMO/hello/greeting.txt && $E build -t labs/hello $DEMO/hello | grep -E '^Step|Using cache|Running in' && $E run --rm labs/hello"
step "The cache is in the image store: one tagged image per step, hidden from images unless -a." \
	"$E images; $E images -a | grep -c labs-build-cache"
step_fails "A failing RUN fails the build at its line; nothing is tagged, its container is gone." \
	"printf 'FROM labs/busybox\\nRUN exit 3\\n' > $DEMO/hello/Dockerfile.bad && $E build -f $DEMO/hello/Dockerfile.bad -t labs/broken $DEMO/hello; $E ps -aq; $E images | grep broken"

say "Applications: networks of their own with names on them, health checks, restart policies, compose. Still no daemon."
step "network ls lists the three networks every engine has, as Docker lists them; network create makes a bridge and a subnet of its own." \
	"$E network create shop >/dev/null && $E network ls && $E network inspect shop | grep -E '\"(Subnet|com.docker.network.bridge.name)\"'"
step "On a user-defined network a container finds another by name (and alias): the engine keeps each container's /etc/hosts up to date, as nerdctl does, instead of running a DNS server." \
	"$E run -d --name shopweb --network shop --network-alias www labs/busybox sh -c 'mkdir -p /w && echo served by name > /w/index.html && exec httpd -f -p 80 -h /w' >/dev/null && sleep 0.3 && $E run --rm --network shop labs/busybox sh -c 'cat /etc/hosts; wget -q -O - http://shopweb/; wget -q -O - http://www/'"
step_fails "On the default bridge names do not resolve, as with Docker." \
	"$E run --rm labs/busybox wget -q -O - http://shopweb/"
step_fails "Networks are isolated: from another network the server's address is unreachable (one rule per network in mangle's FORWARD drops what goes from its bridge into another's)." \
	"ADDR=\$($E inspect -f '{{.NetworkSettings.IPAddress}}' shopweb); $E network create other >/dev/null && iptables -t mangle -S | grep -- '-SEP -i' ; $E run --rm --network other labs/busybox sh -c \"timeout 2 wget -q -O - http://\$ADDR/; exit \\\$?\""
step "A health check, run by the container's monitor: a short-lived process execs the test on schedule, and ps shows the verdict." \
	"$E run -d --name patient --health-cmd 'test -f /tmp/ok' --health-interval 300ms --health-retries 2 labs/busybox sh -c 'touch /tmp/ok; exec sleep 300' >/dev/null; sleep 1; $E ps --filter name=patient; $E exec patient rm /tmp/ok; sleep 1; $E ps --filter name=patient --format '{{.Names}} {{.Status}}'; $E inspect -f 'the last runs exited {{range .State.Health.Log}}{{.ExitCode}} {{end}}' patient"
step "--restart on-failure:2: the monitor records the exit, waits Docker's back-off (100 ms, 200 ms) and starts the container again, twice." \
	"$E run -d --name flaky --restart on-failure:2 labs/busybox sh -c 'echo run; exit 3' >/dev/null; sleep 1.5; $E logs -t flaky; $E inspect -f '{{.State.Status}} exit {{.State.ExitCode}}, RestartCount {{.RestartCount}}' flaky"
step "--restart always: a crash (its process killed from outside) is undone; stop is not." \
	"$E run -d --name phoenix --restart always labs/busybox sleep 300 >/dev/null; kill -9 \$($E inspect -f '{{.State.Pid}}' phoenix); sleep 0.5; $E inspect -f '{{.State.Status}} RestartCount={{.RestartCount}}' phoenix; $E stop -t 1 phoenix >/dev/null; sleep 0.5; $E inspect -f '{{.State.Status}} stopped by hand={{.HasBeenManuallyStopped}}' phoenix"
step "No monitor survives a reboot: start --all-restartable (a boot-time unit runs it) starts the containers Docker's daemon would, always ones included." \
	"$E start --all-restartable && $E ps --format '{{.Names}} {{.Status}}'"
step "Clean up the single containers and their networks." \
	"$E rm -f shopweb patient flaky phoenix >/dev/null && $E network rm shop other"

say "compose: the demo application in 08-engine/compose-demo, a one-shot service, a web server that must be healthy first, a front end that reaches it by name, and the project's registry."
step "The compose file (go.yaml.in/yaml/v3, strictly: an unknown key is an error naming its line); config prints it as understood, variables substituted from .env." \
	"cp -a 08-engine/compose-demo $DEMO/app && cp bin/registry $DEMO/app/registry/ && grep -v '^#' $DEMO/app/compose.yaml && $E compose -f $DEMO/app/compose.yaml config | sed -n '/^  front:/,/^  registry:/{p;/^  registry:/q;}'"
on_exit "$E compose -f $DEMO/app/compose.yaml down -v"
step "up -d: networks, volume, images (built), then the services in depends_on order: front waits until web is healthy, web until content has completed." \
	"$E compose -f $DEMO/app/compose.yaml up -d 2>&1 | grep -v -E '^(Step| --->|Successfully|Build took)'"
step "ps, and the application: the front end's CGI asks http://web/ by name over the internal network." \
	"$E compose -f $DEMO/app/compose.yaml ps; wget -q -O - http://127.0.0.1:8080/cgi-bin/page 2>/dev/null || curl -s http://127.0.0.1:8080/cgi-bin/page"
step "The project's registry is a service too: push an image to it." \
	"$E tag labs/busybox 127.0.0.1:5005/labs/busybox && $E push 127.0.0.1:5005/labs/busybox && $E compose -f $DEMO/app/compose.yaml logs registry"
step "down -v: containers, networks and the volume gone; nothing left in network ls or volume ls." \
	"$E compose -f $DEMO/app/compose.yaml down -v && $E network ls && $E volume ls --filter name=demo_ && $E ps -a"

say "The runtime underneath is an OCI runtime with runc's command line: the same bundle runs with runc, with labs-runc, and under containerd."
step "labs-runc spec writes a config.json with Docker's defaults; a busybox root beside it makes a bundle." \
	"mkdir -p $DEMO/bundle && cp -a $DEMO/bb-root $DEMO/bundle/rootfs && bin/labs-runc spec --bundle $DEMO/bundle sh -c 'echo hello from \$(hostname)' && ls $DEMO/bundle"
step "labs-runc run, as runc would." \
	"bin/labs-runc --root $DEMO/labs-runc run --bundle $DEMO/bundle demo"
if command -v runc >/dev/null; then
	step "runc itself, on the same bundle." \
		"runc --root $DEMO/runc run --bundle $DEMO/bundle demo"
fi
if command -v containerd >/dev/null && command -v ctr >/dev/null; then
	step "containerd, with ctr run --runc-binary: containerd's shim calls labs-runc create, start, state, delete." \
		"scripts/containerd-demo.sh $DEMO"
fi
step "system prune removes stopped containers, unreferenced image data and, once no container runs, the network." \
	"$E system prune --volumes"
