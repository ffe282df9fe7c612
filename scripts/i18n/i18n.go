// Package i18n holds what the workshop's tools say to a learner in both languages: the
// grader's check names, summaries and the checks' failure hints (labs/labtest's Hint), the
// demo's narration and setup.sh's preflight, the starter kit's TODO hints and STARTER.md.
// scripts/grade, scripts/starter, labs/labtest and scripts/lib.sh (for the shell scripts)
// all read one catalogue, messages.tsv, a line per message: the English text, a tab, the
// Korean.
//
// Why a table and not golang.org/x/text/message: part of the catalogue is spoken by shell
// (demo.sh's narration), which a Go catalogue cannot serve, and the messages are whole lines
// with a few placeholders, which fmt (or printf) formats in either language. One file read by both, and
// a test (i18n_test.go) that every message the tools can print has its Korean, keep the two
// languages in step. Korean terms follow docs/glossary.md (scripts/kit checks the file).
//
// English is the default. Korean is chosen by a --lang ko flag, or by the environment:
// CONTAINERLABS_LANG (which the grader sets for the checks it runs, so that their hints follow
// its --lang), else the locale, LC_ALL, LC_MESSAGES or LANG (the first one set), as ko_KR.UTF-8.
package i18n

import (
	_ "embed"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync"
)

//go:embed messages.tsv
var messagesTSV string

// Korean is the catalogue: English text to Korean. It is read on first use, not when the
// program starts: every lab program and the engine link this package, and parsing the
// catalogue at start-up cost each of their starts about 1.5 ms, in English too.
var Korean = sync.OnceValue(func() map[string]string { return parse(messagesTSV) })

func parse(tsv string) map[string]string {
	m := map[string]string{}
	for line := range strings.SplitSeq(tsv, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		en, ko, _ := strings.Cut(line, "\t")
		m[unescape(en)] = unescape(ko)
	}
	return m
}

// unescape turns the catalogue's \n into a newline: a message of several lines is one line
// of messages.tsv.
func unescape(s string) string { return strings.ReplaceAll(s, `\n`, "\n") }

// EnvLang names the environment variable that chooses the language ahead of the locale.
const EnvLang = "CONTAINERLABS_LANG"

// korean is whether the tools speak Korean; set once by Use.
var korean bool

// Use chooses the language: lang ("ko", "en", or "" to follow the locale).
func Use(lang string) {
	korean = IsKorean(lang)
}

// IsKorean reports whether lang, or if it is empty the locale, asks for Korean.
func IsKorean(lang string) bool {
	if lang == "" {
		for _, name := range []string{EnvLang, "LC_ALL", "LC_MESSAGES", "LANG"} {
			if lang = os.Getenv(name); lang != "" {
				break
			}
		}
	}
	return strings.HasPrefix(strings.ToLower(lang), "ko")
}

// Speaking reports whether the tools speak Korean.
func Speaking() bool { return korean }

// T returns text in the chosen language: its Korean if the catalogue has it, else text.
func T(text string) string {
	if !korean {
		return text
	}
	if ko, ok := Korean()[text]; ok && ko != "" {
		return ko
	}
	return text
}

// Match translates a text made from one of formats, each a message with one %s: with
// "escape %s is open", "escape chroot is open" becomes that message's Korean with "chroot",
// itself translated, for its %s. A text no format makes is translated as T does.
func Match(text string, formats ...string) string {
	for _, format := range formats {
		re := "^" + strings.Replace(regexp.QuoteMeta(format), "%s", "(.+)", 1) + "$"
		if m := regexp.MustCompile(re).FindStringSubmatch(text); m != nil && korean && Korean()[format] != "" {
			return strings.Replace(Korean()[format], "%s", T(m[1]), 1)
		}
	}
	return T(text)
}

// Sprintf formats the translation of format.
func Sprintf(format string, args ...any) string {
	return fmt.Sprintf(T(format), args...)
}

// N marks text as a message without translating it, for a text that is kept in English
// (in a JSON report, say) and translated where it is printed (gettext's N_).
func N(text string) string { return text }
