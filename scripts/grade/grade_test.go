package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"containerlabs/scripts/i18n"
)

func TestCollectScoresLeafChecks(t *testing.T) {
	events := strings.Join([]string{
		`{"Action":"run","Package":"containerlabs/01-chroot","Test":"TestLab01"}`,
		`{"Action":"run","Package":"containerlabs/01-chroot","Test":"TestLab01/good_check"}`,
		`{"Action":"pass","Package":"containerlabs/01-chroot","Test":"TestLab01/good_check"}`,
		`{"Action":"run","Package":"containerlabs/01-chroot","Test":"TestLab01/bad_check"}`,
		`{"Action":"output","Package":"containerlabs/01-chroot","Test":"TestLab01/bad_check","Output":"        \tMessages:   \thint: mount /proc first\n"}`,
		`{"Action":"output","Package":"containerlabs/01-chroot","Test":"TestLab01/bad_check","Output":"        stderr| 01-chroot: pivot_root: invalid argument\n"}`,
		`{"Action":"fail","Package":"containerlabs/01-chroot","Test":"TestLab01/bad_check"}`,
		`{"Action":"run","Package":"containerlabs/01-chroot","Test":"TestLab01/skipped_check"}`,
		`{"Action":"output","Package":"containerlabs/01-chroot","Test":"TestLab01/skipped_check","Output":"    x_test.go:12: needs root: run with sudo\n"}`,
		`{"Action":"skip","Package":"containerlabs/01-chroot","Test":"TestLab01/skipped_check"}`,
		`{"Action":"run","Package":"containerlabs/01-chroot","Test":"TestLab01/died"}`,
		`{"Action":"fail","Package":"containerlabs/01-chroot","Test":"TestLab01"}`,
		`{"Action":"fail","Package":"containerlabs/01-chroot"}`,
		`{"Action":"run","Package":"containerlabs/labs/rootfs","Test":"TestX"}`,
		`{"Action":"fail","Package":"containerlabs/labs/rootfs","Test":"TestX"}`,
		`{"Action":"fail","Package":"containerlabs/labs/rootfs"}`,
	}, "\n")
	report, err := collect(strings.NewReader(events), nil)
	require.NoError(t, err)
	require.Len(t, report.Labs, 1)
	lab := report.Labs[0]
	assert.Equal(t, "01-chroot", lab.Name)
	assert.Equal(t, 1, lab.Passed)
	assert.Equal(t, 2, lab.Failed, "a check that never reported (the test binary died) is a failure")
	assert.Equal(t, 1, lab.Skipped)
	require.Len(t, lab.Checks, 4, "TestLab01 has subtests, so it is not a check itself")
	assert.Equal(t, "bad check", lab.Checks[1].Name)
	assert.Equal(t, []string{"mount /proc first"}, lab.Checks[1].Hints)
	assert.Equal(t, []string{"01-chroot: pivot_root: invalid argument"}, lab.Checks[1].Stderr, "the program's stderr, as the check quoted it")
	assert.Equal(t, []string{"needs root: run with sudo"}, lab.Checks[2].Hints)
	assert.Equal(t, []string{"containerlabs/labs/rootfs"}, report.Packages, "other packages' failures are reported too")
}

// TestBrokenBinariesScoreZero grades lab 01 against a binary that does nothing and against
// a folder with no binary at all: every check must fail with a hint, none may crash.
func TestBrokenBinariesScoreZero(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the lab checks run as root")
	}
	broken := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(broken, "01-chroot"), []byte("#!/bin/sh\nexit 1\n"), 0o755))
	for name, dir := range map[string]string{"broken binary": broken, "no binary": t.TempDir()} {
		t.Run(name, func(t *testing.T) {
			root, err := repoRoot()
			require.NoError(t, err)
			events, err := runTests(root, dir, []string{"01-chroot"})
			require.NoError(t, err)
			report, err := collect(events, []string{"01-chroot"})
			require.NoError(t, err)
			require.Len(t, report.Labs, 1)
			lab := report.Labs[0]
			assert.False(t, lab.BuildFailed)
			assert.Zero(t, lab.Passed)
			assert.Greater(t, lab.Failed, 5)
			for _, c := range lab.Checks {
				assert.NotEmpty(t, c.Hints, "check %q failed without a hint", c.Name)
			}
		})
	}
}

func TestHintsPutAStarterTodoFirst(t *testing.T) {
	output := strings.Join([]string{
		`    x_test.go:40: `,
		`        	Error:      	"04-cgroups: TODO(lab 03): start the child in new namespaces (attr.Cloneflags)\n" does not contain "32"`,
		`        	Messages:   	hint: name the limit in the OOM message`,
		`        	            	--- stderr:`,
		`        	            	04-cgroups: TODO(lab 03): start the child in new namespaces (attr.Cloneflags)`,
		`        	            	02-proc: TODO(lab 02): read the links ("net:[4026531840]")`,
	}, "\n")
	assert.Equal(t, []string{
		"TODO(lab 03): start the child in new namespaces (attr.Cloneflags)",
		`TODO(lab 02): read the links ("net:[4026531840]")`,
		"name the limit in the OOM message",
	}, hints(output), "each TODO once, unquoted, before the check's own hints")
}

func TestSummaryOneLinePerPackage(t *testing.T) {
	events := strings.Join([]string{
		`{"Action":"run","Package":"containerlabs/labs/cgroup","Test":"TestA"}`,
		`{"Action":"pass","Package":"containerlabs/labs/cgroup","Test":"TestA"}`,
		`{"Action":"run","Package":"containerlabs/labs/cgroup","Test":"TestB"}`,
		`{"Action":"output","Package":"containerlabs/labs/cgroup","Test":"TestB","Output":"    b_test.go:9: v2 has one tree\n"}`,
		`{"Action":"skip","Package":"containerlabs/labs/cgroup","Test":"TestB"}`,
		`{"Action":"pass","Package":"containerlabs/labs/cgroup","Elapsed":1.5}`,
		`{"Action":"run","Package":"containerlabs/04-cgroups","Test":"TestLab04"}`,
		`{"Action":"run","Package":"containerlabs/04-cgroups","Test":"TestLab04/oom"}`,
		`{"Action":"output","Package":"containerlabs/04-cgroups","Test":"TestLab04/oom","Output":"        \tMessages:   \thint: set memory.max\n"}`,
		`{"Action":"fail","Package":"containerlabs/04-cgroups","Test":"TestLab04/oom"}`,
		`{"Action":"run","Package":"containerlabs/04-cgroups","Test":"TestLab04/hung"}`,
	}, "\n")
	var out strings.Builder
	failed, err := summarize(strings.NewReader(events), &out, false)
	require.NoError(t, err)
	assert.True(t, failed)
	lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
	require.Len(t, lines, 7, out.String())
	assert.Regexp(t, `^  ok   labs/cgroup +1 passed,  1 skipped,  0 failed  1.5s$`, lines[0])
	assert.Equal(t, "         skip TestB: v2 has one tree", lines[1])
	assert.Regexp(t, `^  FAIL 04-cgroups +0 passed,  0 skipped,  2 failed  did not finish$`, lines[2],
		"a package whose binary never finished failed, and so did its test that never reported")
	assert.Equal(t, "         FAIL TestLab04/hung", lines[3])
	assert.Equal(t, "         FAIL TestLab04/oom", lines[4])
	assert.Equal(t, "           | set memory.max", lines[5])
	assert.Equal(t, "1 passed, 2 failed, 1 skipped", lines[6])
}

// TestReportInKorean prints a report as a Korean learner reads it: check names in Korean
// with the English beside them, a starter's English TODO translated, the totals in Korean.
func TestReportInKorean(t *testing.T) {
	i18n.Use("ko")
	defer i18n.Use("en")
	report := &Report{Binaries: "reference source", Passed: 1, Failed: 1, Labs: []Lab{{
		Name: "01-chroot", Passed: 1, Failed: 1,
		Checks: []Check{
			{Name: "ldd lists the loader and libc of bash", Result: "pass"},
			{Name: "escape chroot is open", Result: "fail", Hints: []string{
				"TODO(lab 01): find the PT_INTERP program header in f.Progs and return its contents without the trailing NUL (\"\" if there is none) (skipped)"}},
		},
	}}}
	var out strings.Builder
	print(&out, report, false)
	text := out.String()
	assert.Contains(t, text, "채점 검사 (참조 소스)")
	assert.Contains(t, text, "통과  "+i18n.Korean()["ldd lists the loader and libc of bash"]+" (ldd lists the loader and libc of bash)")
	assert.Contains(t, text, "실패  탈출 chroot: 열림 (escape chroot is open)")
	assert.Contains(t, text, "TODO(lab 01): f.Progs에서 PT_INTERP")
	assert.Contains(t, text, "(건너뜀)")
	assert.Contains(t, text, "1개 통과, 1개 실패")
}
