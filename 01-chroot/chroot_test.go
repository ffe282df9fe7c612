package main_test

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"containerlabs/labs/labtest"
	"containerlabs/labs/rootfs"
)

const lab = "01-chroot"

// TestLab01 holds the graded checks of lab 01. Each subtest is one check; its name is what
// scripts/grade.sh prints.
func TestLab01(t *testing.T) {
	labtest.RequireRoot(t)

	t.Run("ldd lists the loader and libc of bash", func(t *testing.T) {
		bin := labtest.Lab(t, lab)
		res := bin.Run(t, "ldd", "bash")
		require.Equal(t, 0, res.Code, labtest.Hint("`01-chroot ldd bash` should succeed; read PT_INTERP and DT_NEEDED with debug/elf").With(res))
		assert.Contains(t, res.Stdout, "ld-linux", labtest.Hint("list the ELF interpreter from the PT_INTERP header"))
		assert.Contains(t, res.Stdout, "libc.so.6", labtest.Hint("follow DT_NEEDED entries transitively"))
		assert.Contains(t, res.Stdout, "libtinfo.so.6", labtest.Hint("bash needs libtinfo.so.6; search the ld.so.conf directories"))
	})

	t.Run("bash alone fails and the error names the missing loader", func(t *testing.T) {
		bin := labtest.Lab(t, lab)
		dir := labtest.TempDir(t)
		_, err := rootfs.CopyFile("/bin/bash", filepath.Join(dir, "bin/bash"))
		require.NoError(t, err)
		res := bin.Run(t, "run", dir, "/bin/bash", "-c", "echo should not run")
		assert.Equal(t, 127, res.Code, labtest.Hint("a command whose ELF interpreter is missing cannot start: exit 127, as chroot(1) does").With(res))
		assert.Contains(t, res.Stderr, "ld-linux", labtest.Hint("name the missing file (the interpreter from PT_INTERP), not just \"no such file\"").With(res))
		assert.NotContains(t, res.Stdout, "should not run", labtest.Hint("the command cannot have run without its loader"))
	})

	t.Run("bash with its libraries runs in the new root", func(t *testing.T) {
		bin := labtest.Lab(t, lab)
		dir := labtest.TempDir(t)
		res := bin.Run(t, "rootfs", dir, "bash")
		require.Equal(t, 0, res.Code, labtest.Hint("`01-chroot rootfs DIR bash` should copy bash and its libraries").With(res))
		res = bin.Run(t, "run", dir, "/bin/bash", "-c", "echo hello from $0 in $PWD")
		assert.Equal(t, 0, res.Code, labtest.Hint("copy the interpreter and every library, keeping their paths and symlinks").With(res))
		assert.Equal(t, "hello from /bin/bash in /\n", res.Stdout, labtest.Hint("chdir to / after chroot"))
	})

	t.Run("ls / shows only the files of the new root", func(t *testing.T) {
		bin := labtest.Lab(t, lab)
		dir := labtest.TempDir(t)
		res := bin.Run(t, "rootfs", dir, "bash", "ls")
		require.Equal(t, 0, res.Code, labtest.Hint("`01-chroot rootfs DIR bash ls` should copy both programs").With(res))
		entries, err := os.ReadDir(dir)
		require.NoError(t, err)
		var want []string
		for _, e := range entries {
			want = append(want, e.Name())
		}
		res = bin.Run(t, "run", dir, "ls", "-1", "/")
		require.Equal(t, 0, res.Code, labtest.Hint("look COMMAND up in $PATH inside DIR, not on the host").With(res))
		got := strings.Fields(res.Stdout)
		sort.Strings(got)
		assert.Equal(t, want, got, labtest.Hint("the command must see DIR as /: chroot(DIR) before exec"))
	})

	t.Run("ps fails because the new root has no /proc", func(t *testing.T) {
		bin := labtest.Lab(t, lab)
		dir := labtest.TempDir(t)
		res := bin.Run(t, "rootfs", dir, "ps")
		require.Equal(t, 0, res.Code, labtest.Hint("`01-chroot rootfs DIR ps` should copy ps and its libraries").With(res))
		res = bin.Run(t, "run", dir, "ps")
		assert.NotEqual(t, 0, res.Code, labtest.Hint("lab 01 mounts nothing: ps must fail without /proc").With(res))
		assert.Contains(t, res.Stdout+res.Stderr, "/proc", labtest.Hint("ps should complain about /proc").With(res))
	})

	t.Run("a missing command exits 127 and is named", func(t *testing.T) {
		bin := labtest.Lab(t, lab)
		dir := labtest.TempDir(t)
		res := bin.Run(t, "run", dir, "no-such-command")
		assert.Equal(t, 127, res.Code, labtest.Hint("exit 127 when the command is not in the rootfs, as a shell does").With(res))
		assert.Contains(t, res.Stderr, "no-such-command", labtest.Hint("name the command that was not found"))
	})

	t.Run("the exit status and signals pass through", func(t *testing.T) {
		bin := labtest.Lab(t, lab)
		dir := labtest.BusyboxRoot(t)
		res := bin.Run(t, "run", dir, "sh", "-c", "exit 7")
		assert.Equal(t, 7, res.Code, labtest.Hint("exit with the command's exit status").With(res))
		res = bin.Run(t, "run", dir, "sh", "-c", "kill -TERM $$")
		assert.Equal(t, 143, res.Code, labtest.Hint("a command killed by signal N makes the program exit 128+N").With(res))
	})

	t.Run("stdin and stdout are the caller's", func(t *testing.T) {
		bin := labtest.Lab(t, lab)
		dir := labtest.BusyboxRoot(t)
		res := bin.RunWith(t, labtest.Options{Stdin: strings.NewReader("workshop\n")}, "run", dir, "sh", "-c", "read x; echo got $x")
		assert.Equal(t, "got workshop\n", res.Stdout, labtest.Hint("connect the command's stdin and stdout to the program's").With(res))
	})

	t.Run("a busybox rootfs runs a shell", func(t *testing.T) {
		bin := labtest.Lab(t, lab)
		dir := labtest.TempDir(t)
		res := bin.Run(t, "rootfs", "--busybox", dir)
		require.Equal(t, 0, res.Code, labtest.Hint("`rootfs --busybox DIR` should copy a static busybox and link its applets").With(res))
		res = bin.Run(t, "run", dir, "/bin/sh", "-c", "echo $((6*7))")
		assert.Equal(t, "42\n", res.Stdout, labtest.Hint("/bin/sh should be a link to busybox").With(res))
	})

	t.Run("an exported tar becomes a rootfs and hostile entries are refused", func(t *testing.T) {
		bin := labtest.Lab(t, lab)
		base := labtest.TempDir(t)
		good := writeTar(t, filepath.Join(base, "good.tar"), map[string]string{"etc/motd": "hello"})
		res := bin.Run(t, "rootfs", "--from-tar", good, filepath.Join(base, "root"))
		require.Equal(t, 0, res.Code, labtest.Hint("`rootfs --from-tar FILE DIR` should unpack the tar").With(res))
		assert.FileExists(t, filepath.Join(base, "root/etc/motd"), labtest.Hint("the tar's files should land in DIR"))

		evil := writeTar(t, filepath.Join(base, "evil.tar"), map[string]string{"../escaped": "pwned"})
		res = bin.Run(t, "rootfs", "--from-tar", evil, filepath.Join(base, "root2"))
		assert.NotEqual(t, 0, res.Code, labtest.Hint("refuse entries with \"..\" that would land outside DIR").With(res))
		assert.NoFileExists(t, filepath.Join(base, "escaped"), labtest.Hint("nothing may be written outside DIR"))
	})
}

func writeTar(t *testing.T, path string, files map[string]string) string {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for name, body := range files {
		require.NoError(t, tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}))
		_, err := tw.Write([]byte(body))
		require.NoError(t, err)
	}
	require.NoError(t, tw.Close())
	require.NoError(t, os.WriteFile(path, buf.Bytes(), 0o644))
	return path
}

// TestUsage checks that 01-chroot prints its usage, with no arguments, in the learner's language: English by default, Korean under LANG=ko_KR.UTF-8.
func TestUsage(t *testing.T) { labtest.RunUsage(t, lab, 2) }
