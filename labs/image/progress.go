package image

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// ProgressBar returns a callback for Options.Progress that draws a transfer's progress as
// one line of a terminal, redrawn in place, or nil (no progress) when term is not a
// terminal: a bar in a log file or a pipe is only noise.
func ProgressBar(term *os.File, what string) func(v1.Update) {
	if info, err := term.Stat(); err != nil || info.Mode()&os.ModeCharDevice == 0 {
		return nil
	}
	start := time.Now()
	return func(u v1.Update) {
		if u.Total == 0 {
			return
		}
		const width = 40
		done := int(width * u.Complete / u.Total)
		fmt.Fprintf(term, "\r%s [%s%s] %5.1f%% of %.1f MB", what,
			strings.Repeat("=", done), strings.Repeat(" ", width-done),
			100*float64(u.Complete)/float64(u.Total), float64(u.Total)/1e6)
		if u.Complete == u.Total {
			fmt.Fprintf(term, " in %.1fs\n", time.Since(start).Seconds())
		}
	}
}

// WriteArchive writes an archive (a save, an export) with write into the file path, or to
// standard output when path is "" or "-". A file that could not be written completely is
// removed: a truncated archive that looks whole is worse than none.
//
// Equivalent to: `docker save -o FILE`'s handling of FILE.
func WriteArchive(path string, write func(io.Writer) error) error {
	if path == "" || path == "-" {
		return write(os.Stdout)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	return f.Close()
}
