// Command starter writes a learner's starter tree for one lab: a copy of the repository in
// which the code that lab teaches, and the code of every later lab, is replaced by a TODO
// with a hint, while the labs before it keep their solutions. scripts/starter.sh is the way
// to call it.
//
//	starter [-repo DIR] LAB OUTDIR        LAB is 4, 04 or 04-cgroups
//	starter [-repo DIR] -list             list every marked region: FILE:LINE LAB HINT
//	starter [-repo DIR] -mutant FILE:LINE OUTDIR
//	                                      the reference with only the region that begins at
//	                                      FILE:LINE replaced, for the kit's mutation run
//	                                      (scripts/kit), which builds what it grades
//
// The lesson's code is marked in the reference solution with comments, so the reference
// compiles and runs exactly as without them:
//
//	// lab:04 begin: create the container's cgroup with its limits (cgroup.New)
//	...the solution...
//	// lab:04 starter:
//	// ...optional replacement code, commented out...
//	// lab:04 end
//
// Markers go in Go files other than tests. In the starter a region of lab 4 or later becomes "// TODO(lab 04): HINT" followed by
// its replacement code. Without a starter section the replacement is a return of zero
// values and errors.New("TODO(lab 04): HINT") when the region ends a function that returns
// an error (a panic with that message when it returns something else), and nothing at all
// otherwise: the step is skipped. Imports the starter no longer uses are removed. So every
// binary of the starter builds and runs, and each unfinished step fails its checks with
// the hint. Regions of earlier labs keep their code, without the markers.
//
// Later labs are blanked too, not left out: a learner works through the whole day in one
// tree, and one who falls behind generates the starter of the lab the room is on, which
// holds the solutions of all the labs before it. Each lab's main.go repeats the steps of
// the labs before it, marked with those labs' numbers, so lab 04's main.go is no answer
// key to lab 03; and the lab diffs of docs/diffs (the answer, by construction) are
// replaced by a note for the labs still to do. The starter refuses to write a tree in
// which any line of a blanked solution is left (a line that appears nowhere in the
// reference outside a marked region), in the Go code or the diffs.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// leftOut are the parts of the repository the starter does not contain: lab 08 and the
// packages only it uses. The engine is the labs put together, to read and run, not to fill
// in; a starter tree covers the workshop's labs 01-07.
var leftOut = []string{".git", "bin", "08-engine", "labs/engine", "labs/runtime", "labs/build", "labs/compose"}

var labDir = regexp.MustCompile(`^(\d\d)-[a-z0-9-]+$`)

func main() {
	repo := flag.String("repo", ".", "the reference `checkout` to copy")
	list := flag.Bool("list", false, "list every marked region (FILE:LINE LAB HINT) and exit")
	mutant := flag.String("mutant", "", "write the reference with only the region at `FILE:LINE` replaced")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: starter [-repo DIR] LAB OUTDIR   (LAB is 4, 04 or 04-cgroups)")
		fmt.Fprintln(os.Stderr, "       starter [-repo DIR] -list | -mutant FILE:LINE OUTDIR")
	}
	flag.Parse()
	var err error
	switch {
	case *list && flag.NArg() == 0:
		err = listRegions(*repo)
	case *mutant != "" && flag.NArg() == 1:
		err = writeMutant(*repo, *mutant, flag.Arg(0))
	case !*list && *mutant == "" && flag.NArg() == 2:
		err = run(*repo, flag.Arg(0), flag.Arg(1))
	default:
		flag.Usage()
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "starter:", err)
		os.Exit(1)
	}
}

func run(repo, labArg, out string) error {
	if _, err := os.Stat(filepath.Join(repo, "go.mod")); err != nil {
		return fmt.Errorf("%s is not the containerlabs repository (no go.mod)", repo)
	}
	labs, err := markedLabs(repo)
	if err != nil {
		return err
	}
	lab, err := parseLab(labArg, labs)
	if err != nil {
		return err
	}
	if err := makeEmptyDir(out); err != nil {
		return err
	}
	p := plan{blank: func(_ string, r region) bool { return r.lab >= lab }, hideDiffsFrom: lab}
	todos, err := copyTree(repo, out, p, labs)
	if err != nil {
		return err
	}
	if err := writeGuide(out, lab, labs, todos); err != nil {
		return err
	}
	if err := build(out); err != nil {
		return err
	}
	fmt.Printf("starter for %s in %s: %s; %d TODOs from lab %02d on (see STARTER.md); it builds\n",
		labs[lab], out, solvedText(lab, labs), len(todos), lab)
	return nil
}

func build(out string) error {
	build := exec.Command("go", "build", "./...")
	build.Dir, build.Env = out, append(os.Environ(), "CGO_ENABLED=0")
	if output, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("the tree in %s does not build (a region's starter code is wrong):\n%s", out, output)
	}
	return nil
}

// listRegions prints every marked region of the reference: where it begins, its lab, its hint.
func listRegions(repo string) error {
	return walkGo(repo, func(rel string, src []byte) error {
		regions, err := parseRegions(rel, strings.Split(string(src), "\n"))
		for _, r := range regions {
			fmt.Printf("%s:%d %02d %s\n", rel, r.begin, r.lab, r.hint)
		}
		return err
	})
}

// writeMutant writes the reference with one region, the one that begins at FILE:LINE,
// replaced as a starter would replace it: a program that lacks exactly that step.
func writeMutant(repo, where, out string) error {
	file, line, ok := strings.Cut(where, ":")
	n, err := strconv.Atoi(line)
	if !ok || err != nil {
		return fmt.Errorf("-mutant %q: want FILE:LINE, the line of a region's begin marker", where)
	}
	labs, err := markedLabs(repo)
	if err != nil {
		return err
	}
	if err := makeEmptyDir(out); err != nil {
		return err
	}
	found := false
	p := plan{blank: func(f string, r region) bool {
		hit := f == filepath.ToSlash(file) && r.begin == n
		found = found || hit
		return hit
	}}
	if _, err := copyTree(repo, out, p, labs); err != nil {
		return err
	}
	if !found {
		return fmt.Errorf("-mutant %s: no region begins there (see -list)", where)
	}
	return nil // not built here: the mutation run builds the one program it grades
}

// walkGo calls f with every Go source file of the repository that is not a test, by its
// path relative to repo, skipping what the starter leaves out.
func walkGo(repo string, f func(rel string, src []byte) error) error {
	return filepath.WalkDir(repo, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(repo, path)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if slices.Contains(leftOut, rel) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() || !strings.HasSuffix(rel, ".go") || strings.HasSuffix(rel, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return f(rel, src)
	})
}

// markedLabs maps the number of each lab that has marked regions to its folder's name.
func markedLabs(repo string) (map[int]string, error) {
	entries, err := os.ReadDir(repo)
	if err != nil {
		return nil, err
	}
	labs := map[int]string{}
	for _, e := range entries {
		m := labDir.FindStringSubmatch(e.Name())
		if m == nil || !e.IsDir() || slices.Contains(leftOut, e.Name()) {
			continue
		}
		src, err := os.ReadFile(filepath.Join(repo, e.Name(), "main.go"))
		if err != nil {
			continue
		}
		n, _ := strconv.Atoi(m[1])
		if strings.Contains(string(src), fmt.Sprintf("// lab:%02d begin:", n)) {
			labs[n] = e.Name()
		}
	}
	if len(labs) == 0 {
		return nil, fmt.Errorf("no lab in %s has marked regions", repo)
	}
	return labs, nil
}

func parseLab(arg string, labs map[int]string) (int, error) {
	number, _, _ := strings.Cut(arg, "-")
	n, err := strconv.Atoi(number)
	if err == nil && labs[n] != "" && (!strings.Contains(arg, "-") || strings.TrimSuffix(arg, "/") == labs[n]) {
		return n, nil
	}
	var names []string
	for _, n := range slices.Sorted(maps.Keys(labs)) {
		names = append(names, labs[n])
	}
	return 0, fmt.Errorf("%q is not a lab with a starter (one of %s)", arg, strings.Join(names, ", "))
}

// makeEmptyDir creates out, or accepts it if it exists and is empty: the starter never
// writes over a learner's files.
func makeEmptyDir(out string) error {
	entries, err := os.ReadDir(out)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return os.MkdirAll(out, 0o755)
	case err != nil:
		return err
	case len(entries) > 0:
		return fmt.Errorf("%s is not empty: give a new directory (the starter never overwrites files)", out)
	}
	return nil
}

// plan says which regions a copy replaces, and from which lab on the lab diffs are hidden
// (0: none).
type plan struct {
	blank         func(file string, r region) bool
	hideDiffsFrom int
}

var labDiff = regexp.MustCompile(`^docs/diffs/(\d\d)-[a-z0-9-]+\.diff$`)

// copyTree copies the repository into out, with the regions the plan blanks replaced in
// every Go file, and returns the TODOs it left, in file order. When the plan hides lab
// diffs, it also makes sure that no line of a blanked solution is left in the tree.
func copyTree(repo, out string, p plan, labs map[int]string) ([]todo, error) {
	var todos []todo
	answers := map[string]string{} // a blanked solution's line -> where it came from
	common := map[string]bool{}    // every line of the reference outside the regions
	err := filepath.WalkDir(repo, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(repo, path)
		if err != nil || rel == "." {
			return err
		}
		if slices.Contains(leftOut, filepath.ToSlash(rel)) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		target := filepath.Join(out, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return os.MkdirAll(target, info.Mode().Perm())
		case d.Type()&fs.ModeSymlink != 0:
			link, err := os.Readlink(path)
			if err != nil {
				return err
			}
			return os.Symlink(link, target)
		case !d.Type().IsRegular() || strings.HasSuffix(rel, ".test") || strings.HasSuffix(rel, ".out"):
			return nil // build leftovers, as .gitignore lists them
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		slashed := filepath.ToSlash(rel)
		if m := labDiff.FindStringSubmatch(slashed); m != nil && p.hideDiffsFrom != 0 {
			if n, _ := strconv.Atoi(m[1]); n >= p.hideDiffsFrom {
				data = []byte(fmt.Sprintf("This diff is the answer to lab %s, which this starter tree leaves to you.\n"+
					"Once you are done, compare with the reference: scripts/labdiff.sh %s, in the reference checkout.\n", m[1], m[1]))
			}
		}
		if strings.HasSuffix(rel, ".go") && !strings.HasSuffix(rel, "_test.go") {
			blank := func(r region) bool { return p.blank(slashed, r) }
			collectLines(slashed, data, blank, answers, common)
			starter, found, err := transformRegions(slashed, data, blank)
			if err != nil {
				return err
			}
			for _, t := range found {
				if labs[t.Lab] == "" {
					return fmt.Errorf("%s:%d: a region of lab %02d, whose main.go has no regions: mark the lab's own steps too", t.File, t.Line, t.Lab)
				}
			}
			if starter != nil {
				data = starter
				todos = append(todos, found...)
			}
		}
		return os.WriteFile(target, data, info.Mode().Perm())
	})
	if err != nil {
		return nil, err
	}
	slices.SortStableFunc(todos, func(a, b todo) int { return a.Lab - b.Lab })
	if p.hideDiffsFrom != 0 {
		for line := range common {
			delete(answers, line)
		}
		if leaks := findLeaks(out, answers); len(leaks) > 0 {
			return nil, fmt.Errorf("the starter would give answers away; mark these lines in the reference as the lab's regions:\n  %s", strings.Join(leaks, "\n  "))
		}
	}
	return todos, nil
}

// collectLines records the code lines of the regions blank chooses (answers) and of
// everything outside regions (common), trimmed; comments and short lines (a brace, "return
// nil") say nothing of an answer and are left out.
func collectLines(file string, src []byte, blank func(region) bool, answers map[string]string, common map[string]bool) {
	lines := strings.Split(string(src), "\n")
	regions, err := parseRegions(file, lines)
	if err != nil {
		return // transform reports it
	}
	inRegion := make([]bool, len(lines)+1)
	for _, r := range regions {
		for n := r.begin; n <= r.stop; n++ {
			inRegion[n] = true
		}
		if !blank(r) {
			continue
		}
		given := map[string]bool{} // what the region's starter code hands out anyway
		for _, l := range r.starter {
			given[significant(l)] = true
		}
		for n := r.begin + 1; n < r.stop; n++ {
			if line := significant(lines[n-1]); line != "" && !given[line] {
				answers[line] = fmt.Sprintf("%s:%d (lab %02d)", file, n, r.lab)
			}
		}
	}
	for i, l := range lines {
		if !inRegion[i+1] {
			if line := significant(l); line != "" {
				common[line] = true
			}
		}
	}
}

func significant(line string) string {
	line = strings.TrimSpace(line)
	if len(line) < 16 || strings.HasPrefix(line, "//") {
		return ""
	}
	return line
}

// findLeaks looks through the Go code (tests aside) and the lab diffs of the tree at out for
// any of the answers' lines.
func findLeaks(out string, answers map[string]string) []string {
	var leaks []string
	_ = filepath.WalkDir(out, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(out, path)
		isGo := strings.HasSuffix(rel, ".go") && !strings.HasSuffix(rel, "_test.go")
		if !isGo && !labDiff.MatchString(filepath.ToSlash(rel)) {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return nil
		}
		for i, l := range strings.Split(string(data), "\n") {
			l = strings.TrimLeft(l, "+- ")
			if from, ok := answers[significant(l)]; ok {
				leaks = append(leaks, fmt.Sprintf("%s:%d repeats %s", rel, i+1, from))
			}
		}
		return nil
	})
	return leaks
}

func solvedText(lab int, labs map[int]string) string {
	var solved []string
	for _, n := range slices.Sorted(maps.Keys(labs)) {
		if n < lab {
			solved = append(solved, labs[n])
		}
	}
	switch len(solved) {
	case 0:
		return "no lab solved"
	case 1:
		return solved[0] + " solved"
	}
	return fmt.Sprintf("%s to %s solved", solved[0], solved[len(solved)-1])
}

// writeGuide writes STARTER.md: how to work in the tree, and the TODOs lab by lab.
func writeGuide(out string, lab int, labs map[int]string, todos []todo) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# Starter kit: from %s\n\n", labs[lab])
	fmt.Fprintf(&b, "This tree was generated by `scripts/starter.sh %02d` from the reference solution (%s).\n", lab, solvedText(lab, labs))
	b.WriteString(`Every step left to you is a ` + "`TODO(lab NN)`" + ` comment with a hint, listed below; the
walkthrough of each lab (NN-name/README.md) explains what the step does and why. Find a
lab's steps with:

` + fmt.Sprintf("    grep -rn 'TODO(lab %02d)' .\n", lab) + `
Build and try your lab as the walkthrough shows, then grade it from the reference checkout,
whose checks are the judge (it builds this tree and runs the checks against your binaries):

` + fmt.Sprintf("    sudo scripts/grade.sh --src %s %s\n", "/path/to/this/tree", labs[lab]) + `
Each lab's main.go repeats the steps of the labs before it, as the ladder goes (lab N is
lab N-1 plus one step). Those steps are TODOs here too, under their own lab's number: when
you reach the next lab, fill them in as you did before (copy them from your own main.go).
A step you have not done yet says so on stderr when the program reaches it:
` + "`TODO(lab NN): ... (skipped)`" + `.

Fallen behind? From the reference checkout, ` + "`scripts/starter.sh NN NEWDIR`" + ` writes a new tree in
which every lab before NN is solved.
`)
	current := 0
	for _, t := range todos {
		if t.Lab != current {
			current = t.Lab
			fmt.Fprintf(&b, "\n## %s\n\n", labs[t.Lab])
		}
		fmt.Fprintf(&b, "- [ ] %s:%d: %s\n", t.File, t.Line, t.Hint)
	}
	return os.WriteFile(filepath.Join(out, "STARTER.md"), []byte(b.String()), 0o644)
}
