package runtime

// Event is one line of `events`: a container's resource usage ("stats", with Data) or an
// OOM kill in its cgroup ("oom"), in runc's format, which tools that read runc's events
// parse.
type Event struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	Data *Stats `json:"data,omitempty"`
}

// Stats is a container's resource usage in runc's layout (the fields this runtime reads;
// runc has more). OOM kills are not counted here: each is an event of its own.
type Stats struct {
	CPU struct {
		Usage struct {
			// Total is the CPU time the container's processes used, in nanoseconds.
			Total uint64 `json:"total"`
		} `json:"usage"`
		Throttling struct {
			// ThrottledTime is how long the group was held back by its quota, in ns.
			ThrottledTime uint64 `json:"throttled_time"`
		} `json:"throttling"`
	} `json:"cpu"`
	Memory struct {
		Usage struct {
			// Usage is the memory charged to the group now, Max the most ever, in
			// bytes; Failcnt how often the limit was reached.
			Usage   uint64 `json:"usage"`
			Max     uint64 `json:"max"`
			Failcnt uint64 `json:"failcnt"`
		} `json:"usage"`
	} `json:"memory"`
	Pids struct {
		// Current is the number of tasks in the group.
		Current uint64 `json:"current"`
	} `json:"pids"`
}
