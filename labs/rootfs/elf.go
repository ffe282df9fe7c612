package rootfs

import (
	"bufio"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Dependency is one file a dynamically linked program needs before its main function runs.
type Dependency struct {
	// Name is how the program or one of its libraries asks for it: the DT_NEEDED entry
	// ("libc.so.6"), or the interpreter path from PT_INTERP.
	Name string
	// Path is where the dynamic loader would find it on this host.
	Path string
	// Interpreter is true for the ELF interpreter (the dynamic loader itself).
	Interpreter bool
}

// Closure lists what program needs to start on this host, as `ldd` would: the ELF
// interpreter named in its PT_INTERP header, then every shared library in the transitive
// closure of its DT_NEEDED entries, each found where the dynamic loader would look (see
// ld.so(8)): the object's DT_RPATH (only when it has no DT_RUNPATH), its DT_RUNPATH, the
// directories of /etc/ld.so.conf, then the default directories. A statically linked program
// needs nothing and gets an empty list.
//
// Unlike ldd, Closure never runs the program: it only reads ELF headers, so it is safe on a
// binary you do not trust. It does not see libraries loaded at run time with dlopen(3),
// such as glibc's NSS modules.
func Closure(program string) ([]Dependency, error) {
	f, err := elf.Open(program)
	if err != nil {
		return nil, fmt.Errorf("read ELF headers of %s: %w", program, err)
	}
	defer f.Close()

	var deps []Dependency
	interp, err := interpreter(f)
	if err != nil {
		return nil, fmt.Errorf("read PT_INTERP of %s: %w", program, err)
	}
	if interp != "" {
		deps = append(deps, Dependency{Name: interp, Path: interp, Interpreter: true})
	}

	search, err := systemSearchPath()
	if err != nil {
		return nil, err
	}
	r := resolver{class: f.Class, machine: f.Machine, system: search, seen: map[string]bool{}}
	// libc names the loader in its DT_NEEDED too; it is already in the list.
	r.seen[filepath.Base(interp)] = interp != ""
	if err := r.walk(program, f, &deps); err != nil {
		return nil, err
	}
	return deps, nil
}

// resolver walks the DT_NEEDED graph, accepting only libraries of the program's own ELF
// class and machine, as the dynamic loader does when it skips a 32-bit libc on its path.
type resolver struct {
	class   elf.Class
	machine elf.Machine
	system  []string
	seen    map[string]bool
}

func (r *resolver) walk(path string, f *elf.File, deps *[]Dependency) error {
	// lab:01 begin: read f's DT_NEEDED entries; find each in the DT_RPATH, DT_RUNPATH and r.system directories (r.find); add it to deps once (r.seen) and walk its own
	needed, err := f.DynString(elf.DT_NEEDED)
	if err != nil {
		return fmt.Errorf("read DT_NEEDED of %s: %w", path, err)
	}
	rpath, _ := f.DynString(elf.DT_RPATH)
	runpath, _ := f.DynString(elf.DT_RUNPATH)
	var dirs []string
	origin := filepath.Dir(path)
	if len(runpath) == 0 {
		dirs = append(dirs, expandSearchList(rpath, origin)...)
	}
	dirs = append(dirs, expandSearchList(runpath, origin)...)
	dirs = append(dirs, r.system...)

	for _, name := range needed {
		if r.seen[name] {
			continue
		}
		lib, libFile, err := r.find(name, dirs)
		if err != nil {
			return fmt.Errorf("%s needs %s: %w", path, name, err)
		}
		r.seen[name] = true
		*deps = append(*deps, Dependency{Name: name, Path: lib})
		err = r.walk(lib, libFile, deps)
		libFile.Close()
		if err != nil {
			return err
		}
	}
	return nil
	// lab:01 end
}

func (r *resolver) find(name string, dirs []string) (string, *elf.File, error) {
	candidates := dirs
	if strings.Contains(name, "/") {
		candidates = []string{""}
	}
	for _, dir := range candidates {
		path := filepath.Join(dir, name)
		f, err := elf.Open(path)
		if err != nil {
			continue
		}
		if f.Class == r.class && f.Machine == r.machine {
			return path, f, nil
		}
		f.Close()
	}
	return "", nil, fmt.Errorf("not found in %s", strings.Join(dirs, ":"))
}

// interpreter returns the path in the PT_INTERP program header, or "" for a static binary.
func interpreter(f *elf.File) (string, error) {
	// lab:01 begin: find the PT_INTERP program header in f.Progs and return its contents without the trailing NUL ("" if there is none)
	for _, p := range f.Progs {
		if p.Type != elf.PT_INTERP {
			continue
		}
		data := make([]byte, p.Filesz)
		if _, err := p.ReadAt(data, 0); err != nil {
			return "", err
		}
		return strings.TrimRight(string(data), "\x00"), nil
	}
	return "", nil
	// lab:01 end
}

// Interpreter returns the ELF interpreter (dynamic loader) that program names in its
// PT_INTERP header, or "" when the program is statically linked.
func Interpreter(program string) (string, error) {
	f, err := elf.Open(program)
	if err != nil {
		return "", fmt.Errorf("read ELF headers of %s: %w", program, err)
	}
	defer f.Close()
	return interpreter(f)
}

// expandSearchList splits DT_RPATH/DT_RUNPATH values and expands $ORIGIN, the directory of
// the object that carries them.
func expandSearchList(values []string, origin string) []string {
	var dirs []string
	for _, v := range values {
		for dir := range strings.SplitSeq(v, ":") {
			dir = strings.ReplaceAll(dir, "${ORIGIN}", origin)
			dir = strings.ReplaceAll(dir, "$ORIGIN", origin)
			if dir != "" {
				dirs = append(dirs, dir)
			}
		}
	}
	return dirs
}

// systemSearchPath is what ld.so searches after an object's own paths: the directories
// listed in /etc/ld.so.conf (the source of ld.so.cache) and then the built-in defaults.
func systemSearchPath() ([]string, error) {
	dirs, err := readLdSoConf("/etc/ld.so.conf", map[string]bool{})
	if err != nil {
		return nil, err
	}
	return append(dirs, "/lib64", "/usr/lib64", "/lib", "/usr/lib"), nil
}

func readLdSoConf(path string, visited map[string]bool) ([]string, error) {
	if visited[path] {
		return nil, nil
	}
	visited[path] = true
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	defer f.Close()
	var dirs []string
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		line, _, _ := strings.Cut(scanner.Text(), "#")
		line = strings.TrimSpace(line)
		if pattern, ok := strings.CutPrefix(line, "include"); ok {
			pattern = strings.TrimSpace(pattern)
			if !filepath.IsAbs(pattern) {
				pattern = filepath.Join(filepath.Dir(path), pattern)
			}
			matches, _ := filepath.Glob(pattern)
			for _, m := range matches {
				more, err := readLdSoConf(m, visited)
				if err != nil {
					return nil, err
				}
				dirs = append(dirs, more...)
			}
			continue
		}
		if line != "" {
			dirs = append(dirs, line)
		}
	}
	if err := scanner.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return dirs, nil
}
