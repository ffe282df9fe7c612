package main_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"containerlabs/labs/engine"
	"containerlabs/labs/labtest"
)

// The application checks make networks of their own in 10.199.17.0/24 to 10.199.23.0/24
// (explicit subnets, and the pool for networks made without one), beside the engine
// checks' default bridge.
const appPool = "10.199.20.0/22"

// web is a command that serves text over HTTP on port 80 with busybox httpd.
func web(text string) []string {
	return []string{"sh", "-c", fmt.Sprintf("mkdir -p /www && echo %s > /www/index.html && exec httpd -f -p 80 -h /www", text)}
}

// get fetches url from a new container on the network (none: the default bridge), trying
// again for a few seconds while the server starts; it returns the last result.
func get(t *testing.T, bin *labtest.Binary, network, url string) labtest.Result {
	args := []string{"run", "--rm"}
	if network != "" {
		args = append(args, "--network", network)
	}
	args = append(args, base, "sh", "-c", "for i in 1 2 3 4 5 6 7 8 9 10; do wget -q -O - "+url+" && exit 0; sleep 0.3; done; exit 1")
	return bin.Run(t, args...)
}

// hostsOf is the /etc/hosts a running container sees.
func hostsOf(t *testing.T, bin *labtest.Binary, ref string) string {
	res := bin.Run(t, "exec", ref, "cat", "/etc/hosts")
	require.Equal(t, 0, res.Code, res)
	return res.Stdout
}

// TestLab08Apps holds the checks of the engine's multi-container features: user-defined
// networks with names, health checks, restart policies and compose.
func TestLab08Apps(t *testing.T) {
	labtest.RequireRoot(t)
	t.Setenv(engine.EnvNetworkPool, appPool)

	t.Run("names resolve on a user-defined network, and not on the default bridge", func(t *testing.T) {
		bin := setup(t)
		res := bin.Run(t, "network", "create", "--subnet", "10.199.17.0/24", "shop")
		require.Equal(t, 0, res.Code, labtest.Hint("`network create --subnet CIDR NAME` makes a network").With(res))
		res = bin.Run(t, append([]string{"run", "-d", "--name", "web", "--network", "shop", "--network-alias", "www", base}, web("served-by-name")...)...)
		require.Equal(t, 0, res.Code, res)

		res = get(t, bin, "shop", "http://web/")
		assert.Equal(t, "served-by-name\n", res.Stdout, labtest.Hint("on a user-defined network a container reaches another by its name").With(res))
		res = get(t, bin, "shop", "http://www/")
		assert.Equal(t, "served-by-name\n", res.Stdout, labtest.Hint("and by its --network-alias").With(res))
		res = bin.Run(t, "run", "--rm", base, "wget", "-q", "-O", "-", "http://web/")
		assert.NotEqual(t, 0, res.Code, labtest.Hint("on the default bridge names do not resolve, as with Docker").With(res))
		assert.Contains(t, res.Stderr, "bad address", labtest.Hint("the name is unknown there, not merely unreachable").With(res))
	})

	t.Run("names follow containers that start, stop, are renamed and removed", func(t *testing.T) {
		bin := setup(t)
		require.Equal(t, 0, bin.Run(t, "network", "create", "--subnet", "10.199.18.0/24", "office").Code)
		require.Equal(t, 0, bin.Run(t, "run", "-d", "--name", "watcher", "--network", "office", base, "sleep", "60").Code)
		require.Equal(t, 0, bin.Run(t, "run", "-d", "--name", "peer", "--network", "office", base, "sleep", "60").Code)
		peer := inspect(t, bin, "peer")
		ip := peer.Network.Networks["office"].IPAddress
		assert.Regexp(t, ip+`\s+peer\b`, hostsOf(t, bin, "watcher"), labtest.Hint("a container that starts is added to its neighbours' names"))
		require.Equal(t, 0, bin.Run(t, "rename", "peer", "buddy").Code)
		hosts := hostsOf(t, bin, "watcher")
		assert.Regexp(t, ip+`\s+buddy\b`, hosts, labtest.Hint("rename renames it for its neighbours"))
		assert.NotRegexp(t, `\speer\b`, hosts)
		require.Equal(t, 0, bin.Run(t, "stop", "-t", "1", "buddy").Code)
		assert.NotContains(t, hostsOf(t, bin, "watcher"), "buddy", labtest.Hint("a container that stops is taken off its neighbours' names"))
		require.Equal(t, 0, bin.Run(t, "start", "buddy").Code)
		assert.Contains(t, hostsOf(t, bin, "watcher"), "buddy", labtest.Hint("and put back when it starts again"))
		require.Equal(t, 0, bin.Run(t, "rm", "-f", "buddy").Code)
		assert.NotContains(t, hostsOf(t, bin, "watcher"), "buddy", labtest.Hint("rm takes it off"))
		res := bin.Run(t, "network", "rm", "office")
		assert.NotEqual(t, 0, res.Code, labtest.Hint("a network with a running container on it is not removed").With(res))
		assert.Contains(t, res.Stderr, "watcher", labtest.Hint("the error names the containers on it"))
	})

	t.Run("two user-defined networks are isolated from each other, and an internal one has no way out", func(t *testing.T) {
		bin := setup(t)
		require.Equal(t, 0, bin.Run(t, "network", "create", "--subnet", "10.199.19.0/24", "red").Code)
		require.Equal(t, 0, bin.Run(t, "network", "create", "blue").Code)
		res := bin.Run(t, "network", "create", "--subnet", "10.199.19.128/25", "purple")
		assert.NotEqual(t, 0, res.Code, labtest.Hint("an overlapping subnet is refused").With(res))
		assert.Contains(t, res.Stderr, "overlaps 10.199.19.0/24 of network red", labtest.Hint("the error names the other network").With(res))
		res = bin.Run(t, append([]string{"run", "-d", "--name", "server", "--network", "red", base}, web("only-for-red")...)...)
		require.Equal(t, 0, res.Code, res)
		addr := inspect(t, bin, "server").Network.IPAddress
		require.NotEmpty(t, addr)

		res = get(t, bin, "red", "http://"+addr+"/")
		require.Equal(t, "only-for-red\n", res.Stdout, labtest.Hint("a container on the same network reaches the server").With(res))
		forward, err := os.ReadFile("/proc/sys/net/ipv4/ip_forward")
		require.NoError(t, err)
		require.Equal(t, "1\n", string(forward), labtest.Hint("with containers on networks the host routes between bridges (ip_forward=1), so only the isolation rules can stop what follows"))
		// (timeout as PID 1 would exec wget as PID 1, which ignores timeout's SIGTERM: a shell
		// stays PID 1 instead.)
		res = bin.Run(t, "run", "--rm", "--network", "blue", base, "sh", "-c", "timeout 3 wget -q -O - http://"+addr+"/; exit $?")
		assert.NotEqual(t, 0, res.Code, labtest.Hint("a container on another network must not reach it: drop what is forwarded between the networks' bridges").With(res))
		assert.NotContains(t, res.Stdout, "only-for-red")

		require.Equal(t, 0, bin.Run(t, "network", "create", "--internal", "--subnet", "10.199.23.0/24", "vault").Code)
		res = bin.Run(t, "run", "--rm", "--network", "vault", base, "ip", "route")
		assert.Equal(t, 0, res.Code, res)
		assert.NotContains(t, res.Stdout, "default", labtest.Hint("an internal network gives no default route").With(res))
		res = bin.Run(t, "run", "--rm", "--network", "vault", "-p", "8080:80", base, "true")
		assert.NotEqual(t, 0, res.Code, labtest.Hint("nothing from outside reaches an internal network: -p is refused").With(res))
	})

	t.Run("a health check goes healthy, then unhealthy", func(t *testing.T) {
		bin := setup(t)
		res := bin.Run(t, "run", "-d", "--name", "patient", "--health-cmd", "test -f /tmp/ok", "--health-interval", "200ms",
			"--health-retries", "2", base, "sh", "-c", "touch /tmp/ok; exec sleep 60")
		require.Equal(t, 0, res.Code, res)
		status := func() string { return bin.Run(t, "ps", "--filter", "name=patient", "--format", "{{.Status}}").Stdout }
		assert.True(t, waitFor(5*time.Second, func() bool { return strings.Contains(status(), "(healthy)") }),
			labtest.Hint("the monitor runs the check every interval; a success makes the container (healthy) in ps").With(status()))
		require.Equal(t, 0, bin.Run(t, "exec", "patient", "rm", "/tmp/ok").Code)
		assert.True(t, waitFor(5*time.Second, func() bool { return strings.Contains(status(), "(unhealthy)") }),
			labtest.Hint("--health-retries failures in a row make it (unhealthy)").With(status()))
		h := inspect(t, bin, "patient").State.Health
		require.NotNil(t, h, labtest.Hint("inspect shows State.Health"))
		assert.Equal(t, engine.HealthUnhealthy, h.Status)
		assert.GreaterOrEqual(t, h.FailingStreak, 2)
		require.NotEmpty(t, h.Log, labtest.Hint("State.Health.Log keeps the last runs"))
		assert.Equal(t, 1, h.Log[len(h.Log)-1].ExitCode, labtest.Hint("each run's exit status is logged"))
		assert.True(t, inspect(t, bin, "patient").State.Running(), labtest.Hint("unhealthy does not stop the container"))
	})

	t.Run("on-failure:2 restarts a failing container exactly twice", func(t *testing.T) {
		bin := setup(t)
		res := bin.Run(t, "run", "-d", "--name", "flaky", "--restart", "on-failure:2", base, "sh", "-c", "echo run; exit 3")
		require.Equal(t, 0, res.Code, res)
		var c engine.Container
		require.True(t, waitFor(10*time.Second, func() bool {
			c = inspect(t, bin, "flaky")
			return c.State.Status == engine.StatusExited
		}), labtest.Hint("after its retries the container stays exited").With(c.State))
		time.Sleep(500 * time.Millisecond) // long enough for a third restart to show
		c = inspect(t, bin, "flaky")
		assert.Equal(t, 2, c.RestartCount, labtest.Hint("on-failure:2 restarts twice, no more: RestartCount in inspect"))
		assert.Equal(t, 3, c.State.ExitCode)
		assert.Equal(t, "run\nrun\nrun\n", bin.Run(t, "logs", "flaky").Stdout, labtest.Hint("three runs in all, in one log"))
	})

	t.Run("always restarts a container after a crash, but not after stop", func(t *testing.T) {
		bin := setup(t)
		require.Equal(t, 0, bin.Run(t, "run", "-d", "--name", "phoenix", "--restart", "always", base, "sleep", "60").Code)
		first := inspect(t, bin, "phoenix").State.Pid
		require.NoError(t, syscall.Kill(first, syscall.SIGKILL), "crash the container's process from outside")
		var c engine.Container
		assert.True(t, waitFor(5*time.Second, func() bool {
			c = inspect(t, bin, "phoenix")
			return c.State.Status == engine.StatusRunning && c.State.Pid != first
		}), labtest.Hint("the monitor starts a container that crashed again (after 100 ms of back-off)").With(c.State))
		assert.Equal(t, 1, c.RestartCount)
		require.Equal(t, 0, bin.Run(t, "stop", "-t", "1", "phoenix").Code)
		time.Sleep(500 * time.Millisecond)
		c = inspect(t, bin, "phoenix")
		assert.Equal(t, engine.StatusExited, c.State.Status, labtest.Hint("stop is not undone by the restart policy").With(c.State))
		assert.Equal(t, 1, c.RestartCount)
		assert.True(t, c.HasBeenManuallyStopped)
	})

	t.Run("after a reboot start --all-restartable brings back the containers Docker would", func(t *testing.T) {
		bin := setup(t)
		for name, policy := range map[string]string{"always": "always", "unless": "unless-stopped", "held": "unless-stopped", "plain": "no"} {
			require.Equal(t, 0, bin.Run(t, "run", "-d", "--name", name, "--restart", policy, base, "sleep", "60").Code)
		}
		require.Equal(t, 0, bin.Run(t, "stop", "-t", "1", "held").Code)
		// A reboot, as far as the engine can tell: every monitor and container gone at once.
		for _, name := range []string{"always", "unless", "plain"} {
			c := inspect(t, bin, name)
			require.NoError(t, syscall.Kill(c.State.MonitorPid, syscall.SIGKILL))
			require.NoError(t, syscall.Kill(c.State.Pid, syscall.SIGKILL))
		}
		assert.True(t, waitFor(5*time.Second, func() bool { return strings.TrimSpace(bin.Run(t, "ps", "-q").Stdout) == "" }),
			labtest.Hint("with their monitors gone, nothing runs"))
		res := bin.Run(t, "start", "--all-restartable")
		require.Equal(t, 0, res.Code, labtest.Hint("start --all-restartable starts what the policies bring back").With(res))
		for name, want := range map[string]bool{"always": true, "unless": true, "held": false, "plain": false} {
			assert.Equal(t, want, inspect(t, bin, name).State.Running(), labtest.Hint("%s: always and unless-stopped come back, but not one stopped by hand, nor one without a policy", name))
		}
	})

	t.Run("compose up -d honours service_healthy, and down -v leaves nothing", func(t *testing.T) {
		bin := setup(t)
		before := labtest.TakeSnapshot(t)
		dir := labtest.TempDir(t)
		file := `
services:
  db:
    image: ${IMAGE}
    command: sh -c 'trap "exit 0" TERM; sleep 1; touch /tmp/ready; sleep 60 & wait'
    healthcheck:
      test: test -f /tmp/ready
      interval: 200ms
      retries: 50
    volumes: [data:/data]
  init:
    image: ${IMAGE}
    command: ["sh", "-c", "echo seeded > /data/seed"]
    volumes: [data:/data]
  app:
    image: ${IMAGE}
    command: sh -c 'trap "exit 0" TERM; cat /data/seed; grep -w db /etc/hosts; sleep 60 & wait'
    ports: ["${PORT}:80"]
    volumes: [data:/data, /scratch]
    depends_on:
      db:
        condition: service_healthy
      init:
        condition: service_completed_successfully
networks:
  default:
    ipam:
      config:
        - subnet: 10.199.22.0/24
volumes:
  data:
`
		require.NoError(t, os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(file), 0o644))
		require.NoError(t, os.WriteFile(filepath.Join(dir, ".env"), []byte(fmt.Sprintf("IMAGE=%s\nPORT=%d\n", base, freePort(t))), 0o644))
		compose := func(args ...string) labtest.Result {
			return bin.Run(t, append([]string{"compose", "-f", filepath.Join(dir, "compose.yaml"), "-p", "checks"}, args...)...)
		}
		t.Cleanup(func() { compose("down", "-v") })
		res := compose("up", "-d")
		require.Equal(t, 0, res.Code, labtest.Hint("compose up -d makes the networks, volumes and containers").With(res))

		db, app, init := inspect(t, bin, "checks-db-1"), inspect(t, bin, "checks-app-1"), inspect(t, bin, "checks-init-1")
		require.NotNil(t, db.State.Health)
		var healthyAt time.Time
		for _, r := range db.State.Health.Log {
			if r.ExitCode == 0 {
				healthyAt = r.End
				break
			}
		}
		require.False(t, healthyAt.IsZero(), labtest.Hint("db became healthy").With(db.State.Health))
		assert.True(t, app.State.StartedAt.After(healthyAt), labtest.Hint("service_healthy: app starts only once db's check has succeeded (app %s, db healthy %s)", app.State.StartedAt, healthyAt))
		assert.True(t, app.State.StartedAt.After(init.State.FinishedAt), labtest.Hint("service_completed_successfully: app starts after init has exited"))
		assert.Equal(t, 0, init.State.ExitCode)
		assert.True(t, waitFor(5*time.Second, func() bool { return strings.Contains(bin.Run(t, "logs", "checks-app-1").Stdout, "seeded\n") }))
		logs := bin.Run(t, "logs", "checks-app-1").Stdout
		assert.Contains(t, logs, db.Network.Networks["checks_default"].IPAddress, labtest.Hint("the services find each other by name on the project's network").With(logs))
		ps := compose("ps")
		assert.Contains(t, ps.Stdout, "(healthy)", labtest.Hint("compose ps shows the health").With(ps))

		res = compose("down", "-v")
		require.Equal(t, 0, res.Code, labtest.Hint("compose down -v removes the project").With(res))
		assert.Empty(t, strings.TrimSpace(bin.Run(t, "ps", "-aq").Stdout), labtest.Hint("no container is left"))
		assert.Empty(t, strings.TrimSpace(bin.Run(t, "volume", "ls", "-q").Stdout), labtest.Hint("-v removes the named volume and the anonymous one"))
		networks := bin.Run(t, "network", "ls", "--format", "{{.Name}}").Stdout
		assert.Equal(t, "bridge\nhost\nnone\n", networks, labtest.Hint("the project's network is removed"))
		before.AssertUnchanged(t, labtest.Hint("no veth, bridge, address, iptables rule, mount or cgroup may remain after down -v"))
	})
}
