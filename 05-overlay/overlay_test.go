package main_test

import (
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"containerlabs/labs/labtest"
	"containerlabs/labs/state"
)

const lab = "05-overlay"

// setup gives a check a state root of its own (through $CONTAINERLABS_ROOT), a busybox
// layer and a small second layer, and returns the layers and the state root.
func setup(t *testing.T) (base, extra, root string) {
	base = labtest.BusyboxRoot(t)
	extra = labtest.TempDir(t)
	require.NoError(t, os.MkdirAll(filepath.Join(extra, "etc"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(extra, "etc/motd"), []byte("from the second layer\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(extra, "etc/deleteme"), []byte("x\n"), 0o644))
	root = labtest.TempDir(t)
	t.Setenv(state.EnvRoot, root)
	return base, extra, root
}

func upperOf(root, name string) string {
	return filepath.Join(root, "containers", name, "upper")
}

// treeHash fingerprints a directory tree: names, modes, sizes, link targets and contents.
func treeHash(t *testing.T, dir string) string {
	h := sha256.New()
	require.NoError(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		h.Write([]byte(rel + info.Mode().String()))
		switch {
		case info.Mode()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			h.Write([]byte(target))
		case info.Mode().IsRegular():
			data, _ := os.ReadFile(p)
			h.Write(data)
		}
		return nil
	}))
	return hex.EncodeToString(h.Sum(nil))
}

// TestLab05 holds the graded checks of lab 05. Each subtest is one check.
func TestLab05(t *testing.T) {
	labtest.RequireRoot(t)

	t.Run("layers stack, the last one on top", func(t *testing.T) {
		bin := labtest.Lab(t, lab)
		base, extra, _ := setup(t)
		res := bin.Run(t, "run", "--layer", base, "--layer", extra, "--name", "stack", "sh", "-c", "cat /etc/motd; ls /bin/sh")
		require.Equal(t, 0, res.Code, labtest.Hint("mount an overlay of the layers and pivot into it").With(res))
		assert.Equal(t, "from the second layer\n/bin/sh\n", res.Stdout, labtest.Hint("--layer is lowest first; the kernel's lowerdir wants the top layer first").With(res))
	})

	t.Run("writes land in the upper dir and never in a layer", func(t *testing.T) {
		bin := labtest.Lab(t, lab)
		base, extra, root := setup(t)
		before := []string{treeHash(t, base), treeHash(t, extra)}
		res := bin.Run(t, "run", "--layer", base, "--layer", extra, "--name", "writer", "sh", "-c", "echo new > /added && echo more >> /etc/motd && chmod 700 /bin")
		require.Equal(t, 0, res.Code, labtest.Hint("the container should be able to write its root").With(res))
		assert.Equal(t, before, []string{treeHash(t, base), treeHash(t, extra)}, labtest.Hint("the layers are lowerdirs: nothing may ever write them"))
		upper := upperOf(root, "writer")
		data, err := os.ReadFile(filepath.Join(upper, "added"))
		assert.NoError(t, err, labtest.Hint("a new file must appear in the container's upper dir (kept under the state root)"))
		assert.Equal(t, "new\n", string(data))
		data, err = os.ReadFile(filepath.Join(upper, "etc/motd"))
		assert.NoError(t, err, labtest.Hint("a changed layer file is copied up into the upper dir"))
		assert.Equal(t, "from the second layer\nmore\n", string(data))
	})

	t.Run("a deleted layer file becomes a whiteout and disappears", func(t *testing.T) {
		bin := labtest.Lab(t, lab)
		base, extra, root := setup(t)
		res := bin.Run(t, "run", "--layer", base, "--layer", extra, "--name", "deleter", "sh", "-c", "rm /etc/deleteme && ls /etc")
		require.Equal(t, 0, res.Code, labtest.Hint("the container should be able to delete a layer's file").With(res))
		assert.NotContains(t, res.Stdout, "deleteme", labtest.Hint("the deleted file must vanish from the merged view"))
		assert.FileExists(t, filepath.Join(extra, "etc/deleteme"), labtest.Hint("the layer keeps its file"))
		var st syscall.Stat_t
		require.NoError(t, syscall.Lstat(filepath.Join(upperOf(root, "deleter"), "etc/deleteme"), &st),
			labtest.Hint("the deletion is recorded in the upper dir as a whiteout"))
		assert.Equal(t, uint32(syscall.S_IFCHR), st.Mode&syscall.S_IFMT, labtest.Hint("a whiteout is a character device"))
		assert.Zero(t, st.Rdev, labtest.Hint("a whiteout is device 0/0"))
	})

	t.Run("two containers on the same layers never see each other's changes", func(t *testing.T) {
		bin := labtest.Lab(t, lab)
		base, extra, root := setup(t)
		res := bin.Run(t, "run", "--layer", base, "--layer", extra, "--name", "first", "sh", "-c", "echo mine > /only-first && rm /etc/motd")
		require.Equal(t, 0, res.Code, labtest.Hint("the first container should run").With(res))
		res = bin.Run(t, "run", "--layer", base, "--layer", extra, "--name", "second", "sh", "-c", "ls /only-first; cat /etc/motd")
		assert.Contains(t, res.Stdout, "from the second layer", labtest.Hint("each container needs its own upper dir").With(res))
		assert.Contains(t, res.Stderr, "No such file", labtest.Hint("the first container's new file must not exist in the second").With(res))
		assert.NoFileExists(t, filepath.Join(upperOf(root, "second"), "only-first"))
	})

	t.Run("diff lists exactly the changes", func(t *testing.T) {
		bin := labtest.Lab(t, lab)
		base, extra, _ := setup(t)
		res := bin.Run(t, "run", "--layer", base, "--layer", extra, "--name", "changer",
			"sh", "-c", "mkdir /data && echo x > /data/file && echo more >> /etc/motd && rm /etc/deleteme")
		require.Equal(t, 0, res.Code, labtest.Hint("the container should run").With(res))
		res = bin.Run(t, "diff", "changer")
		require.Equal(t, 0, res.Code, labtest.Hint("`05-overlay diff NAME` should read the container's upper dir").With(res))
		got := strings.Split(strings.TrimSpace(res.Stdout), "\n")
		sort.Strings(got)
		want := []string{"A /data", "A /data/file", "C /etc", "C /etc/motd", "D /etc/deleteme"}
		assert.Equal(t, want, got, labtest.Hint("A for new paths, C for paths that exist in a layer, D for whiteouts"))
	})

	t.Run("no overlay mount is left after exit or rm", func(t *testing.T) {
		bin := labtest.Lab(t, lab)
		base, extra, root := setup(t)
		p := bin.Start(t, "run", "--layer", base, "--layer", extra, "--name", "mounted", "sh", "-c", "echo ready; sleep 30")
		p.Await(t, "ready", labtest.Hint("the container should start"))
		assert.Empty(t, labtest.MountsUnder(t, root), labtest.Hint("mount the overlay inside the container's mount namespace, so the host never sees it"))
		require.NoError(t, p.Cmd.Process.Signal(syscall.SIGTERM))
		p.Wait(10 * time.Second)
		assert.Empty(t, labtest.MountsUnder(t, root), labtest.Hint("no mount may remain after the container exits"))
		res := bin.Run(t, "rm", "mounted")
		assert.Equal(t, 0, res.Code, labtest.Hint("`05-overlay rm NAME` removes a stopped container").With(res))
		assert.NoDirExists(t, filepath.Join(root, "containers", "mounted"), labtest.Hint("rm removes the container's state and upper dir"))
	})

	t.Run("names are checked: taken, missing and running", func(t *testing.T) {
		bin := labtest.Lab(t, lab)
		base, _, _ := setup(t)
		res := bin.Run(t, "run", "--layer", base, "--name", "twice", "true")
		require.Equal(t, 0, res.Code, res)
		res = bin.Run(t, "run", "--layer", base, "--name", "twice", "true")
		assert.NotEqual(t, 0, res.Code, labtest.Hint("a name in use is an error"))
		assert.Contains(t, res.Stderr, "twice", labtest.Hint("name the container in the error"))
		res = bin.Run(t, "rm", "nobody")
		assert.NotEqual(t, 0, res.Code, labtest.Hint("rm of an unknown container is an error"))
		res = bin.Run(t, "run", "--layer", base, "--name", "../escape", "true")
		assert.NotEqual(t, 0, res.Code, labtest.Hint("a name may not contain / or .."))
		p := bin.Start(t, "run", "--layer", base, "--name", "busy", "sh", "-c", "echo ready; sleep 30")
		p.Await(t, "ready", labtest.Hint("the container should start"))
		res = bin.Run(t, "rm", "busy")
		assert.NotEqual(t, 0, res.Code, labtest.Hint("a running container may not be removed"))
		require.NoError(t, p.Cmd.Process.Signal(syscall.SIGTERM))
		p.Wait(10 * time.Second)
	})
}

// TestUsage checks that 05-overlay prints its usage, with no arguments, in the learner's language: English by default, Korean under LANG=ko_KR.UTF-8.
func TestUsage(t *testing.T) { labtest.RunUsage(t, lab, 2) }
