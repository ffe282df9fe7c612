package runtime

import (
	"errors"
	"fmt"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"containerlabs/labs/cgroup"
)

// Stats reads a container's resource usage from its cgroup.
//
// Equivalent to: `runc events --stats ID`.
func (r *Runtime) Stats(id string) (*Stats, error) {
	c, err := r.open(id)
	if err != nil {
		return nil, err
	}
	defer c.unlock()
	if c.status() == specs.StateStopped {
		return nil, fmt.Errorf("container %s is not running", id)
	}
	st, err := c.Cgroup.Stats()
	if err != nil {
		return nil, err
	}
	return statsOf(st), nil
}

func statsOf(st cgroup.Stats) *Stats {
	var s Stats
	s.CPU.Usage.Total = uint64(st.CPUUsage)
	s.CPU.Throttling.ThrottledTime = uint64(st.CPUThrottled)
	s.Memory.Usage.Usage, s.Memory.Usage.Max, s.Memory.Usage.Failcnt = st.MemoryBytes, st.MemoryPeakBytes, st.MemoryLimitHits
	s.Pids.Current = st.Pids
	return &s
}

// oomPoll is how often Events looks for new OOM kills, whatever the stats interval.
const oomPoll = 100 * time.Millisecond

// Events reports a container's usage every interval, and each OOM kill in its cgroup as it
// happens, until the container stops or is deleted. emit receives the events in order; an
// error from it ends Events.
//
// An OOM kill shows in the group's counter (oom_kill in memory.oom_control on v1,
// memory.events on v2), which is read every 100ms: a rise is an "oom" event.
//
// Equivalent to: `runc events --interval 5s ID`.
func (r *Runtime) Events(id string, interval time.Duration, emit func(Event) error) error {
	if interval <= 0 {
		return fmt.Errorf("events interval %v: want a positive duration", interval)
	}
	var lastOOM uint64
	first, nextStats := true, time.Now()
	for {
		st, err := r.containerStats(id)
		if errors.Is(err, errGone) {
			return nil
		}
		if err != nil {
			return err
		}
		if !first && st.OOMKills > lastOOM {
			if err := emit(Event{Type: "oom", ID: id}); err != nil {
				return err
			}
		}
		first, lastOOM = false, st.OOMKills
		if now := time.Now(); !now.Before(nextStats) {
			if err := emit(Event{Type: "stats", ID: id, Data: statsOf(st)}); err != nil {
				return err
			}
			nextStats = now.Add(interval)
		}
		time.Sleep(min(oomPoll, interval))
	}
}

// errGone marks a container that stopped or was deleted while Events watched it.
var errGone = errors.New("container gone")

func (r *Runtime) containerStats(id string) (cgroup.Stats, error) {
	c, err := r.open(id)
	if errors.Is(err, ErrNotExist) {
		return cgroup.Stats{}, errGone
	}
	if err != nil {
		return cgroup.Stats{}, err
	}
	defer c.unlock()
	if c.status() == specs.StateStopped {
		return cgroup.Stats{}, errGone
	}
	return c.Cgroup.Stats()
}
