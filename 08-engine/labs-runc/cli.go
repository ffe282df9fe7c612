package main

import (
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// The command line's machinery: flags the way runc's (urfave/cli) takes them, and help
// pages in its layout, which runc's own tests read (`-h` prints "NAME:" and then
// "labs-runc COMMAND - ...").

// option is one flag of a command: its names (the first is the long one), the name of its
// value ("" for a switch) and what it does.
type option struct {
	names []string
	value string
	usage string
}

// command is one subcommand.
type command struct {
	name string
	// args is the usage line after the options, e.g. "<container-id>".
	args    string
	summary string
	// description explains the command further on its help page.
	description string
	options     []option
	// interspersed lets options follow the arguments (`update ID --pids-limit 10`), as
	// runc's commands do, except those whose later arguments are a command line of their
	// own (exec, ps).
	interspersed bool
	// raw passes the arguments on unparsed (checkpoint, restore: refused whatever they say).
	raw bool
	run func(g *globals, p *parsed) (int, error)
}

// parsed is a command line after its options: the values of the options by long name, and
// the arguments.
type parsed struct {
	cmd    *command
	values map[string]*optionValue
	args   []string
}

// optionValue collects every value an option was given (--env A=1 --env B=2).
type optionValue struct {
	isSwitch bool
	values   []string
}

func (v *optionValue) String() string     { return strings.Join(v.values, ",") }
func (v *optionValue) Set(s string) error { v.values = append(v.values, s); return nil }
func (v *optionValue) IsBoolFlag() bool   { return v.isSwitch }

// errUsage marks a command line that makes no sense; it exits 1, as runc's do.
type errUsage struct{ msg string }

func (e errUsage) Error() string { return e.msg }

func usagef(format string, args ...any) error { return errUsage{fmt.Sprintf(format, args...)} }

// parse reads a command's options and arguments. -h and --help are every command's.
func (c *command) parse(args []string) (*parsed, bool, error) {
	p := &parsed{cmd: c, values: map[string]*optionValue{}}
	if c.raw {
		for _, a := range args {
			if a == "-h" || a == "--help" {
				return p, true, nil
			}
		}
		p.args = args
		return p, false, nil
	}
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	for _, o := range append([]option{{names: []string{"help", "h"}}}, c.options...) {
		v := &optionValue{isSwitch: o.value == ""}
		p.values[o.names[0]] = v
		for _, name := range o.names {
			if fs.Lookup(name) == nil {
				fs.Var(v, name, o.usage)
			}
		}
	}
	for {
		if err := fs.Parse(args); err != nil {
			return nil, false, usagef("%s: %v", c.name, err)
		}
		rest := fs.Args()
		// flag stops at the first argument, and after "--" (which it consumes).
		afterDashes := len(args) > len(rest) && args[len(args)-len(rest)-1] == "--"
		if len(rest) == 0 || !c.interspersed || afterDashes {
			p.args = append(p.args, rest...)
			return p, p.on("help"), nil
		}
		p.args = append(p.args, rest[0])
		args = rest[1:]
	}
}

// str is the last value of an option, or "".
func (p *parsed) str(name string) string {
	if v := p.values[name]; v != nil && len(v.values) > 0 {
		return v.values[len(v.values)-1]
	}
	return ""
}

// all is every value of an option.
func (p *parsed) all(name string) []string { return p.values[name].values }

// set reports whether an option was given.
func (p *parsed) set(name string) bool { return len(p.values[name].values) > 0 }

// on reports whether a switch was given (and not as --switch=false).
func (p *parsed) on(name string) bool {
	b, _ := strconv.ParseBool(p.str(name))
	return b
}

// integer reads an option as a whole number between lo and hi, with an error naming it.
func (p *parsed) integer(name string, lo, hi int64) (int64, error) {
	s := p.str(name)
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < lo || n > hi {
		return 0, usagef("--%s %q: want a whole number from %d to %d", name, s, lo, hi)
	}
	return n, nil
}

// id expects exactly one argument, the container's ID.
func (p *parsed) id() (string, error) {
	if len(p.args) != 1 {
		return "", usagef("%q requires exactly 1 argument, the container's ID (got %d); see `labs-runc %s --help`", p.cmd.name, len(p.args), p.cmd.name)
	}
	return p.args[0], nil
}

// help prints a command's help page in runc's layout.
func (c *command) help(w io.Writer) {
	fmt.Fprintf(w, "NAME:\n   labs-runc %s - %s\n\nUSAGE:\n   labs-runc %s", c.name, c.summary, c.name)
	if len(c.options) > 0 {
		fmt.Fprint(w, " [command options]")
	}
	fmt.Fprintf(w, " %s\n", c.args)
	if c.description != "" {
		fmt.Fprintf(w, "\nDESCRIPTION:\n%s\n", indent(c.description))
	}
	if len(c.options) > 0 {
		fmt.Fprint(w, "\nOPTIONS:\n")
		printOptions(w, c.options)
	}
}

func printOptions(w io.Writer, options []option) {
	var lefts []string
	width := 0
	for _, o := range options {
		var names []string
		for _, n := range o.names {
			dash := "--"
			if len(n) == 1 {
				dash = "-"
			}
			name := dash + n
			if o.value != "" {
				name += " " + o.value
			}
			names = append(names, name)
		}
		left := strings.Join(names, ", ")
		lefts = append(lefts, left)
		width = max(width, len(left))
	}
	for i, o := range options {
		fmt.Fprintf(w, "   %-*s  %s\n", width, lefts[i], o.usage)
	}
}

func indent(text string) string {
	lines := strings.Split(strings.TrimSpace(text), "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = "   " + l
		}
	}
	return strings.Join(lines, "\n")
}
