package kit

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"containerlabs/labs/labtest"
)

// EnvMutants selects the long form of the mutation run: "regions" adds a mutant per marked
// region, "regions:03,04" only those of labs 03 and 04 (scripts/mutants.sh sets it).
const EnvMutants = "CONTAINERLABS_MUTANTS"

// TestMutants is the kit's mutation run: a grader is only as good as its weakest check, so
// each lab's checks run against programs that are wrong on purpose, and every check must
// fail on at least one of them. A check that passes on all of them cannot fail, and is
// listed. The mutants:
//
//   - a stub that prints a usage line and exits 1, for every lab;
//   - the starter kit of each lab 01-07, graded on that lab: every step of the lab a TODO;
//   - with CONTAINERLABS_MUTANTS=regions (scripts/mutants.sh), the reference with one marked
//     region replaced as the starter replaces it, for every region, graded on the lab whose
//     program it is part of (the folder's lab, or the marker's for labs/). These also list
//     the regions that no check notices: steps a program could leave out and still pass.
func TestMutants(t *testing.T) {
	labtest.RequireRoot(t)
	root := repo(t)
	mode, only, _ := strings.Cut(os.Getenv(EnvMutants), ":")
	var all []string
	for _, lab := range labs(t) {
		if only == "" || slices.Contains(strings.Split(only, ","), lab[:2]) {
			all = append(all, lab)
		}
	}
	record := results{}

	t.Run("a stub that prints usage and exits 1", func(t *testing.T) {
		stub := t.TempDir()
		for _, name := range append(slices.Clone(all), "labs-runc") {
			script := "#!/bin/sh\necho \"usage: $0 COMMAND ...\" >&2\nexit 1\n"
			require.NoError(t, os.WriteFile(filepath.Join(stub, name), []byte(script), 0o755))
		}
		record.add("stub", runChecks(t, root, stub, "", false, all...))
	})

	t.Run("the starter of each lab", func(t *testing.T) {
		for _, lab := range all {
			if _, err := os.Stat(filepath.Join(root, lab, "main.go")); err != nil || lab >= "08" {
				continue // lab 08 is not in the starter kit
			}
			tree := filepath.Join(t.TempDir(), "starter")
			out, err := exec.Command(filepath.Join(root, "scripts/starter.sh"), lab[:2], tree).CombinedOutput()
			require.NoError(t, err, "scripts/starter.sh %s:\n%s", lab, out)
			bin := buildLab(t, tree, lab)
			require.NotEmpty(t, bin, "the starter of %s must build", lab)
			outcome := runChecks(t, root, bin, "", false, lab)
			assert.True(t, outcome.anyFailed(), "the starter of %s passes every check of its lab: the lab's steps are not all marked", lab)
			record.add("starter "+lab[:2], outcome)
		}
	})

	if mode == "regions" {
		t.Run("one region left out at a time", func(t *testing.T) {
			regions(t, root, &record, all)
		})
	}

	survivors := record.survivors()
	t.Logf("mutation run: %d checks, %d mutants, %s", len(record.checks), len(record.mutants), record.summary())
	assert.Empty(t, survivors, "these checks passed on every mutant, so they cannot fail: make each assert what the lab's step does in the kernel")
}

// regions runs every region's mutant: first each lab's checks with -failfast, which is
// enough to tell whether any check notices the region, then the checks that have survived
// so far, in full, to see whether this mutant kills them.
func regions(t *testing.T, root string, record *results, wanted []string) {
	lister := exec.Command("go", "run", "./scripts/starter", "-repo", root, "-list")
	lister.Dir = root
	list, err := lister.Output()
	require.NoError(t, err)
	var unnoticed []string
	for line := range strings.SplitSeq(strings.TrimSpace(string(list)), "\n") {
		where, rest, _ := strings.Cut(line, " ")
		marker, hint, _ := strings.Cut(rest, " ")
		lab := labOfRegion(where, marker, labs(t))
		if lab == "" || !slices.Contains(wanted, lab) {
			continue // the kit's own examples, lab 08's, or a lab not asked for
		}
		tree := filepath.Join(t.TempDir(), "mutant")
		writer := exec.Command("go", "run", "./scripts/starter", "-repo", root, "-mutant", where, tree)
		writer.Dir = root
		out, err := writer.CombinedOutput()
		require.NoError(t, err, "starter -mutant %s:\n%s", where, out)
		bin := buildLab(t, tree, lab)
		if bin == "" {
			continue // does not build without the region: noticed by the compiler
		}
		mutant := "region " + where
		outcome := runChecks(t, root, bin, "", true, lab)
		if !outcome.anyFailed() {
			unnoticed = append(unnoticed, fmt.Sprintf("%s (lab %s: %s)", where, marker, hint))
		}
		if survivors := record.survivors(); len(survivors) > 0 {
			outcome = runChecks(t, root, bin, runPattern(survivors), false, lab)
		}
		record.add(mutant, outcome)
	}
	t.Logf("regions no check notices (%d):\n%s", len(unnoticed), strings.Join(unnoticed, "\n"))
}

// labOfRegion is the lab whose checks grade a region: the lab of the folder that holds it,
// or for the library, the lab of its marker.
func labOfRegion(where, marker string, all []string) string {
	dir, _, _ := strings.Cut(where, "/")
	for _, lab := range all {
		if dir == lab || (dir == "labs" && strings.HasPrefix(lab, marker+"-")) {
			if lab >= "08" {
				return ""
			}
			return lab
		}
	}
	return ""
}

// buildLab builds the lab's program from tree into a new directory and returns it, or ""
// if it does not build.
func buildLab(t *testing.T, tree, lab string) string {
	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(bin, lab), "./"+lab)
	build.Dir, build.Env = tree, append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Logf("%s does not build in %s: %v\n%s", lab, tree, err, out)
		return ""
	}
	return bin
}

// outcome maps each check ("01-chroot: ps fails ...") to pass, fail or skip.
type outcome map[string]string

func (o outcome) anyFailed() bool {
	for _, r := range o {
		if r == "fail" {
			return true
		}
	}
	return false
}

// runChecks runs the checks of the labs against the binaries in bin (as LAB_BIN) and
// returns each leaf check's result. run, if not empty, selects checks (go test -run).
func runChecks(t *testing.T, root, bin, run string, failfast bool, labs ...string) outcome {
	args := []string{"test", "-json", "-count=1", "-p=1", "-timeout=20m"}
	if run != "" {
		args = append(args, "-run", run)
	}
	if failfast {
		args = append(args, "-failfast")
	}
	for _, l := range labs {
		args = append(args, "./"+l+"/...")
	}
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), labtest.EnvBinDir+"="+bin)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	start := time.Now()
	require.NoError(t, cmd.Start())
	o := parseEvents(stdout)
	_ = cmd.Wait() // a mutant fails checks: that is the point
	t.Logf("%v against %s: %d checks in %s", labs, bin, len(o), time.Since(start).Round(time.Second))
	return o
}

func parseEvents(r io.Reader) outcome {
	results := map[string]string{} // "pkg test" -> result
	scanner := bufio.NewScanner(r)
	scanner.Buffer(make([]byte, 1024*1024), 16*1024*1024)
	for scanner.Scan() {
		var e struct{ Action, Package, Test string }
		if json.Unmarshal(scanner.Bytes(), &e) != nil || e.Test == "" {
			continue
		}
		switch e.Action {
		case "run":
			if _, ok := results[e.Package+" "+e.Test]; !ok {
				results[e.Package+" "+e.Test] = "fail" // until it reports: a test that dies fails
			}
		case "pass", "fail", "skip":
			results[e.Package+" "+e.Test] = e.Action
		}
	}
	o := outcome{}
	for key, result := range results {
		leaf := true
		for other := range results {
			if strings.HasPrefix(other, key+"/") {
				leaf = false
				break
			}
		}
		if leaf {
			pkg, test, _ := strings.Cut(key, " ")
			o[pkg[strings.LastIndex(pkg, "/")+1:]+": "+test] = result
		}
	}
	return o
}

// results gathers the outcomes of every mutant.
type results struct {
	checks  map[string]map[string]string // check -> mutant -> result
	mutants []string
}

func (r *results) add(mutant string, o outcome) {
	if r.checks == nil {
		r.checks = map[string]map[string]string{}
	}
	r.mutants = append(r.mutants, mutant)
	for check, result := range o {
		if r.checks[check] == nil {
			r.checks[check] = map[string]string{}
		}
		r.checks[check][mutant] = result
	}
}

// survivors are the checks that no mutant made fail, and that passed on at least one.
func (r *results) survivors() []string {
	var out []string
	for check, byMutant := range r.checks {
		passed, failed := false, false
		for _, result := range byMutant {
			passed = passed || result == "pass"
			failed = failed || result == "fail"
		}
		if passed && !failed {
			out = append(out, check)
		}
	}
	sort.Strings(out)
	return out
}

func (r *results) summary() string {
	killed := map[string]int{}
	for _, byMutant := range r.checks {
		for mutant, result := range byMutant {
			if result == "fail" {
				killed[mutant]++
			}
		}
	}
	var parts []string
	for _, m := range r.mutants {
		parts = append(parts, fmt.Sprintf("%s fails %d", m, killed[m]))
	}
	return strings.Join(parts, "; ")
}

// runPattern is a go test -run pattern that selects exactly the given checks.
func runPattern(checks []string) string {
	var tests []string
	for _, c := range checks {
		_, test, _ := strings.Cut(c, ": ")
		parts := strings.Split(test, "/")
		for i, p := range parts {
			parts[i] = "^" + regexp.QuoteMeta(p) + "$"
		}
		tests = append(tests, strings.Join(parts, "/"))
	}
	// go test -run takes one pattern per level; alternatives at each level select a superset,
	// which is fine: extra checks only add evidence.
	levels := map[int][]string{}
	for _, t := range tests {
		for i, p := range strings.Split(t, "/") {
			if !slices.Contains(levels[i], p) {
				levels[i] = append(levels[i], p)
			}
		}
	}
	var pattern []string
	for i := 0; i < len(levels); i++ {
		pattern = append(pattern, "("+strings.Join(levels[i], "|")+")")
	}
	return strings.Join(pattern, "/")
}
