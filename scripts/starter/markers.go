package main

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/printer"
	"go/token"
	"regexp"
	"strconv"
	"strings"
)

// markerLine matches the three kinds of marker line:
//
//	// lab:04 begin: a one-line hint for the learner
//	// lab:04 starter:
//	// lab:04 end
var markerLine = regexp.MustCompile(`^(\s*)// lab:(\d\d) (begin|starter|end)(:.*)?$`)

var versionSuffix = regexp.MustCompile(`^v\d+$`)

// region is one marked stretch of a lab's solution.
type region struct {
	lab   int
	hint  string
	begin int // the line numbers (1-based) of the markers; starter is 0 without one
	stop  int
	// starter holds the replacement written under "// lab:NN starter:", uncommented; nil
	// when the region has none and gets the default one.
	starter []string
	indent  string
}

// todo is one step a starter leaves to the learner, for STARTER.md.
type todo struct {
	Lab  int
	File string
	Line int
	Hint string
}

// parseRegions finds the marked regions of a Go source file and checks that they are well
// formed: each begin has a hint and an end of the same lab, regions do not nest, and a
// starter section holds only comment lines.
func parseRegions(name string, lines []string) ([]region, error) {
	var regions []region
	var open *region
	inStarter := false
	for i, line := range lines {
		n := i + 1
		m := markerLine.FindStringSubmatch(line)
		if m == nil {
			if inStarter {
				text := strings.TrimSpace(line)
				if !strings.HasPrefix(text, "//") {
					return nil, fmt.Errorf("%s:%d: a starter section holds only comment lines (the replacement code, commented out)", name, n)
				}
				text = strings.TrimPrefix(text, "//")
				open.starter = append(open.starter, strings.TrimPrefix(text, " "))
			}
			if strings.HasPrefix(strings.TrimSpace(line), "// lab:") {
				return nil, fmt.Errorf("%s:%d: malformed marker %q (want `// lab:NN begin: HINT`, `// lab:NN starter:` or `// lab:NN end`)", name, n, strings.TrimSpace(line))
			}
			continue
		}
		lab, _ := strconv.Atoi(m[2])
		kind, rest := m[3], strings.TrimSpace(strings.TrimPrefix(m[4], ":"))
		switch {
		case kind == "begin" && open != nil:
			return nil, fmt.Errorf("%s:%d: lab:%02d begins inside the region of lab:%02d that begins on line %d", name, n, lab, open.lab, open.begin)
		case kind == "begin" && rest == "":
			return nil, fmt.Errorf("%s:%d: lab:%02d begin needs a hint: `// lab:%02d begin: what to write`", name, n, lab, lab)
		case kind == "begin":
			open = &region{lab: lab, hint: rest, begin: n, indent: m[1]}
		case open == nil:
			return nil, fmt.Errorf("%s:%d: lab:%02d %s without a begin", name, n, lab, kind)
		case lab != open.lab:
			return nil, fmt.Errorf("%s:%d: lab:%02d %s inside the region of lab:%02d that begins on line %d", name, n, lab, kind, open.lab, open.begin)
		case kind == "starter" && inStarter:
			return nil, fmt.Errorf("%s:%d: a second starter section in one region", name, n)
		case kind == "starter":
			inStarter = true
			open.starter = []string{}
		default: // end
			open.stop = n
			regions = append(regions, *open)
			open, inStarter = nil, false
		}
	}
	if open != nil {
		return nil, fmt.Errorf("%s:%d: lab:%02d begins here and never ends", name, open.begin, open.lab)
	}
	return regions, nil
}

// transform returns the starter version of a Go source file for lab: regions of earlier
// labs keep their solution, without markers; regions of lab and later labs are replaced by
// a TODO comment and their starter code (see defaultStarter). Imports the replacement no
// longer uses are dropped, and errors is added when the replacement needs it. It returns
// nil if the file has no markers.
func transform(name string, src []byte, lab int) ([]byte, []todo, error) {
	return transformRegions(name, src, func(r region) bool { return r.lab >= lab })
}

// transformRegions is transform with the choice of regions to replace made by blank.
func transformRegions(name string, src []byte, blank func(region) bool) ([]byte, []todo, error) {
	lines := strings.Split(string(src), "\n")
	regions, err := parseRegions(name, lines)
	if err != nil || len(regions) == 0 {
		return nil, nil, err
	}
	var fset *token.FileSet
	var file *ast.File
	var out []string
	next := 0
	for _, r := range regions {
		out = append(out, lines[next:r.begin-1]...)
		next = r.stop
		if !blank(r) {
			solution := lines[r.begin : r.stop-1]
			if r.starter != nil {
				solution = lines[r.begin : r.stop-2-len(r.starter)]
			}
			out = append(out, solution...)
			continue
		}
		out = append(out, fmt.Sprintf("%s// TODO(lab %02d): %s", r.indent, r.lab, r.hint))
		replacement := r.starter
		if replacement == nil {
			if file == nil {
				fset = token.NewFileSet()
				if file, err = parser.ParseFile(fset, name, src, 0); err != nil {
					return nil, nil, err
				}
			}
			replacement = defaultStarter(fset, file, name, r)
		}
		for _, line := range replacement {
			out = append(out, r.indent+line)
		}
	}
	out = append(out, lines[next:]...)
	result, err := fixImports(name, []byte(strings.Join(out, "\n")))
	if err != nil {
		return nil, nil, err
	}
	var todos []todo
	for i, line := range strings.Split(string(result), "\n") {
		if _, rest, ok := strings.Cut(line, "// TODO(lab "); ok {
			n, _ := strconv.Atoi(rest[:2])
			todos = append(todos, todo{Lab: n, File: name, Line: i + 1, Hint: strings.TrimPrefix(rest[2:], "): ")})
		}
	}
	return result, todos, nil
}

// defaultStarter is the replacement of a region that brings none: when the region is the
// last part of a function that returns something, a return of zero values and a TODO
// error (or, for a function without an error result, a panic with the TODO); otherwise a
// line on stderr, "TODO(lab NN): HINT (skipped)", and the step is skipped.
func defaultStarter(fset *token.FileSet, file *ast.File, name string, r region) []string {
	// A skipped step says so on stderr when the program reaches it, so that the learner,
	// and the grader, can name what was left out.
	skipped := []string{"fmt.Fprintln(os.Stderr, " + strconv.Quote(fmt.Sprintf("TODO(lab %02d): %s (skipped)", r.lab, r.hint)) + ")"}
	body, results := enclosingFunc(fset, file, r)
	if body == nil || results == nil || len(results.List) == 0 {
		return skipped
	}
	for _, stmt := range body.List {
		if fset.Position(stmt.Pos()).Line > r.stop {
			return skipped // statements follow the region: it is a step, not the function's end
		}
		if start, end := fset.Position(stmt.Pos()).Line, fset.Position(stmt.End()).Line; start < r.begin && end > r.begin {
			return skipped // the region lies inside a statement (a loop, an if), not in the body
		}
	}
	message := strconv.Quote(fmt.Sprintf("TODO(lab %02d): %s", r.lab, r.hint))
	var types []ast.Expr
	for _, field := range results.List {
		for range max(1, len(field.Names)) {
			types = append(types, field.Type)
		}
	}
	last, ok := types[len(types)-1].(*ast.Ident)
	if !ok || last.Name != "error" {
		return []string{"panic(" + message + ")"}
	}
	var values []string
	for _, t := range types[:len(types)-1] {
		values = append(values, zeroValue(fset, file, t))
	}
	return []string{"return " + strings.Join(append(values, "errors.New("+message+")"), ", ")}
}

// enclosingFunc finds the innermost function (declared or literal) whose body holds the
// region, and its results.
func enclosingFunc(fset *token.FileSet, file *ast.File, r region) (*ast.BlockStmt, *ast.FieldList) {
	var body *ast.BlockStmt
	var results *ast.FieldList
	ast.Inspect(file, func(n ast.Node) bool {
		var b *ast.BlockStmt
		var t *ast.FuncType
		switch f := n.(type) {
		case *ast.FuncDecl:
			b, t = f.Body, f.Type
		case *ast.FuncLit:
			b, t = f.Body, f.Type
		default:
			return true
		}
		if b != nil && fset.Position(b.Lbrace).Line < r.begin && fset.Position(b.Rbrace).Line > r.stop {
			body, results = b, t.Results
		}
		return true
	})
	return body, results
}

// zeroValue spells the zero value of a type: nil, 0, "", false, T{} for a struct or array
// type, and *new(T) where the type's kind is not visible from this file.
func zeroValue(fset *token.FileSet, file *ast.File, t ast.Expr) string {
	switch t := t.(type) {
	case *ast.StarExpr, *ast.MapType, *ast.ChanType, *ast.FuncType, *ast.InterfaceType:
		return "nil"
	case *ast.ArrayType:
		if t.Len == nil {
			return "nil"
		}
		return exprString(fset, t) + "{}"
	case *ast.Ident:
		switch t.Name {
		case "string":
			return `""`
		case "bool":
			return "false"
		case "any":
			return "nil"
		case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64",
			"uintptr", "float32", "float64", "complex64", "complex128", "byte", "rune":
			return "0"
		}
		if spec := localType(file, t.Name); spec != nil {
			if _, ok := spec.Type.(*ast.StructType); ok {
				return t.Name + "{}"
			}
		}
	}
	return "*new(" + exprString(fset, t) + ")"
}

// localType finds the declaration of a type named in the same file.
func localType(file *ast.File, name string) *ast.TypeSpec {
	for _, decl := range file.Decls {
		if gen, ok := decl.(*ast.GenDecl); ok && gen.Tok == token.TYPE {
			for _, spec := range gen.Specs {
				if ts := spec.(*ast.TypeSpec); ts.Name.Name == name {
					return ts
				}
			}
		}
	}
	return nil
}

func exprString(fset *token.FileSet, e ast.Expr) string {
	var b bytes.Buffer
	_ = printer.Fprint(&b, fset, e)
	return b.String()
}

// fixImports drops the imports a file no longer uses once its regions are replaced, adds
// "errors", "fmt" and "os" when a replacement uses them and the file does not import them,
// and formats the result as gofmt does.
func fixImports(name string, src []byte) ([]byte, error) {
	fset := token.NewFileSet()
	file, err := parser.ParseFile(fset, name, src, 0)
	if err != nil {
		return nil, fmt.Errorf("the starter version of %s does not parse (check the region's starter code): %w", name, err)
	}
	used := map[string]bool{}
	ast.Inspect(file, func(n ast.Node) bool {
		// A package name is an identifier the parser could not resolve in the file.
		if sel, ok := n.(*ast.SelectorExpr); ok {
			if id, ok := sel.X.(*ast.Ident); ok && id.Obj == nil {
				used[id.Name] = true
			}
		}
		return true
	})
	lines := strings.Split(string(src), "\n")
	drop := map[int]bool{}
	imported := map[string]bool{}
	var parenLine int
	for _, decl := range file.Decls {
		gen, ok := decl.(*ast.GenDecl)
		if !ok || gen.Tok != token.IMPORT {
			continue
		}
		kept := 0
		for _, spec := range gen.Specs {
			is := spec.(*ast.ImportSpec)
			path, _ := strconv.Unquote(is.Path.Value)
			pkg := packageName(is, path)
			imported[pkg] = true
			if pkg == "" || used[pkg] {
				kept++
				continue
			}
			for l := fset.Position(is.Pos()).Line; l <= fset.Position(is.End()).Line; l++ {
				drop[l] = true
			}
		}
		if kept == 0 {
			for l := fset.Position(gen.Pos()).Line; l <= fset.Position(gen.End()).Line; l++ {
				drop[l] = true
			}
		} else if gen.Lparen.IsValid() && parenLine == 0 {
			parenLine = fset.Position(gen.Lparen).Line
		}
	}
	// The packages a replacement may call that the file may not import yet.
	var add []string
	for _, pkg := range []string{"errors", "fmt", "os"} {
		if used[pkg] && !imported[pkg] {
			add = append(add, pkg)
		}
	}
	var out []string
	for i, line := range lines {
		n := i + 1
		if !drop[n] {
			out = append(out, line)
		}
		for _, pkg := range add {
			switch {
			case parenLine == n:
				out = append(out, "\t"+strconv.Quote(pkg))
			case parenLine == 0 && n == fset.Position(file.Name.End()).Line:
				out = append(out, "", "import "+strconv.Quote(pkg))
			}
		}
	}
	formatted, err := format.Source([]byte(strings.Join(out, "\n")))
	if err != nil {
		return nil, fmt.Errorf("format the starter version of %s: %w", name, err)
	}
	return formatted, nil
}

// packageName is the name an import is used by: its explicit name, or the last element of
// its path. It is "" for blank and dot imports, and for paths whose last element may not be
// the package's name (specs-go, or v2, which is a version suffix in some paths and a
// package in others): those are always kept.
func packageName(is *ast.ImportSpec, path string) string {
	if is.Name != nil {
		if is.Name.Name == "_" || is.Name.Name == "." {
			return ""
		}
		return is.Name.Name
	}
	last := path[strings.LastIndex(path, "/")+1:]
	if !token.IsIdentifier(last) || versionSuffix.MatchString(last) {
		return ""
	}
	return last
}
