package labtest

import (
	"strings"
	"testing"
	"unicode"

	"containerlabs/scripts/i18n"
)

// A lab program speaks the learner's language: its usage, and the messages its main.go
// writes to teach (an OOM kill, a limit too small), come from scripts/i18n's catalogue.
// The other checks read the programs' English output, so Binary runs them in English
// (englishOnly) whatever the grader's language; RunUsage checks both languages.

// englishOnly pins a lab program to English, ahead of the locale and of the variables a
// check adds (Options.Env, which come after it and so win).
var englishOnly = i18n.EnvLang + "=en"

// RunUsage checks that the lab named lab, run with no arguments, prints its usage in
// English by default and in Korean under a Korean locale, exiting with code both times.
func RunUsage(t *testing.T, lab string, code int) {
	bin := Lab(t, lab)
	withLocale := func(lang string) Options {
		return Options{Env: []string{i18n.EnvLang + "=", "LC_ALL=", "LC_MESSAGES=", "LANG=" + lang}}
	}
	t.Run("usage in English by default", func(t *testing.T) {
		res := bin.RunWith(t, withLocale("C.UTF-8"))
		out := res.Stdout + res.Stderr
		if res.Code != code || !strings.Contains(out, "usage") || strings.ContainsFunc(out, isHangul) {
			t.Fatal(Hint("run with no arguments and LANG=C.UTF-8, %s should print its usage in English and exit %d", lab, code).With(res))
		}
	})
	t.Run("usage in Korean when the locale is Korean", func(t *testing.T) {
		res := bin.RunWith(t, withLocale("ko_KR.UTF-8"))
		out := res.Stdout + res.Stderr
		if res.Code != code || !strings.ContainsFunc(out, isHangul) || !strings.Contains(out, lab) {
			t.Fatal(Hint("with LANG=ko_KR.UTF-8, %s should print its usage in Korean and exit %d: choose the language first in main (i18n.Use) and print the usage through i18n.T", lab, code).With(res))
		}
	})
}

func isHangul(r rune) bool { return unicode.Is(unicode.Hangul, r) }
