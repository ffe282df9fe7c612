package engine

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"containerlabs/labs/cgroup"
)

// Log defaults, as Docker's json-file driver's when rotation is turned on.
const (
	DefaultLogMaxSize = 10 << 20
	DefaultLogMaxFile = 3
	// MaxLogFiles bounds max-file: every rotation renames each kept file, so a number in
	// the millions would stall the monitor at each rotation.
	MaxLogFiles = 100
)

// ParseLogOptions reads --log-opt KEY=VALUE arguments into Config.LogMaxSize and
// LogMaxFile: max-size is a size with an optional unit (10k, 1m, 1.5g; 1k is 1024 bytes),
// max-file the number of files kept, the current one included.
//
// Equivalent to: `docker run --log-opt max-size=10m --log-opt max-file=3`.
func ParseLogOptions(opts []string, cfg *Config) error {
	for _, opt := range opts {
		key, value, _ := strings.Cut(opt, "=")
		switch key {
		case "max-size":
			size, err := cgroup.ParseSize(value)
			if err != nil {
				return fmt.Errorf("--log-opt %s: %w", opt, err)
			}
			cfg.LogMaxSize = size
		case "max-file":
			n, err := strconv.Atoi(value)
			if err != nil || n < 1 || n > MaxLogFiles {
				return fmt.Errorf("--log-opt %s: max-file is a number of files from 1 to %d", opt, MaxLogFiles)
			}
			cfg.LogMaxFile = n
		default:
			return fmt.Errorf("--log-opt %q: the json-file log knows max-size=SIZE and max-file=N", opt)
		}
	}
	return nil
}

// LogEntry is one line of a container's output, as the json-file log stores it: one JSON
// object per line, the format of Docker's json-file driver.
type LogEntry struct {
	Log    string    `json:"log"`
	Stream string    `json:"stream"`
	Time   time.Time `json:"time"`
}

// LogFile is a container's json-file log: container.log, and when it reaches MaxSize it
// becomes container.log.1 (and .1 becomes .2, ...), keeping MaxFile files in all. The monitor
// writes it; `logs` reads it, also after the container is gone from the kernel.
type LogFile struct {
	Path    string
	MaxSize int64
	MaxFile int

	mu   sync.Mutex
	f    *os.File
	size int64
}

// OpenLog opens (appending) the log in dir.
func OpenLog(dir string, maxSize int64, maxFile int) (*LogFile, error) {
	if maxSize <= 0 {
		maxSize = DefaultLogMaxSize
	}
	if maxFile <= 0 {
		maxFile = DefaultLogMaxFile
	}
	l := &LogFile{Path: filepath.Join(dir, "container.log"), MaxSize: maxSize, MaxFile: maxFile}
	if err := l.open(); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *LogFile) open() error {
	f, err := os.OpenFile(l.Path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("open log: %w", err)
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("open log: %w", err)
	}
	l.f, l.size = f, info.Size()
	return nil
}

// Write appends an entry, rotating first if it would overflow the file.
func (l *LogFile) Write(e LogEntry) error {
	line, err := json.Marshal(e)
	if err != nil {
		return err
	}
	line = append(line, '\n')
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.size > 0 && l.size+int64(len(line)) > l.MaxSize {
		if err := l.rotate(); err != nil {
			return err
		}
	}
	n, err := l.f.Write(line)
	l.size += int64(n)
	return err
}

// rotate shifts container.log.N-1 to .N, down to container.log itself, dropping the oldest.
func (l *LogFile) rotate() error {
	l.f.Close()
	for i := l.MaxFile - 1; i >= 1; i-- {
		from := l.Path
		if i > 1 {
			from = l.Path + "." + strconv.Itoa(i-1)
		}
		if err := os.Rename(from, l.Path+"."+strconv.Itoa(i)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("rotate log: %w", err)
		}
	}
	if l.MaxFile == 1 {
		os.Remove(l.Path)
	}
	return l.open()
}

// Close closes the log.
func (l *LogFile) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.Close()
}

// Stream returns a writer that logs everything written to it as the named stream
// ("stdout" or "stderr"), one entry per line, stamped with the time it arrived. If also is
// set, the output is copied there too (an attached terminal).
func (l *LogFile) Stream(name string, also io.Writer) io.Writer {
	return &streamWriter{log: l, name: name, also: also}
}

type streamWriter struct {
	log     *LogFile
	name    string
	also    io.Writer
	partial []byte
}

func (w *streamWriter) Write(p []byte) (int, error) {
	if w.also != nil {
		_, _ = w.also.Write(p)
	}
	w.partial = append(w.partial, p...)
	for {
		i := indexNewline(w.partial)
		if i < 0 {
			break
		}
		if err := w.log.Write(LogEntry{Log: string(w.partial[:i+1]), Stream: w.name, Time: time.Now().UTC()}); err != nil {
			return 0, err
		}
		w.partial = w.partial[i+1:]
	}
	return len(p), nil
}

// Flush logs a last line that did not end in a newline.
func Flush(w io.Writer) error {
	if sw, ok := w.(*streamWriter); ok && len(sw.partial) > 0 {
		err := sw.log.Write(LogEntry{Log: string(sw.partial), Stream: sw.name, Time: time.Now().UTC()})
		sw.partial = nil
		return err
	}
	return nil
}

func indexNewline(b []byte) int {
	for i, c := range b {
		if c == '\n' {
			return i
		}
	}
	return -1
}

// ReadLog returns the entries of the log in dir, oldest first, from the rotated files and
// the current one; with tail >= 0 only the last tail entries.
func ReadLog(dir string, tail int) ([]LogEntry, int64, error) {
	path := filepath.Join(dir, "container.log")
	// Rotation keeps the numbers contiguous: container.log.1, .2, ... up to the oldest.
	files := []string{path}
	for i := 1; ; i++ {
		rotated := path + "." + strconv.Itoa(i)
		if _, err := os.Stat(rotated); err != nil {
			break
		}
		files = append([]string{rotated}, files...)
	}
	var entries []LogEntry
	var offset int64
	for _, file := range files {
		got, end, err := readEntries(file, 0)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, 0, err
		}
		entries = append(entries, got...)
		if file == path {
			offset = end
		}
	}
	if tail >= 0 && len(entries) > tail {
		entries = entries[len(entries)-tail:]
	}
	return entries, offset, nil
}

// FollowLog returns the entries appended to the current log file since offset, and the new
// offset. A rotation since then restarts at the beginning of the new file.
func FollowLog(dir string, offset int64) ([]LogEntry, int64, error) {
	path := filepath.Join(dir, "container.log")
	info, err := os.Stat(path)
	if err != nil {
		return nil, offset, err
	}
	if info.Size() < offset {
		offset = 0
	}
	return readEntries(path, offset)
}

func readEntries(path string, offset int64) ([]LogEntry, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, offset, err
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return nil, offset, err
	}
	var entries []LogEntry
	r := bufio.NewReader(f)
	for {
		line, err := r.ReadBytes('\n')
		if len(line) > 0 && line[len(line)-1] == '\n' {
			var e LogEntry
			if json.Unmarshal(line, &e) == nil {
				entries = append(entries, e)
			}
			offset += int64(len(line))
		}
		if err != nil {
			// A line without its newline is still being written: read it next time.
			return entries, offset, nil
		}
	}
}
