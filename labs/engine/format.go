package engine

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"text/template"
	"unicode"
)

// Format is a --format argument: a Go text/template, with Docker's template functions,
// that `inspect`, `ps`, `images` and `volume ls` run over each thing they show. A format
// that starts with "table" prints aligned columns under a header row, as Docker's does.
type Format struct {
	tmpl  *template.Template
	table bool
}

// templateFuncs are the functions Docker's --format templates have.
var templateFuncs = template.FuncMap{
	"json": func(v any) (string, error) {
		data, err := json.Marshal(v)
		return string(data), err
	},
	"upper":   strings.ToUpper,
	"lower":   strings.ToLower,
	"join":    strings.Join,
	"split":   strings.Split,
	"title":   title,
	"println": fmt.Sprintln,
}

// title upper-cases the first letter of each word (strings.Title without its deprecation).
func title(s string) string {
	var b strings.Builder
	start := true
	for _, r := range s {
		if start {
			r = unicode.ToUpper(r)
		}
		start = unicode.IsSpace(r)
		b.WriteRune(r)
	}
	return b.String()
}

// ParseFormat parses a --format argument. The two characters \t and \n, as a shell passes
// them from single quotes, stand for a tab and a newline.
func ParseFormat(text string) (*Format, error) {
	f := &Format{}
	if rest, ok := strings.CutPrefix(text, "table"); ok && (rest == "" || unicode.IsSpace(rune(rest[0]))) {
		f.table, text = true, strings.TrimLeftFunc(rest, unicode.IsSpace)
	}
	text = strings.NewReplacer(`\t`, "\t", `\n`, "\n").Replace(text)
	tmpl, err := template.New("format").Funcs(templateFuncs).Option("missingkey=error").Parse(text)
	if err != nil {
		return nil, fmt.Errorf("--format %q: %w", text, err)
	}
	f.tmpl = tmpl
	return f, nil
}

// Table reports whether the format asked for a table ("table {{.ID}}\t{{.Names}}").
func (f *Format) Table() bool { return f.table }

// Execute writes v through the template, and a newline.
func (f *Format) Execute(w io.Writer, v any) error {
	var b bytes.Buffer
	if err := f.tmpl.Execute(&b, v); err != nil {
		return fmt.Errorf("--format: %w", err)
	}
	b.WriteByte('\n')
	_, err := w.Write(b.Bytes())
	return err
}

// WriteRows writes rows through the format, one line each. A table format first writes
// header through the same template (the header is a row whose fields are the column
// titles) and aligns the columns at the tabs.
func WriteRows[T any](w io.Writer, f *Format, header T, rows []T) error {
	out := w
	var tw *tabwriter.Writer
	if f.table {
		tw = tabwriter.NewWriter(w, 0, 4, 3, ' ', 0)
		out = tw
		if err := f.Execute(out, header); err != nil {
			return err
		}
	}
	for _, row := range rows {
		if err := f.Execute(out, row); err != nil {
			return err
		}
	}
	if tw != nil {
		return tw.Flush()
	}
	return nil
}

// Document turns v into the document inspect prints and --format templates run over: its
// JSON, decoded into maps, so that a template names the keys the JSON shows
// ({{.NetworkSettings.IPAddress}}, {{.Id}}), as Docker's inspect does. Whole numbers stay
// integers, so {{.State.Pid}} prints 4242, never 4.242e+03, and `eq .State.ExitCode 0` works.
func Document(v any) (any, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, err
	}
	return wholeNumbers(doc), nil
}

func wholeNumbers(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			t[k] = wholeNumbers(x)
		}
	case []any:
		for i, x := range t {
			t[i] = wholeNumbers(x)
		}
	case json.Number:
		if n, err := t.Int64(); err == nil {
			return n
		}
		f, _ := t.Float64()
		return f
	}
	return v
}
