// Command registry serves an in-memory container registry (registry HTTP API v2, from
// go-containerregistry) on a loopback address, so that the walkthroughs can push and pull
// without any network. It keeps everything in memory and forgets it on exit.
//
//	go run ./scripts/registry [-addr 127.0.0.1:5000]
package main

import (
	"flag"
	"log"
	"net/http"

	"github.com/google/go-containerregistry/pkg/registry"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:5000", "the loopback address to listen on")
	flag.Parse()
	log.Printf("registry on http://%s (in memory)", *addr)
	log.Fatal(http.ListenAndServe(*addr, registry.New(registry.Logger(log.New(nopWriter{}, "", 0)))))
}

type nopWriter struct{}

func (nopWriter) Write(p []byte) (int, error) { return len(p), nil }
