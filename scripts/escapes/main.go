// Command escapes runs the escape gallery against the labs and prints the matrix: one row per
// attack, one column per lab, each cell what the attack did there (open: it worked; closed:
// it failed). scripts/escapes.sh is the way to call it.
//
//	escapes [LAB...]              run TestEscapes of each lab (all by default), print the matrix
//	escapes --from-json FILE      print the matrix from an earlier `go test -json` run
//	escapes --expected [LAB...]   print the matrix the labs should produce (the walkthroughs
//	                              show it: README.md all of it, each lab its own column)
//
// Each cell is a graded check of its lab (see labs/labtest/gallery.go): a cell that differs
// from the expected matrix is printed in capitals with a "!", and the exit status is 1.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"containerlabs/labs/labtest"
)

var labNames = []string{"01-chroot", "02-proc", "03-namespaces", "04-cgroups", "05-overlay", "06-network", "07-images", "08-engine"}

func main() {
	fromJSON := flag.String("from-json", "", "read `go test -json` output from `FILE` (- for stdin) instead of running the gallery")
	expected := flag.Bool("expected", false, "print the expected matrix and exit")
	flag.Parse()
	labs, err := chosen(flag.Args())
	if err != nil {
		fmt.Fprintln(os.Stderr, "escapes:", err)
		os.Exit(2)
	}
	if *expected {
		fmt.Print(Matrix(nil, labs))
		return
	}
	var events io.Reader
	switch {
	case *fromJSON == "-":
		events = os.Stdin
	case *fromJSON != "":
		f, err := os.Open(*fromJSON)
		if err != nil {
			fmt.Fprintln(os.Stderr, "escapes:", err)
			os.Exit(2)
		}
		defer f.Close()
		events = f
	default:
		args := []string{"test", "-json", "-count=1", "-p=1", "-run", "^TestEscapes$"}
		for _, l := range labs {
			args = append(args, "./"+labNames[l-1]+"/")
		}
		cmd := exec.Command("go", args...)
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err == nil {
			err = cmd.Start()
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "escapes:", err)
			os.Exit(2)
		}
		defer cmd.Wait()
		events = out
	}
	observed, err := read(events)
	if err != nil {
		fmt.Fprintln(os.Stderr, "escapes:", err)
		os.Exit(2)
	}
	text := Matrix(observed, labs)
	fmt.Print(text)
	if strings.Contains(text, "!") {
		os.Exit(1)
	}
}

// chosen turns the command line's labs (3, 03 or 03-namespaces) into lab numbers.
func chosen(args []string) ([]int, error) {
	var labs []int
	for _, a := range args {
		number, _, _ := strings.Cut(filepath.Base(a), "-")
		n, err := strconv.Atoi(number)
		if err != nil || n < 1 || n > len(labNames) {
			return nil, fmt.Errorf("%q is not a lab (01 to %02d)", a, len(labNames))
		}
		labs = append(labs, n)
	}
	if len(labs) == 0 {
		for n := range labNames {
			labs = append(labs, n+1)
		}
	}
	sort.Ints(labs)
	return labs, nil
}

type cell struct {
	attack string
	lab    int
}

var logLine = regexp.MustCompile(labtest.GalleryLog + ` (\S+) (\d\d) (\S+)`)

// read collects the outcome of each gallery check from a `go test -json` stream: the
// outcome the check logged, or "skip" for a skipped one.
func read(r io.Reader) (map[cell]string, error) {
	observed := map[cell]string{}
	scanner := bufio.NewScanner(r)
	scanner.Buffer(make([]byte, 1024*1024), 16*1024*1024)
	for scanner.Scan() {
		var e struct{ Action, Package, Test, Output string }
		if json.Unmarshal(scanner.Bytes(), &e) != nil || !strings.HasPrefix(e.Test, "TestEscapes/") {
			continue
		}
		lab := 0
		for i, name := range labNames {
			if strings.HasSuffix(e.Package, "/"+name) {
				lab = i + 1
			}
		}
		name, _, _ := strings.Cut(strings.TrimPrefix(e.Test, "TestEscapes/escape_"), "_is_")
		switch {
		case e.Action == "output":
			if m := logLine.FindStringSubmatch(e.Output); m != nil {
				n, _ := strconv.Atoi(m[2])
				observed[cell{m[1], n}] = m[3]
			}
		case e.Action == "skip" && lab != 0:
			observed[cell{name, lab}] = "skip"
		}
	}
	return observed, scanner.Err()
}

// Matrix prints the gallery's matrix for the labs given (all when nil): the observed cells
// when observed is not nil, marked where they differ from what is expected, or else the
// expected ones; for all labs, a legend of the attacks follows.
func Matrix(observed map[cell]string, labs []int) string {
	if labs == nil {
		for n := range labNames {
			labs = append(labs, n+1)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%-8s", "attack")
	for _, n := range labs {
		fmt.Fprintf(&b, " %-7s", fmt.Sprintf("%02d", n))
	}
	b.WriteString(" closed by\n")
	for _, e := range labtest.Gallery {
		fmt.Fprintf(&b, "%-8s", e.Name)
		for _, n := range labs {
			want := e.Expected(n)
			got := want
			if observed != nil && want != "" {
				if got = observed[cell{e.Name, n}]; got == "" {
					got = "?"
				}
			}
			switch {
			case want == "":
				got = "-"
			case got != want && got != "skip":
				got = strings.ToUpper(got) + "!"
			}
			fmt.Fprintf(&b, " %-7s", got)
		}
		fmt.Fprintf(&b, " %02d %s\n", e.ClosedBy, e.By)
	}
	if len(labs) == len(labNames) {
		b.WriteString("\n")
		for _, e := range labtest.Gallery {
			fmt.Fprintf(&b, "%-8s %s\n", e.Name, e.Attack)
		}
	}
	return b.String()
}
