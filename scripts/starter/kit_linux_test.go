package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"containerlabs/labs/labtest"
)

// report is the part of scripts/grade's JSON report this test reads.
type report struct {
	Source string `json:"source"`
	Labs   []struct {
		Name   string `json:"lab"`
		Passed int    `json:"passed"`
		Failed int    `json:"failed"`
		Checks []struct {
			Name   string   `json:"name"`
			Result string   `json:"result"`
			Hints  []string `json:"hints"`
		} `json:"checks"`
	} `json:"labs"`
}

// starter runs scripts/starter.sh lab dir, which fails unless the tree it writes builds.
func starter(t *testing.T, repo, lab, dir string) {
	cmd := exec.Command(filepath.Join(repo, "scripts/starter.sh"), lab, dir)
	output, err := cmd.CombinedOutput()
	require.NoError(t, err, "scripts/starter.sh %s must write a tree that builds:\n%s", lab, output)
}

// gradeSource runs scripts/grade.sh --src dir --json on the labs and returns the report.
func gradeSource(t *testing.T, repo, dir string, labs ...string) report {
	out := filepath.Join(t.TempDir(), "report.json")
	args := append([]string{"--src", dir, "--json", out}, labs...)
	cmd := exec.Command(filepath.Join(repo, "scripts/grade.sh"), args...)
	cmd.Dir = repo
	output, _ := cmd.CombinedOutput() // a starter fails checks: the exit status says so
	data, err := os.ReadFile(out)
	require.NoError(t, err, "grade.sh --src wrote no JSON report:\n%s", output)
	var r report
	require.NoError(t, json.Unmarshal(data, &r))
	require.Len(t, r.Labs, len(labs), "one lab report per lab graded:\n%s", output)
	assert.Equal(t, dir, r.Source, "the report names the graded checkout")
	for _, lab := range r.Labs {
		require.Positive(t, lab.Passed+lab.Failed, "no check of %s ran:\n%s", lab.Name, output)
	}
	return r
}

// TestStarterKit is the kit's own test: a generated starter builds, and grade.sh --src
// scores the labs it solves at full marks and the lab it leaves to the learner below. (The
// reference itself scores full marks in scripts/test.sh's grades; scripts/kit's mutation
// run grades each lab's starter on that lab.)
func TestStarterKit(t *testing.T) {
	labtest.RequireRoot(t)
	repo, err := labtest.RepoRoot()
	require.NoError(t, err)
	labs, err := markedLabs(repo)
	require.NoError(t, err)
	for n := 1; n <= 7; n++ {
		require.NotEmpty(t, labs[n], "lab %02d has no marked steps: the starter would give it away", n)
	}

	t.Run("a later lab's starter holds the solutions of the labs before it", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "starter")
		starter(t, repo, "05-overlay", dir)
		assert.FileExists(t, filepath.Join(dir, "STARTER.md"), "the starter lists its TODOs in STARTER.md")
		r := gradeSource(t, repo, dir, labs[4], labs[5])
		solved, todo := r.Labs[0], r.Labs[1]
		assert.Zero(t, solved.Failed, fmt.Sprintf("lab 05's starter should solve %s (%d/%d)", solved.Name, solved.Passed, solved.Passed+solved.Failed))
		assert.Positive(t, solved.Passed)
		assert.Positive(t, todo.Failed, "lab 05's starter should leave %s's steps to the learner", todo.Name)
	})

	t.Run("a correct solution written differently from the reference scores full marks", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "starter")
		starter(t, repo, "03", dir)
		for _, e := range anotherSolution {
			e.apply(t, dir)
		}
		build := exec.Command("go", "vet", "./03-namespaces", "./labs/...")
		build.Dir = dir
		out, err := build.CombinedOutput()
		require.NoError(t, err, "the other solution must build:\n%s", out)
		r := gradeSource(t, repo, dir, labs[3])
		assert.Zero(t, r.Labs[0].Failed, "the checks must accept any correct solution, not only the reference's way (%d/%d)",
			r.Labs[0].Passed, r.Labs[0].Passed+r.Labs[0].Failed)
		for _, c := range r.Labs[0].Checks {
			if c.Result == "fail" {
				t.Logf("failed: %s: %v", c.Name, c.Hints)
			}
		}
	})
}
