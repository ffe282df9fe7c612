package main

import (
	"fmt"
	"strconv"
	"strings"
)

// options is a small command-line parser with Docker's conventions, which the standard
// flag package does not have: short and long names for one option (-d, --detach), short
// booleans run together (-dit), repeated options (-e A -e B), values after "=" or as the
// next argument, and options anywhere among the arguments unless the command stops at its
// first argument (run stops at the image: what follows is the container's command).
type options struct {
	command string
	defs    []*option
	byName  map[string]*option
}

type option struct {
	names  []string
	isBool bool
	values []string
	set    bool
	usage  string
}

func newOptions(command string) *options {
	return &options{command: command, byName: map[string]*option{}}
}

func (o *options) add(names string, isBool bool, usage string) *option {
	opt := &option{names: strings.Split(names, ","), isBool: isBool, usage: usage}
	for _, n := range opt.names {
		o.byName[n] = opt
	}
	o.defs = append(o.defs, opt)
	return opt
}

// Bool defines a flag: names is "-d,--detach".
func (o *options) Bool(names, usage string) *option { return o.add(names, true, usage) }

// String defines an option that takes a value; repeated, it keeps every value.
func (o *options) String(names, usage string) *option { return o.add(names, false, usage) }

// parse reads args; with stopAtFirst, the first non-option ends the options.
func (o *options) parse(args []string, stopAtFirst bool) ([]string, error) {
	var rest []string
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if arg == "--" {
			return append(rest, args[i+1:]...), nil
		}
		if !strings.HasPrefix(arg, "-") || arg == "-" {
			if stopAtFirst {
				return append(rest, args[i:]...), nil
			}
			rest = append(rest, arg)
			continue
		}
		name, value, hasValue := strings.Cut(arg, "=")
		opt := o.byName[name]
		if opt == nil && !strings.HasPrefix(arg, "--") && len(arg) > 2 && !hasValue {
			// -dit: short booleans run together.
			for _, c := range arg[1:] {
				short := o.byName["-"+string(c)]
				if short == nil || !short.isBool {
					return nil, fmt.Errorf("%s: unknown option %s in %s", o.command, "-"+string(c), arg)
				}
				short.set = true
			}
			continue
		}
		if opt == nil {
			return nil, fmt.Errorf("%s: unknown option %s (see %s --help)", o.command, name, o.command)
		}
		opt.set = true
		if opt.isBool {
			if hasValue && value == "false" {
				opt.set = false
			}
			continue
		}
		if !hasValue {
			if i+1 >= len(args) {
				return nil, fmt.Errorf("%s: option %s needs a value", o.command, name)
			}
			i++
			value = args[i]
		}
		opt.values = append(opt.values, value)
	}
	return rest, nil
}

// help describes the options.
func (o *options) help() string {
	var b strings.Builder
	for _, opt := range o.defs {
		names := strings.Join(opt.names, ", ")
		if !opt.isBool {
			names += " VALUE"
		}
		fmt.Fprintf(&b, "  %-28s %s\n", names, opt.usage)
	}
	return b.String()
}

func (opt *option) Value() string {
	if len(opt.values) == 0 {
		return ""
	}
	return opt.values[len(opt.values)-1]
}

// IntIn reads the option's value as a whole number from min to max, or def when the option
// is not given. Every number the command line takes goes through here (or a parser of
// labs/ that checks its own range), so a value past the end of an int, or past what the
// kernel takes, is refused with its name before anything is made, never cut down to fit.
func (opt *option) IntIn(def, min, max int) (int, error) {
	if !opt.set {
		return def, nil
	}
	n, err := strconv.Atoi(opt.Value())
	if err != nil || n < min || n > max {
		return 0, fmt.Errorf("%s %q: want a whole number from %d to %d", opt.names[len(opt.names)-1], opt.Value(), min, max)
	}
	return n, nil
}

// Ranges of the numeric options. A timeout in seconds must fit in a time.Duration (about 292
// years) once multiplied; 2^31-1 seconds is 68 years. The kernel allows at most 2^22
// processes (PID_MAX_LIMIT), so a larger pids limit could not be written to pids.max.
const (
	maxSeconds   = 1<<31 - 1
	maxLines     = 1<<31 - 1
	maxPidsLimit = 1 << 22
)
