package compose

import (
	"fmt"
	"strings"
)

// Interpolate substitutes variables in a value of a compose file, as the Compose
// specification says: $NAME and ${NAME} (empty when unset), ${NAME:-default} (the default
// when unset or empty), ${NAME-default} (when unset), ${NAME:?message} and ${NAME?message}
// (an error when unset or empty, or unset), ${NAME:+other} and ${NAME+other} (other when
// set and not empty, or set), and $$ for a literal $. A default or other may contain
// variables itself. lookup reports a variable's value and whether it is set.
func Interpolate(s string, lookup func(string) (string, bool)) (string, error) {
	var out strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' {
			out.WriteByte(s[i])
			continue
		}
		if i+1 == len(s) {
			out.WriteByte('$') // a $ at the end stands for itself
			continue
		}
		switch next := s[i+1]; {
		case next == '$':
			out.WriteByte('$')
			i++
		case next == '{':
			end := closingBrace(s, i+2)
			if end < 0 {
				return "", fmt.Errorf("%q: ${ without its closing }", s)
			}
			v, err := expandBraced(s[i+2:end], lookup)
			if err != nil {
				return "", err
			}
			out.WriteString(v)
			i = end
		case isNameStart(next):
			j := i + 1
			for j < len(s) && isNameChar(s[j]) {
				j++
			}
			v, _ := lookup(s[i+1 : j])
			out.WriteString(v)
			i = j - 1
		default:
			return "", fmt.Errorf("%q: a $ must start a variable ($NAME or ${NAME}); write $$ for a $ itself", s)
		}
	}
	return out.String(), nil
}

// closingBrace finds the } that closes a ${ whose contents start at from, counting the
// braces of variables nested in a default.
func closingBrace(s string, from int) int {
	depth := 1
	for i := from; i < len(s); i++ {
		switch s[i] {
		case '{':
			depth++
		case '}':
			if depth--; depth == 0 {
				return i
			}
		}
	}
	return -1
}

// expandBraced expands the inside of ${...}.
func expandBraced(inner string, lookup func(string) (string, bool)) (string, error) {
	n := 0
	for n < len(inner) && isNameChar(inner[n]) {
		n++
	}
	name, rest := inner[:n], inner[n:]
	if name == "" || !isNameStart(name[0]) {
		return "", fmt.Errorf("${%s}: not a variable name", inner)
	}
	value, set := lookup(name)
	if rest == "" {
		return value, nil
	}
	colon := strings.HasPrefix(rest, ":")
	op := strings.TrimPrefix(rest, ":")
	if op == "" {
		return "", fmt.Errorf("${%s}: want ${NAME}, ${NAME:-default}, ${NAME:?error} or ${NAME:+other}", inner)
	}
	word, err := Interpolate(op[1:], lookup)
	if err != nil {
		return "", err
	}
	present := set && (!colon || value != "")
	switch op[0] {
	case '-':
		if present {
			return value, nil
		}
		return word, nil
	case '?':
		if present {
			return value, nil
		}
		if word == "" {
			word = "it is not set"
			if set {
				word = "it is empty"
			}
		}
		return "", fmt.Errorf("required variable %s is missing a value: %s", name, word)
	case '+':
		if present {
			return word, nil
		}
		return "", nil
	}
	return "", fmt.Errorf("${%s}: want ${NAME}, ${NAME:-default}, ${NAME:?error} or ${NAME:+other}", inner)
}

func isNameStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func isNameChar(c byte) bool { return isNameStart(c) || (c >= '0' && c <= '9') }
