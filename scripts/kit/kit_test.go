// Package kit holds the tests that keep the workshop kit in step with the labs: the lab
// diffs the walkthroughs link to, the size of each lab's step, and the Korean walkthroughs.
// It has no code of its own.
package kit

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"containerlabs/labs/labtest"
)

// deltaBudget is how many lines a lab's main.go may add to or remove from the previous
// lab's (the first part of scripts/labdiff.sh's diff; the library code it teaches comes
// after) before the step is too big to follow in one sitting. Lab 08 is exempt: it is not one more step but a new program, the engine's command
// line, whose run is the three calls into labs/engine that its walkthrough reads.
const deltaBudget = 250

var exempt = map[string]string{"08-engine": "a new program: the engine's command line"}

func repo(t *testing.T) string {
	root, err := labtest.RepoRoot()
	require.NoError(t, err)
	return root
}

func labs(t *testing.T) []string {
	dirs, err := filepath.Glob(filepath.Join(repo(t), "[0-9][0-9]-*"))
	require.NoError(t, err)
	var names []string
	for _, d := range dirs {
		names = append(names, filepath.Base(d))
	}
	require.NotEmpty(t, names)
	return names
}

func TestLabDiffs(t *testing.T) {
	root := repo(t)
	for i, lab := range labs(t) {
		t.Run(lab, func(t *testing.T) {
			out, err := exec.Command(filepath.Join(root, "scripts/labdiff.sh"), lab).Output()
			require.NoError(t, err, "scripts/labdiff.sh %s", lab)
			stored, err := os.ReadFile(filepath.Join(root, "docs/diffs", lab+".diff"))
			require.NoError(t, err, "run scripts/labdiff.sh --write to store the diff the walkthrough links to")
			assert.Equal(t, string(stored), string(out),
				"docs/diffs/%s.diff is stale: run scripts/labdiff.sh --write and commit it", lab)

			// The second part, the library code the lab teaches: every lab with marked
			// regions in labs/ shows its system calls.
			steps, syscalls, _ := strings.Cut(string(out), "# What lab ")
			marked, err := exec.Command("grep", "-rl", "--include=*.go", "--exclude=*_test.go", "// lab:"+lab[:2]+" begin", filepath.Join(root, "labs")).Output()
			if err == nil && len(marked) > 0 {
				assert.NotEmpty(t, syscalls, "the diff of %s should show the library code it teaches (labs/, marked lab:%s)", lab, lab[:2])
			}
			walkthrough, err := os.ReadFile(filepath.Join(root, lab, "README.md"))
			require.NoError(t, err)
			assert.True(t, strings.Contains(string(walkthrough), "](../docs/diffs/"+lab+".diff)"),
				"%s/README.md should link to the lab's diff, docs/diffs/%s.diff", lab, lab)
			if i == 0 {
				assert.Empty(t, strings.TrimSpace(steps), "the first lab has no previous main.go to compare with")
				return
			}

			changed := 0
			for line := range strings.SplitSeq(steps, "\n") {
				if (strings.HasPrefix(line, "+") || strings.HasPrefix(line, "-")) &&
					!strings.HasPrefix(line, "+++") && !strings.HasPrefix(line, "---") {
					changed++
				}
			}
			if reason, ok := exempt[lab]; ok {
				t.Logf("%s changes %d lines of the previous main.go; no budget: %s", lab, changed, reason)
			} else {
				assert.LessOrEqual(t, changed, deltaBudget,
					"%s/main.go changes %d lines of the previous lab's: move code into labs/ until the step is small", lab, changed)
			}
		})
	}
}

// outline is what a walkthrough and its translation must share: the level of each heading,
// in order, and every fenced code block, byte for byte.
type outline struct {
	Headings []string
	Code     []string
}

var heading = regexp.MustCompile(`^(#{1,6}) `)

func readOutline(t *testing.T, path string) outline {
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var o outline
	var block *strings.Builder
	scanner := bufio.NewScanner(f)
	for n := 1; scanner.Scan(); n++ {
		line := scanner.Text()
		switch {
		case strings.HasPrefix(line, "```") && block == nil:
			block = &strings.Builder{}
			block.WriteString(line + "\n")
		case strings.HasPrefix(line, "```"):
			block.WriteString(line + "\n")
			o.Code = append(o.Code, block.String())
			block = nil
		case block != nil:
			block.WriteString(line + "\n")
		default:
			if m := heading.FindStringSubmatch(line); m != nil {
				o.Headings = append(o.Headings, fmt.Sprintf("%s (line %d)", m[1], n))
			}
		}
	}
	require.NoError(t, scanner.Err())
	return o
}

func levels(headings []string) []string {
	var out []string
	for _, h := range headings {
		level, _, _ := strings.Cut(h, " ")
		out = append(out, level)
	}
	return out
}

func TestKoreanWalkthroughs(t *testing.T) {
	root := repo(t)
	for _, dir := range append([]string{"."}, labs(t)...) {
		t.Run(filepath.Clean(dir), func(t *testing.T) {
			english := filepath.Join(root, dir, "README.md")
			korean := filepath.Join(root, dir, "README.ko.md")
			if _, err := os.Stat(korean); err != nil {
				t.Fatalf("%s has no Korean walkthrough: translate README.md into README.ko.md", dir)
			}
			en, ko := readOutline(t, english), readOutline(t, korean)
			assert.Equal(t, levels(en.Headings), levels(ko.Headings),
				"the headings of %s/README.ko.md must mirror README.md's, level by level (English: %v; Korean: %v)",
				dir, en.Headings, ko.Headings)
			require.Equal(t, len(en.Code), len(ko.Code),
				"%s/README.ko.md must have README.md's %d code blocks", dir, len(en.Code))
			for i := range en.Code {
				assert.Equal(t, en.Code[i], ko.Code[i],
					"code block %d of %s/README.ko.md differs from README.md's: commands are copied, not translated", i+1, dir)
			}
			enText, err := os.ReadFile(english)
			require.NoError(t, err)
			assert.True(t, strings.Contains(string(enText), "(README.ko.md)"), "%s/README.md should link to its translation", dir)
			koText, err := os.ReadFile(korean)
			require.NoError(t, err)
			assert.True(t, strings.Contains(string(koText), "(README.md)"), "%s/README.ko.md should link back to the English", dir)
		})
	}
}

// TestEscapeMatrices checks that the walkthroughs show the escape gallery's matrix as
// labs/labtest.Gallery expects it: README.md (and its translation) all of it, each lab its
// own column under "What is still open".
func TestEscapeMatrices(t *testing.T) {
	root := repo(t)
	expected := func(labs ...string) string {
		cmd := exec.Command("go", append([]string{"run", "./scripts/escapes", "--expected"}, labs...)...)
		cmd.Dir = root
		out, err := cmd.Output()
		require.NoError(t, err, "go run ./scripts/escapes --expected %v", labs)
		return "```text\n" + string(out) + "```\n"
	}
	for _, readme := range []string{"README.md", "README.ko.md"} {
		data, err := os.ReadFile(filepath.Join(root, readme))
		require.NoError(t, err)
		assert.Contains(t, string(data), expected(), "%s should show the whole matrix: go run ./scripts/escapes --expected", readme)
	}
	for _, lab := range labs(t) {
		column := expected(lab[:2])
		for _, readme := range []string{"README.md", "README.ko.md"} {
			data, err := os.ReadFile(filepath.Join(root, lab, readme))
			require.NoError(t, err)
			assert.Contains(t, string(data), column, "%s/%s should end with the lab's column: go run ./scripts/escapes --expected %s", lab, readme, lab[:2])
		}
	}
}
