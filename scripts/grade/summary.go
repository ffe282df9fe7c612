package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
)

// packageSummary is what --summary reports of one package: its leaf tests by outcome, with
// the reason of each skip and the output of each failure, and how long it ran.
type packageSummary struct {
	name                    string
	passed, skipped, failed []string
	outputs                 map[string]*strings.Builder
	elapsed                 float64
	result                  string // pass or fail; "" if the test binary never finished
}

// summarize reads `go test -json` events (or test2json's, from test binaries run
// elsewhere) and prints one line per package, every skipped test with its reason and every
// failed test with its hints (its whole output with verbose), and a total. It is for test
// runs that are not graded, such as the cgroup v2 VM's, where a line per check would drown
// what matters. It reports whether anything failed.
func summarize(r io.Reader, w io.Writer, verbose bool) (bool, error) {
	var order []*packageSummary
	byName := map[string]*packageSummary{}
	results := map[[2]string]string{}
	scanner := bufio.NewScanner(r)
	scanner.Buffer(make([]byte, 1024*1024), 16*1024*1024)
	for scanner.Scan() {
		var e struct {
			event
			Elapsed float64
		}
		if err := json.Unmarshal(scanner.Bytes(), &e); err != nil || e.Package == "" {
			continue
		}
		p := byName[e.Package]
		if p == nil {
			p = &packageSummary{name: e.Package, outputs: map[string]*strings.Builder{}}
			byName[e.Package] = p
			order = append(order, p)
		}
		switch {
		case e.Test == "" && (e.Action == "pass" || e.Action == "fail"):
			p.result, p.elapsed = e.Action, e.Elapsed
		case e.Test == "":
		case e.Action == "output":
			if p.outputs[e.Test] == nil {
				p.outputs[e.Test] = &strings.Builder{}
			}
			p.outputs[e.Test].WriteString(e.Output)
		case e.Action == "run":
			results[[2]string{e.Package, e.Test}] = "run"
		case e.Action == "pass" || e.Action == "skip" || e.Action == "fail":
			results[[2]string{e.Package, e.Test}] = e.Action
		}
	}
	if err := scanner.Err(); err != nil {
		return true, fmt.Errorf("read test events: %w", err)
	}
	// A parent test passes or fails with its subtests: only the leaves are counted.
	for key, result := range results {
		leaf := true
		for other := range results {
			if other[0] == key[0] && strings.HasPrefix(other[1], key[1]+"/") {
				leaf = false
				break
			}
		}
		if !leaf {
			continue
		}
		p := byName[key[0]]
		switch result {
		case "pass":
			p.passed = append(p.passed, key[1])
		case "skip":
			p.skipped = append(p.skipped, key[1])
		default: // failed, or still running when the binary died
			p.failed = append(p.failed, key[1])
		}
	}

	anyFailed := false
	var passed, skipped, failed int
	for _, p := range order {
		for _, l := range [][]string{p.passed, p.skipped, p.failed} {
			slices.Sort(l)
		}
		passed, skipped, failed = passed+len(p.passed), skipped+len(p.skipped), failed+len(p.failed)
		mark, when := "ok  ", fmt.Sprintf("%.1fs", p.elapsed)
		switch {
		case p.result == "":
			mark, when = "FAIL", "did not finish"
		case p.result == "fail" || len(p.failed) > 0:
			mark = "FAIL"
		}
		if mark == "FAIL" {
			anyFailed = true
		}
		fmt.Fprintf(w, "  %s %-36s %3d passed, %2d skipped, %2d failed  %s\n", mark,
			strings.TrimPrefix(p.name, "containerlabs/"), len(p.passed), len(p.skipped), len(p.failed), when)
		for _, t := range p.skipped {
			fmt.Fprintf(w, "         skip %s: %s\n", t, strings.Join(skipReason(p.output(t)), " "))
		}
		for _, t := range p.failed {
			fmt.Fprintf(w, "         FAIL %s\n", t)
			lines := hints(p.output(t))
			if verbose {
				lines = strings.Split(strings.TrimRight(p.output(t), "\n"), "\n")
			}
			for _, line := range lines {
				fmt.Fprintf(w, "           | %s\n", line)
			}
		}
	}
	fmt.Fprintf(w, "%d passed, %d failed, %d skipped\n", passed, failed, skipped)
	return anyFailed, nil
}

func (p *packageSummary) output(test string) string {
	if b := p.outputs[test]; b != nil {
		return b.String()
	}
	return ""
}
