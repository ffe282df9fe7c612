package build

import (
	"fmt"
	"strings"
	"unicode"
)

// Expand substitutes variables in one word of an instruction and removes its quotes, as
// Docker does for FROM, COPY, ADD, ENV, ARG, LABEL, WORKDIR, USER, EXPOSE, VOLUME and
// STOPSIGNAL (RUN, CMD and ENTRYPOINT are left to the shell in the container). lookup
// returns a variable's value and whether it is set.
//
//	$NAME ${NAME}        the value, or "" when unset
//	${NAME:-word}        word when NAME is unset or empty (${NAME-word}: only when unset)
//	${NAME:+word}        word when NAME is set and not empty (${NAME+word}: when set)
//	${NAME:?message}     an error when NAME is unset or empty
//	'...'                literal: no substitution
//	"..."                substitution; \" \\ and \$ are escapes
//	\x                   x, literally (\$ is a dollar sign)
func Expand(word string, lookup func(string) (string, bool)) (string, error) {
	x := expander{src: []rune(word), lookup: lookup}
	return x.until(-1)
}

type expander struct {
	src    []rune
	pos    int
	lookup func(string) (string, bool)
}

// until expands up to the rune stop (not consumed), or to the end with stop -1.
func (x *expander) until(stop rune) (string, error) {
	var b strings.Builder
	for x.pos < len(x.src) {
		r := x.src[x.pos]
		if r == stop {
			return b.String(), nil
		}
		x.pos++
		switch r {
		case '\\':
			if x.pos < len(x.src) {
				b.WriteRune(x.src[x.pos])
				x.pos++
			}
		case '\'':
			end := x.index('\'')
			if end < 0 {
				return "", fmt.Errorf("unterminated ' quote in %q", string(x.src))
			}
			b.WriteString(string(x.src[x.pos:end]))
			x.pos = end + 1
		case '"':
			s, err := x.doubleQuoted()
			if err != nil {
				return "", err
			}
			b.WriteString(s)
		case '$':
			s, err := x.variable()
			if err != nil {
				return "", err
			}
			b.WriteString(s)
		default:
			b.WriteRune(r)
		}
	}
	if stop >= 0 {
		return "", fmt.Errorf("missing %c in %q", stop, string(x.src))
	}
	return b.String(), nil
}

func (x *expander) index(r rune) int {
	for i := x.pos; i < len(x.src); i++ {
		if x.src[i] == r {
			return i
		}
	}
	return -1
}

func (x *expander) doubleQuoted() (string, error) {
	var b strings.Builder
	for x.pos < len(x.src) {
		r := x.src[x.pos]
		x.pos++
		switch {
		case r == '"':
			return b.String(), nil
		case r == '\\' && x.pos < len(x.src) && strings.ContainsRune(`"\$`, x.src[x.pos]):
			b.WriteRune(x.src[x.pos])
			x.pos++
		case r == '$':
			s, err := x.variable()
			if err != nil {
				return "", err
			}
			b.WriteString(s)
		default:
			b.WriteRune(r)
		}
	}
	return "", fmt.Errorf(`unterminated " quote in %q`, string(x.src))
}

// variable expands what follows a '$'.
func (x *expander) variable() (string, error) {
	if x.pos < len(x.src) && x.src[x.pos] == '{' {
		x.pos++
		return x.braced()
	}
	name := x.name()
	if name == "" {
		return "$", nil // a lone dollar sign is itself
	}
	v, _ := x.lookup(name)
	return v, nil
}

func (x *expander) name() string {
	start := x.pos
	for x.pos < len(x.src) {
		r := x.src[x.pos]
		if r != '_' && !unicode.IsLetter(r) && !(unicode.IsDigit(r) && x.pos > start) {
			break
		}
		x.pos++
	}
	return string(x.src[start:x.pos])
}

// braced expands ${NAME} and ${NAME<op>word}, after the '{'.
func (x *expander) braced() (string, error) {
	name := x.name()
	if name == "" {
		return "", fmt.Errorf("bad substitution in %q: ${ needs a variable name", string(x.src))
	}
	value, set := x.lookup(name)
	if x.pos < len(x.src) && x.src[x.pos] == '}' {
		x.pos++
		return value, nil
	}
	colon := x.pos < len(x.src) && x.src[x.pos] == ':'
	if colon {
		x.pos++
	}
	if x.pos >= len(x.src) {
		return "", fmt.Errorf("missing } in %q", string(x.src))
	}
	op := x.src[x.pos]
	x.pos++
	word, err := x.until('}')
	if err != nil {
		return "", err
	}
	x.pos++ // the '}'
	present := set && (!colon || value != "")
	switch op {
	case '-':
		if !present {
			return word, nil
		}
		return value, nil
	case '+':
		if present {
			return word, nil
		}
		return "", nil
	case '?':
		if !present {
			if word == "" {
				word = "parameter not set"
			}
			return "", fmt.Errorf("%s: %s", name, word)
		}
		return value, nil
	}
	return "", fmt.Errorf("bad substitution ${%s%c...} in %q: use :- :+ or :?", name, op, string(x.src))
}
