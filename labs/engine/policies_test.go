package engine

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseRestartPolicy(t *testing.T) {
	for in, want := range map[string]RestartPolicy{
		"no":             {Name: "no"},
		"always":         {Name: "always"},
		"unless-stopped": {Name: "unless-stopped"},
		"on-failure":     {Name: "on-failure"},
		"on-failure:2":   {Name: "on-failure", MaximumRetryCount: 2},
	} {
		got, err := ParseRestartPolicy(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
		assert.Equal(t, in, got.String())
	}
	for in, want := range map[string]string{
		"sometimes":        `--restart "sometimes"`,
		"always:3":         "only on-failure takes a maximum retry count",
		"on-failure:-1":    `the maximum retry count "-1"`,
		"on-failure:x":     `the maximum retry count "x"`,
		"on-failure:1e100": `the maximum retry count "1e100"`,
	} {
		_, err := ParseRestartPolicy(in)
		require.Error(t, err, in)
		assert.Contains(t, err.Error(), want, in)
	}
}

func TestRestartDecisions(t *testing.T) {
	onFailure2 := RestartPolicy{Name: RestartOnFailure, MaximumRetryCount: 2}
	assert.True(t, onFailure2.restarts(1, 0, false))
	assert.True(t, onFailure2.restarts(1, 1, false))
	assert.False(t, onFailure2.restarts(1, 2, false), "on-failure:2 restarts twice, no more")
	assert.False(t, onFailure2.restarts(0, 0, false), "on-failure leaves a success alone")
	assert.True(t, RestartPolicy{Name: RestartOnFailure}.restarts(1, 1000, false), "no maximum: no limit")
	assert.True(t, RestartPolicy{Name: RestartAlways}.restarts(0, 5, false))
	assert.False(t, RestartPolicy{Name: RestartAlways}.restarts(137, 0, true), "stop is not undone")
	assert.False(t, RestartPolicy{Name: RestartNo}.restarts(1, 0, false))
	assert.False(t, RestartPolicy{}.restarts(1, 0, false))

	// Docker's back-off: 100 ms, doubling, at most a minute; reset after 10 s of running.
	assert.Equal(t, 100*time.Millisecond, nextRestartDelay(0, time.Second))
	assert.Equal(t, 200*time.Millisecond, nextRestartDelay(100*time.Millisecond, time.Second))
	assert.Equal(t, time.Minute, nextRestartDelay(40*time.Second, time.Second))
	assert.Equal(t, 100*time.Millisecond, nextRestartDelay(40*time.Second, 11*time.Second))

	assert.ErrorContains(t, checkPolicies(Config{AutoRemove: true, RestartPolicy: RestartPolicy{Name: RestartAlways}}), "--restart and --rm conflict")
	assert.NoError(t, checkPolicies(Config{AutoRemove: true, RestartPolicy: RestartPolicy{Name: RestartNo}}))
}

func TestHealthRecord(t *testing.T) {
	start := time.Now()
	cfg := withHealthDefaults(v1.HealthConfig{Retries: 2, StartPeriod: time.Second})
	assert.Equal(t, DefaultHealthInterval, cfg.Interval)
	h := &Health{Status: HealthStarting}
	fail := func(at time.Duration) HealthResult { return HealthResult{Start: start.Add(at), ExitCode: 1} }

	h.record(fail(100*time.Millisecond), cfg, start)
	h.record(fail(200*time.Millisecond), cfg, start)
	assert.Equal(t, HealthStarting, h.Status, "failures in the start period do not count")
	assert.Equal(t, 0, h.FailingStreak)
	h.record(HealthResult{Start: start.Add(300 * time.Millisecond)}, cfg, start)
	assert.Equal(t, HealthHealthy, h.Status)
	h.record(fail(400*time.Millisecond), cfg, start)
	assert.Equal(t, HealthHealthy, h.Status, "once healthy, a failure counts, but one is not enough")
	assert.Equal(t, 1, h.FailingStreak)
	h.record(fail(500*time.Millisecond), cfg, start)
	assert.Equal(t, HealthUnhealthy, h.Status, "Retries failures in a row")
	for range 10 {
		h.record(fail(2*time.Second), cfg, start)
	}
	assert.Len(t, h.Log, healthLogEntries, "the log keeps the last runs")
}

func TestHealthConfig(t *testing.T) {
	image := &v1.HealthConfig{Test: []string{"CMD", "check"}, Interval: time.Minute, Retries: 5}
	merged := MergeHealthcheck(image, &v1.HealthConfig{Interval: time.Second})
	assert.Equal(t, []string{"CMD", "check"}, merged.Test, "the image's test stays")
	assert.Equal(t, time.Second, merged.Interval, "the command line's interval wins")
	assert.Equal(t, 5, merged.Retries)
	assert.Same(t, image, MergeHealthcheck(image, nil))
	assert.False(t, checksHealth(MergeHealthcheck(image, &v1.HealthConfig{Test: []string{"NONE"}})), "--no-healthcheck")

	args, err := healthArgs([]string{"CMD-SHELL", "test -f /ok"})
	require.NoError(t, err)
	assert.Equal(t, []string{"/bin/sh", "-c", "test -f /ok"}, args)

	for cfg, want := range map[*v1.HealthConfig]string{
		{Test: []string{"CMD"}}:      "has no command",
		{Test: []string{"RUN", "x"}}: "starts with CMD, CMD-SHELL or NONE",
		{Interval: time.Microsecond}: "--health-interval 1µs",
		{Timeout: time.Nanosecond}:   "--health-timeout 1ns",
		{StartPeriod: -time.Second}:  "--health-start-period -1s",
		{Retries: -1}:                "--health-retries -1",
	} {
		assert.ErrorContains(t, checkHealthConfig(cfg), want)
	}
	_, err = ParseHealthDuration("--health-interval", "soon")
	assert.ErrorContains(t, err, `--health-interval "soon"`)
	_, err = ParseHealthDuration("--health-interval", "-2s")
	assert.ErrorContains(t, err, "--health-interval -2s")
}

func TestNetworkSubnets(t *testing.T) {
	assert.Equal(t, netip.MustParsePrefix("10.89.1.0/24"), nextSubnet(netip.MustParsePrefix("10.89.0.0/24")))
	assert.Equal(t, netip.MustParsePrefix("10.90.0.0/24"), nextSubnet(netip.MustParsePrefix("10.89.255.0/24")))

	e := &Engine{Root: t.TempDir(), Subnet: "10.88.0.0/16", Store: &Store{root: t.TempDir()}}
	t.Setenv(EnvNetworkPool, "10.199.40.0/23")
	taken := map[netip.Prefix]string{netip.MustParsePrefix("10.199.40.0/24"): "first"}
	got, err := e.chooseSubnet("", taken)
	require.NoError(t, err)
	assert.Equal(t, "10.199.41.0/24", got.String(), "the next free /24 of the pool")
	taken[got] = "second"
	_, err = e.chooseSubnet("", taken)
	assert.ErrorContains(t, err, "every /24 of 10.199.40.0/23 is taken")
	_, err = e.chooseSubnet("10.199.40.128/25", taken)
	assert.ErrorContains(t, err, "--subnet 10.199.40.128/25 overlaps 10.199.40.0/24 of network first")
	_, err = e.chooseSubnet("8.8.8.0/24", taken)
	assert.ErrorContains(t, err, "not a private range")
	t.Setenv(EnvNetworkPool, "10.199.40.0/25")
	_, err = e.chooseSubnet("", taken)
	assert.ErrorContains(t, err, EnvNetworkPool)
}

func TestNetworkRecordsAndChecks(t *testing.T) {
	e := &Engine{Root: t.TempDir(), Bridge: "labs0", Subnet: "10.88.0.0/16"}
	e.Store = &Store{root: filepath.Join(e.Root, "engine")}
	require.NoError(t, os.MkdirAll(e.networksDir(), 0o700))
	require.NoError(t, e.saveNetwork(&Network{Name: "shop", ID: NewID(), Driver: "bridge",
		IPAM: IPAM{Config: []IPAMConfig{{Subnet: "10.199.41.0/24"}}}, Options: map[string]string{bridgeNameOption: "labs-0123456789"}}))
	require.NoError(t, e.saveNetwork(&Network{Name: "vault", ID: NewID(), Driver: "bridge", Internal: true,
		IPAM: IPAM{Config: []IPAMConfig{{Subnet: "10.199.42.0/24"}}}, Options: map[string]string{bridgeNameOption: "labs-9876543210"}}))

	all, err := e.Networks()
	require.NoError(t, err)
	var names []string
	for _, n := range all {
		names = append(names, n.Name)
	}
	assert.Equal(t, []string{"bridge", "host", "none", "shop", "vault"}, names, "the built-in networks first, as Docker lists them")
	assert.Equal(t, "null", all[2].Driver)
	n, err := e.LookupNetwork(all[3].ID[:6])
	require.NoError(t, err)
	assert.Equal(t, "shop", n.Name, "a network is found by a prefix of its ID")

	cfg := Config{NetworkMode: "shop", Networks: map[string]EndpointConfig{"vault": {Aliases: []string{"db"}}}, Publish: []string{"80:80"}}
	require.NoError(t, e.checkNetworks(&cfg))
	assert.Equal(t, []string{"shop", "vault"}, containerNetworks(cfg), "NetworkMode's first, then the others by name")
	for cfg, want := range map[*Config]string{
		{NetworkMode: "nowhere"}: "--network nowhere: no such network",
		{NetworkMode: "host", Networks: map[string]EndpointConfig{"shop": {}}}:                          "--network host cannot be combined",
		{NetworkMode: "vault", Publish: []string{"80:80"}}:                                              "network vault is internal",
		{NetworkMode: "none", Publish: []string{"80:80"}}:                                               "-p needs a bridge network",
		{NetworkMode: "shop", Networks: map[string]EndpointConfig{"shop": {Aliases: []string{"../x"}}}}: "--network-alias",
	} {
		assert.ErrorContains(t, e.checkNetworks(cfg), want)
	}
}

func TestNeighboursShareAUserNetwork(t *testing.T) {
	on := func(name string, eps map[string]*Endpoint) *Container {
		return &Container{ID: NewID(), Name: name, Network: NetworkState{Networks: eps}}
	}
	web := on("web", map[string]*Endpoint{"shop": {IPAddress: "10.199.41.2", Aliases: []string{"www"}}})
	db := on("db", map[string]*Endpoint{"shop": {IPAddress: "10.199.41.3"}, "vault": {IPAddress: "10.199.42.2"}})
	lone := on("lone", map[string]*Endpoint{"bridge": {IPAddress: "10.88.0.2"}})
	other := on("other", map[string]*Endpoint{"bridge": {IPAddress: "10.88.0.3"}, "vault": {IPAddress: "10.199.42.3"}})
	live := []*Container{web, db, lone, other}

	hosts := neighbours(db, live)
	require.Len(t, hosts, 2)
	assert.Equal(t, "10.199.41.2", hosts[0].Address.String())
	assert.Equal(t, []string{"web", "www", short(web.ID)}, hosts[0].Names, "name, aliases on that network, short ID")
	assert.Equal(t, []string{"other", short(other.ID)}, hosts[1].Names)
	assert.Empty(t, neighbours(lone, live), "on the default bridge, names do not resolve")
	assert.Equal(t, []string{"shop", "vault"}, userNetworksOf(db))
}

func TestFiltersForApplications(t *testing.T) {
	c := &Container{ID: NewID(), Name: "web",
		Config: Config{NetworkMode: "shop", Networks: map[string]EndpointConfig{"shop": {}, "vault": {}},
			Labels: map[string]string{"com.docker.compose.project": "demo"}},
		State: State{Status: StatusRunning, Health: &Health{Status: HealthHealthy}}}
	for filter, want := range map[string]bool{
		"label=com.docker.compose.project":       true,
		"label=com.docker.compose.project=demo":  true,
		"label=com.docker.compose.project=other": false,
		"network=vault":                          true,
		"network=bridge":                         false,
		"health=healthy":                         true,
		"health=none":                            false,
		"status=restarting":                      false,
	} {
		f, err := ParseFilters([]string{filter}, ContainerFilterKeys)
		require.NoError(t, err, filter)
		assert.Equal(t, want, f.MatchContainer(c), filter)
	}
	_, err := ParseFilters([]string{"health=fine"}, ContainerFilterKeys)
	assert.ErrorContains(t, err, "health is starting, healthy, unhealthy or none")

	now := time.Now()
	c.State.StartedAt = now.Add(-5 * time.Second)
	assert.Equal(t, "Up 5 seconds (healthy)", statusLine(c, now))
	c.State.Health.Status = HealthStarting
	assert.Equal(t, "Up 5 seconds (health: starting)", statusLine(c, now))
	c.State = State{Status: StatusRestarting, ExitCode: 3, FinishedAt: now.Add(-2 * time.Second)}
	assert.Equal(t, "Restarting (3) 2 seconds ago", statusLine(c, now))
}
