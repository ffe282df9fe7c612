package main

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"containerlabs/labs/engine"
	"containerlabs/scripts/i18n"
)

// appOptions are run's options for containers that make up an application: more than one
// network, names on them, labels, a restart policy and a health check. They are defined on
// run's parser; apply puts what they say into the container's config.
type appOptions struct {
	networkAlias, label, restart                    *option
	healthCmd, healthInterval, healthTimeout        *option
	healthRetries, healthStartPeriod, noHealthcheck *option
}

func addAppOptions(o *options) *appOptions {
	return &appOptions{
		networkAlias:      o.String("--network-alias", "another name for the container on its (first user-defined) network"),
		label:             o.String("-l,--label", "a label, KEY=VALUE"),
		restart:           o.String("--restart", "no, on-failure[:N], always or unless-stopped: when the monitor starts the container again"),
		healthCmd:         o.String("--health-cmd", "a command whose status 0 means healthy, run in the container"),
		healthInterval:    o.String("--health-interval", "time between checks (default 30s)"),
		healthTimeout:     o.String("--health-timeout", "a check that takes longer fails (default 30s)"),
		healthRetries:     o.String("--health-retries", "failures in a row that make the container unhealthy (default 3)"),
		healthStartPeriod: o.String("--health-start-period", "failures in this time after the start do not count (default 0s)"),
		noHealthcheck:     o.Bool("--no-healthcheck", "no health check, even if the image has one"),
	}
}

// apply reads the options into cfg. networks are all the --network values: the first is
// the container's network mode, the others (user-defined) networks it joins too.
func (a *appOptions) apply(cfg *engine.Config, networks []string) error {
	if len(networks) > 0 {
		cfg.NetworkMode = networks[0]
	}
	for i, name := range networks {
		if i > 0 || (name != engine.DefaultNetwork && name != engine.HostNetwork && name != engine.NoNetwork) {
			if cfg.Networks == nil {
				cfg.Networks = map[string]engine.EndpointConfig{}
			}
			cfg.Networks[name] = engine.EndpointConfig{}
		}
	}
	if a.networkAlias.set {
		if _, ok := cfg.Networks[cfg.NetworkMode]; !ok {
			return errors.New(i18n.T("--network-alias needs a user-defined network (--network NAME): names do not resolve on the default bridge"))
		}
		cfg.Networks[cfg.NetworkMode] = engine.EndpointConfig{Aliases: a.networkAlias.values}
	}
	var err error
	if cfg.Labels, err = parseLabels(a.label.values); err != nil {
		return err
	}
	if a.restart.set {
		if cfg.RestartPolicy, err = engine.ParseRestartPolicy(a.restart.Value()); err != nil {
			return err
		}
	}
	cfg.Healthcheck, err = a.healthcheck()
	return err
}

// healthcheck reads the --health-* options: what they leave unset (zero) comes from the
// image's HEALTHCHECK, or Docker's defaults.
func (a *appOptions) healthcheck() (*v1.HealthConfig, error) {
	if a.noHealthcheck.set {
		if a.healthCmd.set {
			return nil, fmt.Errorf("--no-healthcheck and --health-cmd conflict")
		}
		return &v1.HealthConfig{Test: []string{"NONE"}}, nil
	}
	hc := &v1.HealthConfig{}
	set := false
	if a.healthCmd.set {
		if a.healthCmd.Value() == "" {
			return nil, fmt.Errorf("--health-cmd needs a command")
		}
		hc.Test, set = []string{"CMD-SHELL", a.healthCmd.Value()}, true
	}
	for _, d := range []struct {
		opt   *option
		field *time.Duration
	}{{a.healthInterval, &hc.Interval}, {a.healthTimeout, &hc.Timeout}, {a.healthStartPeriod, &hc.StartPeriod}} {
		if !d.opt.set {
			continue
		}
		v, err := engine.ParseHealthDuration(d.opt.names[0], d.opt.Value())
		if err != nil {
			return nil, err
		}
		*d.field, set = v, true
	}
	if a.healthRetries.set {
		n, err := strconv.ParseUint(a.healthRetries.Value(), 10, 31)
		if err != nil {
			return nil, fmt.Errorf("--health-retries %q: want a number from 0 (the default, %d) to 2147483647", a.healthRetries.Value(), engine.DefaultHealthRetries)
		}
		hc.Retries, set = int(n), true
	}
	if !set {
		return nil, nil
	}
	return hc, nil
}
