package cgroup

import "fmt"

// Stats reads what the group has used so far, from the same accounting files as
// Cgroup.Stats (memory, OOM kills, CPU time and throttling, tasks).
//
// Equivalent to: `cat memory.usage_in_bytes memory.oom_control cpuacct.usage pids.current`
// (v1) or `cat memory.current memory.events cpu.stat pids.current` (v2).
func (g *OCI) Stats() (Stats, error) {
	m := &Manager{mode: g.Mode}
	c := &Cgroup{m: m}
	if g.Mode == V2 {
		m.driver = v2{}
		m.hierarchies = []hierarchy{{dir: DefaultRoot}}
		c.dirs = []string{g.Paths[""]}
	} else {
		m.driver = v1{}
		for _, dir := range g.dirs() {
			h := hierarchy{dir: dir}
			for controller, d := range g.Paths {
				if d == dir {
					h.controllers = append(h.controllers, controller)
				}
			}
			m.hierarchies = append(m.hierarchies, h)
			c.dirs = append(c.dirs, dir)
		}
	}
	st, err := m.driver.stats(c)
	if err != nil {
		return Stats{}, fmt.Errorf("read the stats of cgroup %s: %w", g.dirs()[0], err)
	}
	return st, nil
}
