package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const sample = `package sample

import (
	"fmt"
	"os"
	"strings"
)

type config struct{ Name string }

// Load reads the config; its whole body is lab 4's.
func Load(path string) (config, *os.File, error) {
	// lab:04 begin: open the file and read the config
	f, err := os.Open(path)
	if err != nil {
		return config{}, nil, fmt.Errorf("open: %w", err)
	}
	return config{Name: strings.ToUpper(path)}, f, nil
	// lab:04 end
}

// Name has no error result.
func Name() string {
	// lab:05 begin: say the name
	return "name"
	// lab:05 end
}

// Steps has a step in the middle, and one with its own starter code.
func Steps() int {
	n := 1
	// lab:03 begin: double it
	n *= 2
	// lab:03 end
	// lab:05 begin: add three, or one in the starter
	n += 3
	// lab:05 starter:
	// n++
	// lab:05 end
	return n
}
`

func TestTransformKeepsEarlierLabsAndReplacesTheRest(t *testing.T) {
	out, todos, err := transform("sample.go", []byte(sample), 4)
	require.NoError(t, err)
	got := string(out)

	assert.Contains(t, got, "\tn *= 2\n", "lab 3 is before lab 4: its solution stays")
	assert.NotContains(t, got, "lab:0", "no marker is left")
	assert.Contains(t, got, "\t// TODO(lab 04): open the file and read the config\n"+
		"\treturn config{}, nil, errors.New(\"TODO(lab 04): open the file and read the config\")\n")
	assert.Contains(t, got, "\tpanic(\"TODO(lab 05): say the name\")\n", "no error result: a panic")
	assert.Contains(t, got, "\t// TODO(lab 05): add three, or one in the starter\n\tn++\n\treturn n\n")
	assert.NotContains(t, got, `"strings"`, "strings was only used by the solution")
	assert.Contains(t, got, "\t\"errors\"\n", "errors is added for the TODO error")
	assert.Contains(t, got, `"os"`, "os is still used in a signature")

	require.Len(t, todos, 3)
	assert.Equal(t, todo{Lab: 4, File: "sample.go", Line: strings.Count(got[:strings.Index(got, "// TODO(lab 04)")], "\n") + 1,
		Hint: "open the file and read the config"}, todos[0])
}

func TestTransformOfTheFirstLabBlanksEverything(t *testing.T) {
	out, todos, err := transform("sample.go", []byte(sample), 1)
	require.NoError(t, err)
	assert.Len(t, todos, 4)
	assert.Contains(t, string(out), "\tn := 1\n\t// TODO(lab 03): double it\n\tfmt.Fprintln(os.Stderr, \"TODO(lab 03): double it (skipped)\")\n\t// TODO(lab 05)",
		"a step in the middle becomes its TODO, which says on stderr that it was skipped")
	assert.Contains(t, string(out), "\t\"fmt\"\n", "fmt is added for the announcement")
}

func TestTransformLeavesUnmarkedFilesAlone(t *testing.T) {
	out, todos, err := transform("plain.go", []byte("package plain\n"), 4)
	require.NoError(t, err)
	assert.Nil(t, out)
	assert.Nil(t, todos)
}

func TestMalformedMarkersAreRefused(t *testing.T) {
	for name, src := range map[string]string{
		"no end":          "package x\n// lab:04 begin: hint\n",
		"no hint":         "package x\n// lab:04 begin:\n// lab:04 end\n",
		"end of another":  "package x\n// lab:04 begin: hint\n// lab:05 end\n",
		"nested":          "package x\n// lab:04 begin: hint\n// lab:05 begin: other\n// lab:05 end\n// lab:04 end\n",
		"code in starter": "package x\nfunc f() {\n// lab:04 begin: hint\n// lab:04 starter:\nx := 1\n// lab:04 end\n}\n",
		"misspelt":        "package x\n// lab:4 begin: hint\n",
	} {
		_, _, err := transform("x.go", []byte(src), 1)
		assert.Error(t, err, name)
	}
}
