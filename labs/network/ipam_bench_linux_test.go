package network

import (
	"fmt"
	"net/netip"
	"os"
	"testing"
)

// BenchmarkAllocate measures one Allocate and Release on a /16 that already holds some
// leases: both take the lock, and Allocate reads every lease to find the free addresses
// and the dead holders, so its cost grows with the number of containers.
func BenchmarkAllocate(b *testing.B) {
	for _, existing := range []int{0, 100, 1000} {
		b.Run(fmt.Sprintf("leases=%d", existing), func(b *testing.B) {
			n, err := New("clbench", "10.99.0.0/16", b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			if err := os.MkdirAll(n.leaseDir(), 0o755); err != nil {
				b.Fatal(err)
			}
			started, err := startTime(os.Getpid())
			if err != nil {
				b.Fatal(err)
			}
			addr := n.Gateway().Addr()
			for i := range existing {
				addr = addr.Next()
				l := &Lease{Owner: fmt.Sprintf("c%d", i), Address: addr, PID: os.Getpid(), Started: started, network: n}
				if err := n.writeLease(l); err != nil {
					b.Fatal(err)
				}
			}
			for b.Loop() {
				l, err := n.Allocate("bench", netip.Addr{})
				if err != nil {
					b.Fatal(err)
				}
				if err := l.Release(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
