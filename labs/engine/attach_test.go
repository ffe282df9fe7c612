package engine

import (
	"bytes"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseDetachKeys(t *testing.T) {
	keys, err := ParseDetachKeys(DefaultDetachKeys)
	require.NoError(t, err)
	assert.Equal(t, []byte{0x10, 0x11}, keys)
	keys, err = ParseDetachKeys("ctrl-@,CTRL-A,q")
	require.NoError(t, err)
	assert.Equal(t, []byte{0, 1, 'q'}, keys)
	for _, bad := range []string{"", "ctrl-1", "ctrl-pq", "alt-x"} {
		_, err := ParseDetachKeys(bad)
		assert.Error(t, err, bad)
	}
}

func TestCopyInputHoldsBackTheDetachSequence(t *testing.T) {
	keys := []byte{0x10, 0x11}
	for input, want := range map[string]struct {
		sent     string
		detached bool
	}{
		"abc\x10\x11ignored": {"abc", true},
		"a\x10b\x10\x10\x11": {"a\x10b\x10", true},
		"plain\n":            {"plain\n", false},
		"ends in \x10":       {"ends in ", false}, // an unfinished sequence is never sent
	} {
		var got bytes.Buffer
		// One byte per read: the sequence is split across reads.
		detached, err := copyInput(&got, iotest.OneByteReader(strings.NewReader(input)), keys)
		require.NoError(t, err)
		assert.Equal(t, want.detached, detached, "%q", input)
		assert.Equal(t, want.sent, got.String(), "%q", input)
	}
}

func TestFramesSeparateStdoutAndStderr(t *testing.T) {
	var wire bytes.Buffer
	require.NoError(t, writeFrame(&wire, 1, []byte("out\n")))
	require.NoError(t, writeFrame(&wire, 2, []byte("err\n")))
	require.NoError(t, writeFrame(&wire, 1, []byte("more")))
	var stdout, stderr bytes.Buffer
	require.NoError(t, demux(&wire, &stdout, &stderr))
	assert.Equal(t, "out\nmore", stdout.String())
	assert.Equal(t, "err\n", stderr.String())
}
