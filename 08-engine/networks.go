package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"containerlabs/labs/engine"
)

// network is `docker network`: user-defined networks, each a bridge and a subnet of its own
// (lab 06), isolated from the others, on which containers find each other by name.
func network(e *engine.Engine, args []string) (int, error) {
	if len(args) == 0 {
		return 125, fmt.Errorf("usage: 08-engine network create|ls|inspect|rm|connect|disconnect|prune")
	}
	switch sub, rest := args[0], args[1:]; sub {
	case "create":
		return networkCreate(e, rest)
	case "ls", "list":
		return networkList(e, rest)
	case "inspect":
		if len(rest) == 0 {
			return 125, fmt.Errorf("usage: 08-engine network inspect NETWORK...")
		}
		var out []*engine.Network
		for _, ref := range rest {
			n, err := e.InspectNetwork(ref)
			if err != nil {
				return 125, err
			}
			out = append(out, n)
		}
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return 0, enc.Encode(out)
	case "rm", "remove":
		if len(rest) == 0 {
			return 125, fmt.Errorf("usage: 08-engine network rm NETWORK...")
		}
		return each(rest, e.RemoveNetwork)
	case "connect":
		o := newOptions("network connect")
		alias := o.String("--alias", "another name for the container on this network")
		names, err := o.parse(rest, false)
		if err != nil || len(names) != 2 {
			return 125, fmt.Errorf("usage: 08-engine network connect [--alias NAME]... NETWORK CONTAINER")
		}
		return 0, e.ConnectNetwork(names[0], names[1], alias.values)
	case "disconnect":
		o := newOptions("network disconnect")
		o.Bool("-f,--force", "accepted for Docker's sake: disconnecting never waits")
		names, err := o.parse(rest, false)
		if err != nil || len(names) != 2 {
			return 125, fmt.Errorf("usage: 08-engine network disconnect NETWORK CONTAINER")
		}
		return 0, e.DisconnectNetwork(names[0], names[1])
	case "prune":
		o := newOptions("network prune")
		o.Bool("-f,--force", "do not ask (nothing asks here)")
		if _, err := o.parse(rest, false); err != nil {
			return 125, err
		}
		removed, err := e.PruneNetworks()
		if len(removed) > 0 {
			fmt.Println("Deleted Networks:")
		}
		for _, name := range removed {
			fmt.Println(name)
		}
		if err != nil {
			return 125, err
		}
		return 0, nil
	}
	return 125, fmt.Errorf("unknown network command %q: want create, ls, inspect, rm, connect, disconnect or prune", args[0])
}

func networkCreate(e *engine.Engine, args []string) (int, error) {
	o := newOptions("network create")
	subnet := o.String("--subnet", "the network's range in CIDR form (default: the next free /24 of "+engine.DefaultNetworkPool+")")
	internal := o.Bool("--internal", "no way out: no NAT, nothing forwarded to or from other networks")
	driver := o.String("-d,--driver", "bridge, the only driver")
	label := o.String("--label", "a label, KEY=VALUE")
	rest, err := o.parse(args, false)
	if err != nil || len(rest) != 1 {
		return 125, fmt.Errorf("usage: 08-engine network create [--subnet CIDR] [--internal] [--label K=V] NAME")
	}
	if driver.set && driver.Value() != "bridge" {
		return 125, fmt.Errorf("--driver %q: only bridge networks are made here", driver.Value())
	}
	labels, err := parseLabels(label.values)
	if err != nil {
		return 125, err
	}
	n, err := e.CreateNetwork(engine.NetworkRequest{Name: rest[0], Subnet: subnet.Value(), Internal: internal.set, Labels: labels})
	if err != nil {
		return 125, err
	}
	fmt.Println(n.ID)
	return 0, nil
}

func networkList(e *engine.Engine, args []string) (int, error) {
	o := newOptions("network ls")
	quiet := o.Bool("-q,--quiet", "only IDs")
	format := o.String("--format", "a Go template per network ({{.ID}} {{.Name}} {{.Driver}} {{.Subnet}}); 'table ...' adds a header")
	if _, err := o.parse(args, false); err != nil {
		return 125, err
	}
	all, err := e.Networks()
	if err != nil {
		return 125, err
	}
	var rows []engine.NetworkSummary
	for _, n := range all {
		rows = append(rows, engine.SummarizeNetwork(n))
	}
	return listRows(quiet.set, format, engine.DefaultNetworkFormat, "{{.ID}}", engine.NetworkHeader, rows)
}

// parseLabels reads --label KEY=VALUE options.
func parseLabels(values []string) (map[string]string, error) {
	if len(values) == 0 {
		return nil, nil
	}
	labels := map[string]string{}
	for _, v := range values {
		key, value, _ := strings.Cut(v, "=")
		if key == "" {
			return nil, fmt.Errorf("--label %q: want KEY=VALUE", v)
		}
		labels[key] = value
	}
	return labels, nil
}
