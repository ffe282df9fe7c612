package i18n

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestEveryMessageHasKorean finds every message the tools can print to a learner, in their
// sources, and fails for each one the catalogue has no Korean for.
func TestEveryMessageHasKorean(t *testing.T) {
	// go test runs in the package's folder, scripts/i18n. (labtest.RepoRoot would do, but
	// labtest imports this package to translate the checks' hints.)
	root, err := filepath.Abs(filepath.Join("..", ".."))
	require.NoError(t, err)
	require.FileExists(t, filepath.Join(root, "go.mod"))
	messages := map[string]string{} // message -> where it was found
	words := regexp.MustCompile(`%[0-9.]*[a-z]`)
	add := func(text, where string) {
		if !strings.ContainsFunc(words.ReplaceAllString(text, ""), unicode.IsLetter) {
			return // nothing to translate: "%v: %s"
		}
		if _, ok := messages[text]; !ok {
			messages[text] = where
		}
	}
	checkNames(t, root, add)
	checkHints(t, root, add)
	demoNarration(t, root, add)
	toolMessages(t, root, add)
	starterHints(t, root, add)
	require.Greater(t, len(messages), 300, "the extraction found too few messages; has the layout changed?")

	for text, where := range messages {
		ko, ok := Korean()[text]
		if !assert.True(t, ok, "%s: %q has no entry in scripts/i18n/messages.tsv: add its Korean", where, text) {
			continue
		}
		assert.NotEmpty(t, ko, "%s: %q has an empty Korean entry", where, text)
	}
}

// TestCatalogue checks the catalogue itself: every entry has a Korean text, in Korean, with
// the same placeholders, and no English text appears twice.
func TestCatalogue(t *testing.T) {
	seen := map[string]int{}
	placeholder := regexp.MustCompile(`%[0-9]*[sdvq]`)
	for n, line := range strings.Split(messagesTSV, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		en, ko, ok := strings.Cut(line, "\t")
		if !assert.True(t, ok, "messages.tsv:%d: want ENGLISH<tab>KOREAN", n+1) {
			continue
		}
		assert.NotContains(t, ko, "\t", "messages.tsv:%d: one tab per line", n+1)
		en, ko = unescape(en), unescape(ko)
		if prev, dup := seen[en]; dup {
			t.Errorf("messages.tsv:%d: %q is already on line %d", n+1, en, prev)
		}
		seen[en] = n + 1
		assert.True(t, strings.ContainsFunc(ko, func(r rune) bool { return unicode.Is(unicode.Hangul, r) }),
			"messages.tsv:%d: the Korean of %q has no Hangul", n+1, en)
		assert.Equal(t, placeholder.FindAllString(en, -1), placeholder.FindAllString(ko, -1),
			"messages.tsv:%d: the Korean must keep the English's placeholders, in order", n+1)
	}
}

func TestLanguageChoice(t *testing.T) {
	for _, name := range []string{EnvLang, "LC_ALL", "LC_MESSAGES", "LANG"} {
		t.Setenv(name, "")
	}
	assert.False(t, IsKorean(""), "English is the default")
	assert.True(t, IsKorean("ko"))
	t.Setenv("LANG", "ko_KR.UTF-8")
	assert.True(t, IsKorean(""))
	assert.False(t, IsKorean("en"), "--lang wins over the locale")
	t.Setenv("LC_ALL", "C.UTF-8")
	assert.False(t, IsKorean(""), "LC_ALL wins over LANG")

	Use("ko")
	defer Use("en")
	escape := Match("escape chroot is open", "escape %s is closed", "escape %s is open")
	assert.NotContains(t, escape, "escape", "a text made from a format is translated")
	assert.Contains(t, escape, "chroot", "and its %s kept")
	assert.Equal(t, "escape chroot is open", T("escape chroot is open"), "T translates whole messages only")
	assert.Equal(t, "no such message", T("no such message"), "an unknown text stays as it is")
}

// checkNames adds the grader's check names: the literal subtest names of the labs' tests,
// and the names labtest builds (the escape gallery's, the earlier steps').
func checkNames(t *testing.T, root string, add func(string, string)) {
	files, err := filepath.Glob(filepath.Join(root, "[0-9][0-9]-*", "*_test.go"))
	require.NoError(t, err)
	more, err := filepath.Glob(filepath.Join(root, "[0-9][0-9]-*", "*", "*_test.go"))
	require.NoError(t, err)
	for _, file := range append(files, more...) {
		eachCall(t, root, file, func(fn string, args []ast.Expr, where string) {
			if fn == "Run" && len(args) == 2 {
				if s, ok := literal(args[0]); ok {
					add(s, where)
				}
			}
		})
	}
	add("escape %s is open", "labs/labtest/gallery.go")
	add("escape %s is closed", "labs/labtest/gallery.go")
	add("earlier step holds: %s", "labs/labtest/ladder.go")
	add("usage in English by default", "labs/labtest/usage.go")
	add("usage in Korean when the locale is Korean", "labs/labtest/usage.go")
	ladder, err := os.ReadFile(filepath.Join(root, "labs/labtest/ladder.go"))
	require.NoError(t, err)
	for _, m := range regexp.MustCompile(`\{name: ("[^"]+")`).FindAllStringSubmatch(string(ladder), -1) {
		s, err := strconv.Unquote(m[1])
		require.NoError(t, err)
		add(s, "labs/labtest/ladder.go")
	}
}

// checkHints adds the checks' failure hints: the formats passed to labtest.Hint in the labs'
// tests and in labtest itself, and the texts labtest marks with i18n.N (its known errors).
func checkHints(t *testing.T, root string, add func(string, string)) {
	var files []string
	for _, pattern := range []string{"[0-9][0-9]-*/*_test.go", "[0-9][0-9]-*/*/*_test.go", "labs/labtest/*.go"} {
		more, err := filepath.Glob(filepath.Join(root, pattern))
		require.NoError(t, err)
		files = append(files, more...)
	}
	for _, file := range files {
		eachCall(t, root, file, func(fn string, args []ast.Expr, where string) {
			if fn == "Hint" || fn == "i18n.N" || fn == "i18n.T" {
				if s, ok := literal(args[0]); ok && s != "%s" {
					add(s, where)
				}
			}
		})
	}
}

// demoNarration adds what demo.sh says: the sections, narration and notices of every lab's
// demo.sh, and the messages of scripts/*.sh that go through msg.
func demoNarration(t *testing.T, root string, add func(string, string)) {
	call := regexp.MustCompile(`(?m)^\s*(?:step|step_fails|say|section|msg|\$\(msg) "((?:[^"\\]|\\.)*)"`)
	inline := regexp.MustCompile(`\$\(msg "((?:[^"\\]|\\.)*)"`)
	// setup.sh's report ok|missing|optional|info NAME "DETAIL" "FIX" translates DETAIL and FIX.
	preflight := regexp.MustCompile(`(?m)^\s*report (?:ok|missing|optional|info) (?:"[^"]*"|\S+) "([^"]*)"(?: "([^"]*)")?`)
	files, err := filepath.Glob(filepath.Join(root, "[0-9][0-9]-*", "demo.sh"))
	require.NoError(t, err)
	scripts, err := filepath.Glob(filepath.Join(root, "scripts", "*.sh"))
	require.NoError(t, err)
	for _, file := range append(files, scripts...) {
		data, err := os.ReadFile(file)
		require.NoError(t, err)
		rel, _ := filepath.Rel(root, file)
		for _, re := range []*regexp.Regexp{call, inline, preflight} {
			for _, m := range re.FindAllStringSubmatch(string(data), -1) {
				for _, text := range m[1:] {
					// A text with a value in it ("$kernel (older than 5.10)") stays English.
					if text = shellUnquote(text); text != "" && !strings.Contains(text, "$") {
						add(text, rel)
					}
				}
			}
		}
	}
}

// shellUnquote is the text bash makes of a double-quoted string without expansions.
func shellUnquote(s string) string {
	return regexp.MustCompile(`\\([$"\\`+"`"+`])`).ReplaceAllString(s, "$1")
}

// toolMessages adds the literal texts the Go tools and the lab programs pass to T and
// Sprintf, and each lab program's usage (its main prints it through T, as the error
// errUsage carries it).
func toolMessages(t *testing.T, root string, add func(string, string)) {
	for _, dir := range []string{"scripts/grade", "scripts/starter", "[0-9][0-9]-*"} {
		files, err := filepath.Glob(filepath.Join(root, dir, "*.go"))
		require.NoError(t, err)
		for _, file := range files {
			if strings.HasSuffix(file, "_test.go") {
				continue
			}
			if filepath.Base(file) == "main.go" && strings.HasPrefix(filepath.Base(filepath.Dir(file)), "0") {
				usage, ok := constant(t, file, "usage")
				require.True(t, ok, "%s has no const usage; has the layout changed?", file)
				add(usage, file)
			}
			eachCall(t, root, file, func(fn string, args []ast.Expr, where string) {
				if (fn == "i18n.T" || fn == "i18n.Sprintf" || fn == "i18n.N") && len(args) > 0 {
					// A text that is not a literal (a region's hint) is found where it is written.
					if s, ok := literal(args[0]); ok {
						add(s, where)
					}
				}
			})
		}
	}
}

// starterHints adds the hints of the marked regions (`// lab:NN begin: HINT`), which the
// starter kit turns into TODOs and STARTER.md lists.
func starterHints(t *testing.T, root string, add func(string, string)) {
	marker := regexp.MustCompile(`// lab:\d\d begin: (.+)$`)
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") || d.Name() == "bin") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		for n, line := range strings.Split(string(data), "\n") {
			if m := marker.FindStringSubmatch(strings.TrimSpace(line)); m != nil && !strings.Contains(rel, "scripts/") {
				add(strings.TrimSpace(m[1]), rel+":"+strconv.Itoa(n+1))
			}
		}
		return nil
	})
	require.NoError(t, err)
}

// eachCall calls fn for every call expression in a Go file: the called name (Run,
// i18n.T) and its arguments.
func eachCall(t *testing.T, root, file string, fn func(name string, args []ast.Expr, where string)) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, file, nil, 0)
	require.NoError(t, err)
	rel, _ := filepath.Rel(root, file)
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		where := rel + ":" + strconv.Itoa(fset.Position(call.Pos()).Line)
		switch f := call.Fun.(type) {
		case *ast.Ident:
			fn(f.Name, call.Args, where)
		case *ast.SelectorExpr:
			if x, ok := f.X.(*ast.Ident); ok && x.Name == "i18n" {
				fn("i18n."+f.Sel.Name, call.Args, where)
			} else {
				fn(f.Sel.Name, call.Args, where)
			}
		}
		return true
	})
}

// constant is the value of the string constant name declared in a Go file.
func constant(t *testing.T, file, name string) (string, bool) {
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
	require.NoError(t, err)
	if obj := f.Scope.Lookup(name); obj != nil && obj.Kind == ast.Con {
		return literal(ast.NewIdent(name), obj)
	}
	return "", false
}

// literal is the value of a string literal, of a sum of them, or of a constant declared
// as one in the same file (usage).
func literal(e ast.Expr, resolved ...*ast.Object) (string, bool) {
	if id, ok := e.(*ast.Ident); ok {
		obj := id.Obj
		if len(resolved) > 0 {
			obj = resolved[0]
		}
		if obj == nil || obj.Kind != ast.Con {
			return "", false
		}
		if spec, ok := obj.Decl.(*ast.ValueSpec); ok && len(spec.Values) == 1 {
			return literal(spec.Values[0])
		}
		return "", false
	}
	if sum, ok := e.(*ast.BinaryExpr); ok && sum.Op == token.ADD {
		x, okx := literal(sum.X)
		y, oky := literal(sum.Y)
		return x + y, okx && oky
	}
	lit, ok := e.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(lit.Value)
	return s, err == nil
}

// TestShellReadsTheSameCatalogue checks scripts/lib.sh's msg, which demo.sh speaks through,
// against this package: the same Korean for a message, English by default, and a text the
// catalogue lacks as it is.
func TestShellReadsTheSameCatalogue(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	require.NoError(t, err)
	msg := func(lang, text string) string {
		cmd := exec.Command("bash", "-c", `source scripts/lib.sh; msg "$1"`, "msg", text)
		cmd.Dir = root
		// LEARNER_LANG is what a script that chose already (test.sh, demo.sh) exports to
		// the scripts it runs; this test chooses by CONTAINERLABS_LANG alone.
		cmd.Env = append(os.Environ(), "LEARNER_LANG=", EnvLang+"="+lang)
		out, err := cmd.Output()
		require.NoError(t, err)
		return strings.TrimSuffix(string(out), "\n")
	}
	text := "03-namespaces: a process with its own view of the machine"
	require.NotEmpty(t, Korean()[text])
	assert.Equal(t, Korean()[text], msg("ko", text))
	assert.Equal(t, text, msg("en", text))
	assert.Equal(t, "not in the catalogue", msg("ko", "not in the catalogue"))
}
