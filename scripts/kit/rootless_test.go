package kit

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// tableAfter returns the first Markdown table after the line heading in file.
func tableAfter(t *testing.T, file, heading string) string {
	data, err := os.ReadFile(file)
	require.NoError(t, err)
	_, rest, found := strings.Cut(string(data), "\n"+heading+"\n")
	require.True(t, found, "%s has no %q", file, heading)
	var rows []string
	for line := range strings.SplitSeq(rest, "\n") {
		if strings.HasPrefix(line, "|") {
			rows = append(rows, line)
		} else if len(rows) > 0 {
			break
		}
	}
	require.NotEmpty(t, rows, "%s has no table after %q", file, heading)
	return strings.Join(rows, "\n")
}

// TestRootlessTables keeps each walkthrough's table of what runs without root in step with
// docs/vm.md's, and the Korean walkthroughs' tables with each other.
func TestRootlessTables(t *testing.T) {
	root := repo(t)
	want := tableAfter(t, filepath.Join(root, "docs", "vm.md"), "## What works without root")
	var korean string
	for _, lab := range labs(t) {
		got := tableAfter(t, filepath.Join(root, lab, "README.md"), "### Without root")
		assert.Equal(t, want, got, "%s/README.md's table of what runs without root differs from docs/vm.md's: copy it", lab)
		ko := tableAfter(t, filepath.Join(root, lab, "README.ko.md"), "### root 없이")
		if korean == "" {
			korean = ko
		}
		assert.Equal(t, korean, ko, "%s/README.ko.md's table of what runs without root differs from %s's", lab, labs(t)[0])
	}
}
