// Command grade runs the graded checks of the labs and prints one line per check, a score
// per lab and a total. scripts/grade.sh is the way to call it.
//
//	grade [--bin DIR | --src DIR] [--json FILE] [--verbose] [LAB...]
//	grade --from-json FILE [--json FILE] [--verbose]
//	grade --from-json FILE --summary [--verbose]
//
// A check is a leaf test in a lab's folder (a subtest of TestLabNN). With --bin, the checks
// run against the binaries in DIR (a learner's build) instead of the reference source.
// With --src, DIR is a learner's checkout (or starter tree): each lab is built from it into
// a temporary directory, a lab that does not build is reported with the compiler's errors,
// and the checks run against the binaries that did build. Either way the checks, and the
// harness they use, are this repository's: a learner's tree cannot change its own grade.
// --from-json reads the output of an earlier `go test -json` run instead of running the
// tests, so that scripts/test.sh runs every test once and still prints the grades.
// --summary prints, instead of the grades, one line per package with its skipped and failed
// tests, for runs that are not graded (the cgroup v2 VM's: scripts/cgroup2-vm.sh).
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// event is one line of `go test -json` (see `go doc test2json`).
type event struct {
	Action  string
	Package string
	Test    string
	Output  string
}

// Check is the outcome of one graded check.
type Check struct {
	Name   string   `json:"name"`
	Result string   `json:"result"` // pass, fail or skip
	Hints  []string `json:"hints,omitempty"`
	// Stderr is the end of what the lab's program wrote to its standard error in the last
	// run of a failed check (labs/labtest logs it as "stderr| " lines).
	Stderr []string `json:"stderr,omitempty"`
	// Output is the check's full test output, kept for --verbose and the JSON report.
	Output string `json:"output,omitempty"`
}

// Lab is the outcome of one lab's checks.
type Lab struct {
	Name        string  `json:"lab"`
	Checks      []Check `json:"checks"`
	Passed      int     `json:"passed"`
	Failed      int     `json:"failed"`
	Skipped     int     `json:"skipped"`
	BuildFailed bool    `json:"build_failed,omitempty"`
	// Problem explains a lab that produced no checks (tests that did not compile).
	Problem string `json:"problem,omitempty"`
	// BuildError is what the compiler said about the learner's source of the lab (--src).
	BuildError string `json:"build_error,omitempty"`
}

// Report is what --json writes.
type Report struct {
	Binaries string `json:"binaries"`
	// Source is the checkout the binaries were built from (--src).
	Source   string   `json:"source,omitempty"`
	Labs     []Lab    `json:"labs"`
	Passed   int      `json:"passed"`
	Failed   int      `json:"failed"`
	Packages []string `json:"failed_packages,omitempty"`
}

var labPattern = regexp.MustCompile(`^\d\d-[a-z0-9-]+$`)

func main() {
	bin := flag.String("bin", "", "grade the binaries in `DIR` (named like the labs) instead of the reference source")
	src := flag.String("src", "", "build the labs of the checkout in `DIR` (a learner's) and grade those binaries")
	fromJSON := flag.String("from-json", "", "read `go test -json` output from `FILE` (- for stdin) instead of running tests")
	jsonOut := flag.String("json", "", "also write the report as JSON to `FILE`")
	verbose := flag.Bool("verbose", false, "print the full output of failed checks")
	summary := flag.Bool("summary", false, "with --from-json: one line per package and the skipped and failed tests, no grades")
	flag.Parse()

	if *summary {
		os.Exit(summarizeFile(*fromJSON, *verbose))
	}

	if *src != "" && (*bin != "" || *fromJSON != "") {
		fmt.Fprintln(os.Stderr, "grade: --src builds the binaries itself: it goes with neither --bin nor --from-json")
		os.Exit(2)
	}
	code, err := grade(*bin, *src, *fromJSON, *jsonOut, *verbose, flag.Args())
	if err != nil {
		fmt.Fprintln(os.Stderr, "grade:", err)
	}
	os.Exit(code)
}

// summarizeFile runs summarize on a file of events (- for stdin) and returns the exit status.
func summarizeFile(path string, verbose bool) int {
	if path == "" {
		fmt.Fprintln(os.Stderr, "grade: --summary reads the events of --from-json FILE")
		return 2
	}
	in := os.Stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, "grade:", err)
			return 2
		}
		defer f.Close()
		in = f
	}
	failed, err := summarize(in, os.Stdout, verbose)
	if err != nil {
		fmt.Fprintln(os.Stderr, "grade:", err)
		return 2
	}
	if failed {
		return 1
	}
	return 0
}

func grade(bin, src, fromJSON, jsonOut string, verbose bool, labs []string) (int, error) {
	root, err := repoRoot()
	if err != nil {
		return 2, err
	}
	if len(labs) == 0 && fromJSON == "" {
		if labs, err = allLabs(root); err != nil {
			return 2, err
		}
	}
	for _, l := range labs {
		if !labPattern.MatchString(l) {
			return 2, fmt.Errorf("%q is not a lab name (like 01-chroot)", l)
		}
		if _, err := os.Stat(filepath.Join(root, l)); err != nil {
			return 2, fmt.Errorf("no lab %s in %s", l, root)
		}
	}

	var buildErrors map[string]string
	if src != "" {
		if bin, buildErrors, err = buildLabs(src, labs); err != nil {
			return 2, err
		}
		defer os.RemoveAll(bin)
	}

	var events io.Reader
	switch {
	case fromJSON == "-":
		events = os.Stdin
	case fromJSON != "":
		f, err := os.Open(fromJSON)
		if err != nil {
			return 2, err
		}
		defer f.Close()
		events = f
	default:
		out, err := runTests(root, bin, labs)
		if err != nil {
			return 2, err
		}
		events = out
	}

	report, err := collect(events, labs)
	if err != nil {
		return 2, err
	}
	report.Binaries = "reference source"
	switch {
	case src != "":
		report.Binaries = "built from " + src
		report.Source = src
		for i, lab := range report.Labs {
			report.Labs[i].BuildError = buildErrors[lab.Name]
		}
	case bin != "":
		report.Binaries = bin
	}
	print(os.Stdout, report, verbose)
	if jsonOut != "" {
		data, err := json.MarshalIndent(report, "", "  ")
		if err != nil {
			return 2, err
		}
		if err := os.WriteFile(jsonOut, append(data, '\n'), 0o644); err != nil {
			return 2, err
		}
	}
	if report.Failed > 0 || len(report.Packages) > 0 {
		return 1, nil
	}
	return 0, nil
}

func repoRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("find the repository: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("run grade inside the containerlabs repository")
	}
	return filepath.Dir(mod), nil
}

func allLabs(root string) ([]string, error) {
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, err
	}
	var labs []string
	for _, e := range entries {
		if e.IsDir() && labPattern.MatchString(e.Name()) {
			if tests, _ := filepath.Glob(filepath.Join(root, e.Name(), "*_test.go")); len(tests) > 0 {
				labs = append(labs, e.Name())
			}
		}
	}
	return labs, nil
}

// cgoPrograms are built with cgo and linked statically, as scripts/build.sh builds them.
var cgoPrograms = map[string]bool{"08-engine": true, "labs-runc": true}

// buildLabs builds every program of each lab (the lab's main package, and any under its
// folder) from the checkout src into a new temporary directory, named as scripts/build.sh
// names them in bin/, and returns that directory and, per lab, the errors of the programs
// that did not build.
func buildLabs(src string, labs []string) (string, map[string]string, error) {
	src, err := filepath.Abs(src)
	if err != nil {
		return "", nil, err
	}
	if _, err := os.Stat(filepath.Join(src, "go.mod")); err != nil {
		return "", nil, fmt.Errorf("--src %s is not a containerlabs checkout: it has no go.mod", src)
	}
	dir, err := os.MkdirTemp("", "containerlabs-grade-")
	if err != nil {
		return "", nil, err
	}
	failures := map[string]string{}
	for _, lab := range labs {
		list := exec.Command("go", "list", "-f", `{{if eq .Name "main"}}{{.Dir}}{{end}}`, "./"+lab+"/...")
		list.Dir = src
		out, err := list.CombinedOutput()
		if err != nil {
			failures[lab] = firstLines(string(out))
			continue
		}
		for program := range strings.FieldsSeq(string(out)) {
			name := filepath.Base(program)
			args := []string{"build", "-o", filepath.Join(dir, name)}
			env := "CGO_ENABLED=0"
			if cgoPrograms[name] {
				args = append(args, "-tags", "osusergo,netgo", "-ldflags", "-linkmode external -extldflags -static")
				env = "CGO_ENABLED=1"
			}
			build := exec.Command("go", append(args, program)...)
			build.Dir, build.Env = src, append(os.Environ(), env)
			if output, err := build.CombinedOutput(); err != nil {
				failures[lab] += fmt.Sprintf("%s does not build:\n%s", name, firstLines(string(output)))
			}
		}
	}
	return dir, failures, nil
}

// runTests runs the labs' tests once, one package at a time (labs share host resources
// such as the bridge), and returns their JSON event stream.
func runTests(root, bin string, labs []string) (io.Reader, error) {
	args := []string{"test", "-json", "-count=1", "-p=1", "-timeout=30m"}
	for _, l := range labs {
		args = append(args, "./"+l+"/...")
	}
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	cmd.Env = os.Environ()
	if bin != "" {
		abs, err := filepath.Abs(bin)
		if err != nil {
			return nil, err
		}
		cmd.Env = append(cmd.Env, "LAB_BIN="+abs)
	}
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	// go test exits non-zero when a check fails; that is a grade, not an error, so only the
	// event stream matters. Reading it to the end before Wait is what StdoutPipe requires.
	pr, pw := io.Pipe()
	go func() {
		_, err := io.Copy(pw, out)
		_ = cmd.Wait()
		pw.CloseWithError(err)
	}()
	return pr, nil
}

// collect turns the event stream into a report. Only lab packages are graded; for other
// packages a failure is listed so that the caller's exit status reflects it.
func collect(r io.Reader, wanted []string) (*Report, error) {
	type testKey struct{ pkg, test string }
	outputs := map[testKey]*strings.Builder{}
	results := map[testKey]string{}
	var order []testKey
	pkgFailed := map[string]bool{}
	pkgOutput := map[string]*strings.Builder{}

	scanner := bufio.NewScanner(r)
	scanner.Buffer(make([]byte, 1024*1024), 16*1024*1024)
	for scanner.Scan() {
		line := scanner.Bytes()
		var e event
		if err := json.Unmarshal(line, &e); err != nil || e.Package == "" {
			// Build errors arrive as plain text; show them as they are.
			fmt.Fprintln(os.Stderr, string(line))
			continue
		}
		if e.Test == "" {
			if e.Action == "output" {
				if pkgOutput[e.Package] == nil {
					pkgOutput[e.Package] = &strings.Builder{}
				}
				pkgOutput[e.Package].WriteString(e.Output)
			}
			switch e.Action {
			case "fail":
				pkgFailed[e.Package] = true
				fmt.Fprintf(os.Stderr, "FAIL %s\n", e.Package)
			case "pass":
				fmt.Fprintf(os.Stderr, "ok   %s\n", e.Package)
			case "skip":
				fmt.Fprintf(os.Stderr, "-    %s (no tests)\n", e.Package)
			}
			continue
		}
		k := testKey{e.Package, e.Test}
		switch e.Action {
		case "run":
			order = append(order, k)
			outputs[k] = &strings.Builder{}
		case "output":
			if b := outputs[k]; b != nil {
				b.WriteString(e.Output)
			}
		case "pass", "fail", "skip":
			results[k] = e.Action
		}
	}
	if err := scanner.Err(); err != nil {
		return nil, fmt.Errorf("read test events: %w", err)
	}

	report := &Report{}
	labs := map[string]*Lab{}
	var labOrder []string
	for _, name := range wanted {
		labs[name] = &Lab{Name: name}
		labOrder = append(labOrder, name)
	}
	// A lab's checks may live in subpackages too (08-engine/labs-runc): the lab is the
	// first path element after the module that names one.
	labOf := func(pkg string) string {
		name := ""
		for _, part := range strings.Split(pkg, "/")[1:] {
			if labPattern.MatchString(part) {
				name = part
				break
			}
		}
		if name == "" {
			return ""
		}
		if labs[name] == nil {
			labs[name] = &Lab{Name: name}
			labOrder = append(labOrder, name)
		}
		return name
	}
	isLeaf := func(k testKey) bool {
		for other := range results {
			if other.pkg == k.pkg && strings.HasPrefix(other.test, k.test+"/") {
				return false
			}
		}
		return true
	}
	for _, k := range order {
		name := labOf(k.pkg)
		if name == "" || !isLeaf(k) {
			continue
		}
		result := results[k]
		if result == "" {
			result = "fail" // the test binary died (panic, timeout) before reporting
		}
		output := outputs[k].String()
		check := Check{Name: checkName(k.test), Result: result, Output: output}
		if result == "fail" {
			check.Hints = hints(output)
			check.Stderr = stderrTail(output)
		}
		if result == "skip" {
			check.Hints = skipReason(output)
		}
		lab := labs[name]
		lab.Checks = append(lab.Checks, check)
		switch result {
		case "pass":
			lab.Passed++
		case "fail":
			lab.Failed++
		case "skip":
			lab.Skipped++
		}
	}
	for pkg := range pkgFailed {
		name := labOf(pkg)
		if name == "" {
			report.Packages = append(report.Packages, pkg)
			continue
		}
		if lab := labs[name]; len(lab.Checks) == 0 {
			lab.BuildFailed = true
			lab.Problem = "the tests did not build or run"
			if out := pkgOutput[pkg]; out != nil {
				lab.Problem = firstLines(out.String())
			}
		}
	}
	sort.Strings(report.Packages)
	for _, name := range labOrder {
		lab := labs[name]
		if len(lab.Checks) == 0 && !lab.BuildFailed {
			lab.BuildFailed = true
			lab.Problem = "no checks ran (did the tests build?)"
		}
		report.Labs = append(report.Labs, *lab)
		report.Passed += lab.Passed
		report.Failed += lab.Failed
		if lab.BuildFailed {
			report.Failed++
		}
	}
	return report, nil
}

// checkName turns "TestLab01/bash_alone_fails" into "bash alone fails".
func checkName(test string) string {
	if _, sub, ok := strings.Cut(test, "/"); ok {
		test = sub
	}
	return strings.ReplaceAll(test, "_", " ")
}

// hints extracts the advice from a failed check's output: first the TODOs of a starter
// tree that the lab's binary ran into ("TODO(lab 04): ..."), then the check's own "hint:
// ..." lines, or, if there are neither, its first error line.
func hints(output string) []string {
	var found []string
	seen := map[string]bool{}
	for _, marker := range []string{"TODO(lab ", "hint: "} {
		for line := range strings.SplitSeq(output, "\n") {
			i := strings.Index(line, marker)
			if i < 0 {
				continue
			}
			hint := strings.TrimSpace(line[i:])
			if marker == "hint: " {
				hint = strings.TrimSpace(strings.TrimPrefix(hint, marker))
			} else {
				hint = unquoteTail(hint)
			}
			if !seen[hint] {
				seen[hint] = true
				found = append(found, hint)
			}
		}
	}
	if len(found) == 0 {
		for line := range strings.SplitSeq(output, "\n") {
			line = strings.TrimSpace(line)
			if line == "" || strings.HasPrefix(line, "=== ") || strings.HasPrefix(line, "--- ") {
				continue
			}
			if len(line) > 200 {
				line = line[:200] + "..."
			}
			return []string{line}
		}
	}
	return found
}

// stderrTail returns the lines of the program's standard error that a failed check quoted.
func stderrTail(output string) []string {
	var lines []string
	for line := range strings.SplitSeq(output, "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "stderr| "); ok {
			lines = append(lines, rest)
		}
	}
	return lines
}

// unquoteTail turns a line's end that is part of a quoted string, as testify prints the
// output it compared (`TODO(lab 03): start the child\n" does not contain "x"`), back into
// the line the program wrote: up to the escaped newline, with its quotes unescaped.
func unquoteTail(s string) string {
	if line, _, quoted := strings.Cut(s, `\n`); quoted {
		return strings.ReplaceAll(line, `\"`, `"`)
	}
	return s
}

func skipReason(output string) []string {
	for line := range strings.SplitSeq(output, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "=== ") || strings.HasPrefix(line, "--- ") {
			continue
		}
		// "chroot_test.go:25: needs root: ..." -> "needs root: ..."
		if _, rest, ok := strings.Cut(line, ": "); ok && strings.Contains(line[:strings.Index(line, ": ")], ".go:") {
			line = rest
		}
		return []string{line}
	}
	return nil
}

// firstLines keeps the first lines of a tool's output, which say what went wrong first.
func firstLines(text string) string {
	lines := strings.Split(strings.TrimSpace(text), "\n")
	if len(lines) > 6 {
		lines = lines[:6]
	}
	return strings.Join(lines, "\n")
}

func print(w io.Writer, report *Report, verbose bool) {
	fmt.Fprintf(w, "\ngraded checks (%s)\n", report.Binaries)
	for _, lab := range report.Labs {
		fmt.Fprintf(w, "\n%s\n", lab.Name)
		if lab.BuildError != "" {
			fmt.Fprintf(w, "  your source does not build; these checks ran without it:\n        %s\n",
				strings.ReplaceAll(strings.TrimSpace(lab.BuildError), "\n", "\n        "))
		}
		for _, c := range lab.Checks {
			mark := map[string]string{"pass": "pass", "fail": "FAIL", "skip": "skip"}[c.Result]
			fmt.Fprintf(w, "  %s  %s\n", mark, c.Name)
			for _, h := range c.Hints {
				fmt.Fprintf(w, "        %s\n", h)
			}
			// The end of the program's stderr, less what the hints already said (the TODOs).
			var tail []string
			for _, l := range c.Stderr {
				if !slices.Contains(c.Hints, strings.TrimSpace(l)) {
					tail = append(tail, l)
				}
			}
			if !verbose && len(tail) > 0 {
				fmt.Fprintf(w, "        the program's stderr ended with:\n")
				for _, l := range tail {
					fmt.Fprintf(w, "        | %s\n", l)
				}
			}
			if verbose && c.Result == "fail" {
				for line := range strings.SplitSeq(strings.TrimRight(c.Output, "\n"), "\n") {
					fmt.Fprintf(w, "        | %s\n", line)
				}
			}
		}
		if lab.BuildFailed {
			fmt.Fprintf(w, "  FAIL  %s\n", strings.ReplaceAll(lab.Problem, "\n", "\n        "))
		}
	}
	fmt.Fprintln(w)
	for _, lab := range report.Labs {
		line := fmt.Sprintf("%s: %d/%d", lab.Name, lab.Passed, lab.Passed+lab.Failed)
		if lab.Skipped > 0 {
			line += fmt.Sprintf(" (%d skipped)", lab.Skipped)
		}
		if lab.BuildFailed {
			line += " (tests did not run)"
		}
		if lab.BuildError != "" {
			line += " (your source did not build)"
		}
		fmt.Fprintln(w, line)
	}
	for _, pkg := range report.Packages {
		fmt.Fprintf(w, "FAIL package %s\n", pkg)
	}
	fmt.Fprintf(w, "%d passed, %d failed\n", report.Passed, report.Failed)
}
