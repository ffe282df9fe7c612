package engine

import (
	"fmt"
	"testing"
	"time"
)

// benchRecord is a container record of the size a real one has: a few layers, an
// environment, mounts and a network.
func benchRecord(name string) *Container {
	c := &Container{ID: NewID(), Name: name, Image: "labs/busybox:latest", Created: time.Now()}
	for i := range 5 {
		c.Layers = append(c.Layers, fmt.Sprintf("/var/lib/containerlabs/images/layers/%064d", i))
	}
	c.Config.Cmd = []string{"sh", "-c", "sleep 600"}
	c.Config.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"}
	c.Config.NetworkMode = "bridge"
	c.Network = NetworkState{Bridge: "labs0", IPAddress: "10.88.0.2", Gateway: "10.88.0.1"}
	c.State = State{Status: StatusRunning, Pid: 1, StartedAt: time.Now()}
	return c
}

// BenchmarkSave measures writing a record: marshal, a temporary file, a rename. Every state
// change of a container (create, start, exit) is one.
func BenchmarkSave(b *testing.B) {
	s, err := OpenStore(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	c := benchRecord("web")
	if err := s.Create(c); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if err := s.Save(c); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGet measures finding a container by an ID prefix and reading its record, among
// 1, 100 and 1000 containers: Resolve lists the containers directory, so the cost grows
// with their number, as `ps`, `inspect` and `rm` see it.
func BenchmarkGet(b *testing.B) {
	for _, n := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("containers=%d", n), func(b *testing.B) {
			s, err := OpenStore(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			var last *Container
			for i := range n {
				last = benchRecord(fmt.Sprintf("c%d", i))
				// Not running: Reconcile then has no process to check.
				last.State = State{Status: StatusExited}
				if err := s.Create(last); err != nil {
					b.Fatal(err)
				}
			}
			for b.Loop() {
				if _, err := s.Get(last.ID[:12]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
