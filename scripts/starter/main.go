// Command starter writes a learner's starter tree for one lab: a copy of the repository in
// which the code that lab teaches, and the code of every later lab, is replaced by a TODO
// with a hint, while the labs before it keep their solutions. scripts/starter.sh is the way
// to call it.
//
//	starter [-repo DIR] LAB OUTDIR        LAB is 4, 04 or 04-cgroups
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
// holds the solutions of all the labs before it.
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
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: starter [-repo DIR] LAB OUTDIR   (LAB is 4, 04 or 04-cgroups)")
	}
	flag.Parse()
	if flag.NArg() != 2 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*repo, flag.Arg(0), flag.Arg(1)); err != nil {
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
	todos, err := copyTree(repo, out, lab, labs)
	if err != nil {
		return err
	}
	if err := writeGuide(out, lab, labs, todos); err != nil {
		return err
	}
	build := exec.Command("go", "build", "./...")
	build.Dir, build.Env = out, append(os.Environ(), "CGO_ENABLED=0")
	if output, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("the starter in %s does not build (a region's starter code is wrong):\n%s", out, output)
	}
	fmt.Printf("starter for %s in %s: %s; %d TODOs from lab %02d on (see STARTER.md); it builds\n",
		labs[lab], out, solvedText(lab, labs), len(todos), lab)
	return nil
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

// copyTree copies the repository into out, with the regions of lab and later labs replaced
// in every Go file, and returns the TODOs it left, in file order.
func copyTree(repo, out string, lab int, labs map[int]string) ([]todo, error) {
	var todos []todo
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
		if strings.HasSuffix(rel, ".go") && !strings.HasSuffix(rel, "_test.go") {
			starter, found, err := transform(filepath.ToSlash(rel), data, lab)
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
	slices.SortStableFunc(todos, func(a, b todo) int { return a.Lab - b.Lab })
	return todos, err
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
