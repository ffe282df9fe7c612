package build

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"
	"unicode"
)

// Instruction is one instruction of a Dockerfile, continuation lines joined.
type Instruction struct {
	// Line is the line the instruction starts on, for errors.
	Line int
	// Command is the instruction's name, upper-case: "RUN".
	Command string
	// Flags are the --name=value options before the arguments (COPY --from=build).
	Flags map[string]string
	// Args are the arguments. In exec (JSON) form, the array's elements. In shell form,
	// RUN, CMD and ENTRYPOINT have one argument, the command line as written; ENV, LABEL
	// and ARG alternate names and values (an ARG without a default has the value
	// noDefault); the others have the words, quotes still in place for Expand.
	Args []string
	// JSON is true for the exec form: RUN ["make", "all"].
	JSON bool
	// Text is the instruction as one line, as the build's progress shows it.
	Text string
}

// noDefault marks an ARG declared without a default value.
const noDefault = "\x00"

// Stage is one FROM and the instructions after it.
type Stage struct {
	// Name is the stage's name from "FROM image AS name", lower-case, or "".
	Name string
	// From is the FROM instruction; From.Args[0] is the base image, unexpanded.
	From Instruction
	// Instructions are the stage's instructions after FROM.
	Instructions []Instruction
}

// Dockerfile is a parsed Dockerfile.
type Dockerfile struct {
	// Args are the ARG instructions before the first FROM: they may be used in FROM lines.
	Args []Instruction
	// Stages are the build's stages in order.
	Stages []Stage
}

// LineError is a parse or build error in one instruction of a Dockerfile.
type LineError struct {
	File string
	Line int
	Err  error
}

func (e *LineError) Error() string { return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err) }

func (e *LineError) Unwrap() error { return e.Err }

// flagsOf lists the --flags each instruction accepts; an instruction not listed takes none.
var flagsOf = map[string][]string{
	"FROM":        {"platform"},
	"COPY":        {"from", "chown", "chmod"},
	"ADD":         {"chown", "chmod"},
	"HEALTHCHECK": {"interval", "timeout", "start-period", "retries"},
}

// unsupported are instructions Docker knows that this builder does not implement.
var unsupported = map[string]bool{"ONBUILD": true}

// stageName is compiled on first use: every start of the engine (its CLI, its monitor, a
// container's init) links this package, and only a build needs the expression.
var stageName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z][a-z0-9-_.]*$`) })

// Parse reads a Dockerfile. name is what errors call it ("Dockerfile:7: unknown
// instruction FOO").
func Parse(r io.Reader, name string) (*Dockerfile, error) {
	lines, err := logicalLines(r)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	df := &Dockerfile{}
	for _, l := range lines {
		inst, err := parseInstruction(l.number, l.text)
		if err != nil {
			return nil, &LineError{File: name, Line: l.number, Err: err}
		}
		switch {
		case inst.Command == "FROM":
			st := Stage{From: inst}
			if len(inst.Args) == 3 {
				st.Name = strings.ToLower(inst.Args[2])
			}
			df.Stages = append(df.Stages, st)
		case len(df.Stages) == 0 && inst.Command == "ARG":
			df.Args = append(df.Args, inst)
		case len(df.Stages) == 0:
			return nil, &LineError{File: name, Line: l.number, Err: fmt.Errorf("%s before FROM: only ARG may come before the first FROM", inst.Command)}
		default:
			last := &df.Stages[len(df.Stages)-1]
			last.Instructions = append(last.Instructions, inst)
		}
	}
	if len(df.Stages) == 0 {
		return nil, fmt.Errorf("%s: no FROM instruction: a Dockerfile starts FROM an image (or FROM scratch)", name)
	}
	return df, nil
}

type logicalLine struct {
	number int
	text   string
}

// logicalLines joins continuation lines (a backslash at the end of a line) and drops
// comments and blank lines. Comment lines inside a continuation are dropped too, as
// Docker drops them, so a long RUN can be commented line by line.
func logicalLines(r io.Reader) ([]logicalLine, error) {
	var out []logicalLine
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	var cur strings.Builder
	start, number, continuing := 0, 0, false
	for sc.Scan() {
		number++
		raw := strings.TrimRight(sc.Text(), " \t\r")
		trimmed := strings.TrimSpace(raw)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		if !continuing {
			start = number
			raw = trimmed
		}
		if body, ok := strings.CutSuffix(raw, `\`); ok {
			cur.WriteString(body)
			continuing = true
			continue
		}
		cur.WriteString(raw)
		out = append(out, logicalLine{start, cur.String()})
		cur.Reset()
		continuing = false
	}
	if continuing && strings.TrimSpace(cur.String()) != "" {
		out = append(out, logicalLine{start, cur.String()})
	}
	return out, sc.Err()
}

// parseInstruction splits one logical line into an Instruction and checks its shape.
func parseInstruction(line int, text string) (Instruction, error) {
	command, rest := cutSpace(strings.TrimSpace(text))
	inst := Instruction{Line: line, Command: strings.ToUpper(command), Flags: map[string]string{}}
	rest = strings.TrimSpace(rest)
	inst.Text = strings.TrimSpace(inst.Command + " " + rest)
	if unsupported[inst.Command] {
		return inst, fmt.Errorf("%s is not supported by this builder", inst.Command)
	}
	if _, known := parsers[inst.Command]; !known {
		return inst, fmt.Errorf("unknown instruction %s", command)
	}
	for strings.HasPrefix(rest, "--") {
		word, after := cutSpace(rest)
		name, value, _ := strings.Cut(strings.TrimPrefix(word, "--"), "=")
		allowed := false
		for _, f := range flagsOf[inst.Command] {
			allowed = allowed || f == name
		}
		if !allowed {
			return inst, fmt.Errorf("%s does not take the option --%s", inst.Command, name)
		}
		if value == "" {
			return inst, fmt.Errorf("%s --%s needs a value: --%s=VALUE", inst.Command, name, name)
		}
		inst.Flags[name] = value
		rest = strings.TrimSpace(after)
	}
	if rest == "" {
		return inst, fmt.Errorf("%s needs arguments", inst.Command)
	}
	return inst, parsers[inst.Command](&inst, rest)
}

// parsers read the arguments of each instruction.
var parsers = map[string]func(inst *Instruction, rest string) error{
	"FROM":        parseFrom,
	"RUN":         parseCommand,
	"CMD":         parseCommand,
	"ENTRYPOINT":  parseCommand,
	"SHELL":       parseShell,
	"COPY":        parseCopy,
	"ADD":         parseCopy,
	"ENV":         parseKeyValues,
	"LABEL":       parseKeyValues,
	"ARG":         parseArg,
	"WORKDIR":     parseString,
	"USER":        parseString,
	"STOPSIGNAL":  parseString,
	"MAINTAINER":  parseString,
	"EXPOSE":      parseWordList,
	"VOLUME":      parseVolume,
	"ONBUILD":     nil,
	"HEALTHCHECK": parseHealthcheck,
}

func parseFrom(inst *Instruction, rest string) error {
	words, err := splitWords(rest)
	if err != nil {
		return err
	}
	switch {
	case len(words) == 1:
	case len(words) == 3 && strings.EqualFold(words[1], "AS"):
		if !stageName().MatchString(strings.ToLower(words[2])) {
			return fmt.Errorf("invalid stage name %q: use letters, digits, '-', '_' and '.', starting with a letter", words[2])
		}
	default:
		return fmt.Errorf("FROM takes an image and optionally AS NAME, not %q", rest)
	}
	inst.Args = words
	return nil
}

// jsonArray reads the exec form, a JSON array of strings. Anything else is shell form, as
// Docker decides: `CMD [not json` is a shell command.
func jsonArray(rest string) ([]string, bool) {
	if !strings.HasPrefix(rest, "[") {
		return nil, false
	}
	var args []string
	if err := json.Unmarshal([]byte(rest), &args); err != nil {
		return nil, false
	}
	return args, true
}

func parseCommand(inst *Instruction, rest string) error {
	if args, ok := jsonArray(rest); ok {
		inst.Args, inst.JSON = args, true
		if len(args) == 0 && inst.Command == "RUN" {
			return errors.New("RUN needs a command")
		}
		return nil
	}
	inst.Args = []string{rest}
	return nil
}

// parseHealthcheck reads HEALTHCHECK NONE, or HEALTHCHECK CMD and a command in either form:
// the arguments become the config's test, ["NONE"], ["CMD", ...] or ["CMD-SHELL", LINE].
func parseHealthcheck(inst *Instruction, rest string) error {
	kind, command := cutSpace(rest)
	switch strings.ToUpper(kind) {
	case "NONE":
		if strings.TrimSpace(command) != "" || len(inst.Flags) > 0 {
			return errors.New("HEALTHCHECK NONE takes no command and no options")
		}
		inst.Args = []string{"NONE"}
		return nil
	case "CMD":
		command = strings.TrimSpace(command)
		if command == "" {
			return errors.New("HEALTHCHECK CMD needs a command")
		}
		if args, ok := jsonArray(command); ok {
			if len(args) == 0 {
				return errors.New("HEALTHCHECK CMD needs a command")
			}
			inst.Args, inst.JSON = append([]string{"CMD"}, args...), true
			return nil
		}
		inst.Args = []string{"CMD-SHELL", command}
		return nil
	}
	return fmt.Errorf("HEALTHCHECK takes NONE or CMD COMMAND, not %q", kind)
}

func parseShell(inst *Instruction, rest string) error {
	args, ok := jsonArray(rest)
	if !ok || len(args) == 0 {
		return fmt.Errorf(`SHELL takes a JSON array: SHELL ["/bin/sh", "-c"]`)
	}
	inst.Args, inst.JSON = args, true
	return nil
}

func parseCopy(inst *Instruction, rest string) error {
	args, ok := jsonArray(rest)
	if !ok {
		var err error
		if args, err = splitWords(rest); err != nil {
			return err
		}
	}
	if len(args) < 2 {
		return fmt.Errorf("%s needs a source and a destination: %s SRC... DEST", inst.Command, inst.Command)
	}
	inst.Args, inst.JSON = args, ok
	return nil
}

// parseKeyValues reads ENV and LABEL: "K=V K2=V2 ..." or the older "K V", where the value
// is the rest of the line.
func parseKeyValues(inst *Instruction, rest string) error {
	words, err := splitWords(rest)
	if err != nil {
		return err
	}
	if !strings.Contains(words[0], "=") {
		key, value := cutSpace(rest)
		if inst.Command == "LABEL" || value == "" {
			return fmt.Errorf("%s %s needs a value: %s NAME=VALUE", inst.Command, key, inst.Command)
		}
		inst.Args = []string{key, value}
		return nil
	}
	for _, w := range words {
		key, value, ok := strings.Cut(w, "=")
		if !ok || key == "" {
			return fmt.Errorf("%s: %q is not NAME=VALUE", inst.Command, w)
		}
		inst.Args = append(inst.Args, key, value)
	}
	return nil
}

func parseArg(inst *Instruction, rest string) error {
	words, err := splitWords(rest)
	if err != nil {
		return err
	}
	for _, w := range words {
		key, value, ok := strings.Cut(w, "=")
		if !validName(key) {
			return fmt.Errorf("ARG: invalid name %q", key)
		}
		if !ok {
			value = noDefault
		}
		inst.Args = append(inst.Args, key, value)
	}
	return nil
}

func parseString(inst *Instruction, rest string) error {
	inst.Args = []string{rest}
	return nil
}

func parseWordList(inst *Instruction, rest string) error {
	var err error
	inst.Args, err = splitWords(rest)
	return err
}

func parseVolume(inst *Instruction, rest string) error {
	if args, ok := jsonArray(rest); ok {
		inst.Args, inst.JSON = args, true
		return nil
	}
	return parseWordList(inst, rest)
}

// splitWords splits at white space outside quotes, keeping quotes and backslashes for
// Expand, which removes them.
func splitWords(s string) ([]string, error) {
	var words []string
	var b strings.Builder
	var quote rune
	inWord, escaped := false, false
	for _, r := range s {
		switch {
		case escaped:
			escaped = false
		case r == '\\' && quote != '\'':
			escaped = true
		case quote != 0:
			if r == quote {
				quote = 0
			}
		case r == '\'' || r == '"':
			quote = r
		case unicode.IsSpace(r):
			if inWord {
				words = append(words, b.String())
				b.Reset()
				inWord = false
			}
			continue
		}
		b.WriteRune(r)
		inWord = true
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated %c quote in %q", quote, s)
	}
	if inWord {
		words = append(words, b.String())
	}
	return words, nil
}

func validName(name string) bool {
	if name == "" || unicode.IsDigit(rune(name[0])) {
		return false
	}
	for _, r := range name {
		if r != '_' && !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			return false
		}
	}
	return true
}

// cutSpace splits s at its first white space into a word and the trimmed rest.
func cutSpace(s string) (string, string) {
	i := strings.IndexFunc(s, unicode.IsSpace)
	if i < 0 {
		return s, ""
	}
	return s[:i], strings.TrimSpace(s[i:])
}
