package build

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
)

// Ignore is a build context's .dockerignore: the files COPY and ADD must not see, as if
// they were not in the context at all.
type Ignore struct {
	patterns []ignorePattern
}

type ignorePattern struct {
	re        *regexp.Regexp
	exception bool
}

// ParseIgnore reads .dockerignore patterns, one a line: Go's filepath.Match syntax (*, ?,
// [a-z]) plus "**" for any number of directories; "!" before a pattern makes it an
// exception that re-includes what earlier lines excluded; "#" starts a comment. The last
// line that matches a path decides.
func ParseIgnore(r io.Reader) (*Ignore, error) {
	ig := &Ignore{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		p := ignorePattern{}
		if rest, ok := strings.CutPrefix(line, "!"); ok {
			p.exception, line = true, strings.TrimSpace(rest)
		}
		line = strings.TrimPrefix(path.Clean("/"+filepath.ToSlash(line)), "/")
		if line == "" {
			continue
		}
		re, err := patternRegexp(line)
		if err != nil {
			return nil, fmt.Errorf(".dockerignore pattern %q: %w", line, err)
		}
		p.re = re
		ig.patterns = append(ig.patterns, p)
	}
	return ig, sc.Err()
}

// ReadIgnore reads dir/.dockerignore; a context without one ignores nothing.
func ReadIgnore(dir string) (*Ignore, error) {
	f, err := os.Open(filepath.Join(dir, ".dockerignore"))
	if errors.Is(err, fs.ErrNotExist) {
		return &Ignore{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read .dockerignore: %w", err)
	}
	defer f.Close()
	return ParseIgnore(f)
}

// patternRegexp turns one pattern into an anchored regular expression.
func patternRegexp(p string) (*regexp.Regexp, error) {
	var b strings.Builder
	b.WriteString("^")
	for i := 0; i < len(p); i++ {
		switch c := p[i]; c {
		case '*':
			if i+1 < len(p) && p[i+1] == '*' {
				i++
				if i+1 < len(p) && p[i+1] == '/' {
					i++
					b.WriteString("(.*/)?") // "**/" is zero or more directories
				} else {
					b.WriteString(".*")
				}
			} else {
				b.WriteString("[^/]*")
			}
		case '?':
			b.WriteString("[^/]")
		case '[':
			end := strings.IndexByte(p[i:], ']')
			if end < 0 {
				return nil, errors.New("unterminated [")
			}
			class := p[i+1 : i+end]
			if strings.HasPrefix(class, "!") {
				class = "^" + class[1:]
			}
			b.WriteString("[" + class + "]")
			i += end
		case '\\':
			if i+1 < len(p) {
				i++
				b.WriteString(regexp.QuoteMeta(string(p[i])))
			}
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString("$")
	return regexp.Compile(b.String())
}

// Ignored reports whether the path rel (relative to the context, "/"-separated) is
// excluded: a pattern matches the path itself or one of its parent directories.
func (ig *Ignore) Ignored(rel string) bool {
	rel = strings.TrimPrefix(path.Clean("/"+filepath.ToSlash(rel)), "/")
	if ig == nil || rel == "" {
		return false
	}
	ignored := false
	for _, p := range ig.patterns {
		// A pattern that matches a directory matches everything under it: "build" also
		// excludes build/out/app.
		match := p.re.MatchString(rel)
		for dir := path.Dir(rel); !match && dir != "."; dir = path.Dir(dir) {
			match = p.re.MatchString(dir)
		}
		if match {
			ignored = !p.exception
		}
	}
	return ignored
}

// hasExceptions reports whether some "!" pattern may re-include a file inside an ignored
// directory, so that the directory must still be walked.
func (ig *Ignore) hasExceptions() bool {
	if ig == nil {
		return false
	}
	for _, p := range ig.patterns {
		if p.exception {
			return true
		}
	}
	return false
}
