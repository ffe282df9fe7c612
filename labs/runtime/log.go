package runtime

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"
)

// Logger writes log lines the way runc does, so that tools that read runc's log read ours:
// "text" is logrus's `time="..." level=error msg="..."`, "json" is one object a line,
// {"level":"error","msg":"...","time":"RFC3339"}. containerd's shim passes
// `--log FILE --log-format json` and, when a command fails, shows the msg of the last
// "error" line of FILE to the user.
type Logger struct {
	mu    sync.Mutex
	w     io.Writer
	json  bool
	debug bool
}

// NewLogger returns a logger writing to w in format ("text" or "json"); debug lines are
// written only when debug is set (runc's --debug).
func NewLogger(w io.Writer, format string, debug bool) (*Logger, error) {
	switch format {
	case "", "text":
		return &Logger{w: w, debug: debug}, nil
	case "json":
		return &Logger{w: w, json: true, debug: debug}, nil
	}
	return nil, fmt.Errorf("unknown log format %q: want text or json", format)
}

// Errorf logs an error.
func (l *Logger) Errorf(format string, args ...any) { l.log("error", format, args...) }

// Warnf logs a warning: something went wrong that did not stop the command.
func (l *Logger) Warnf(format string, args ...any) { l.log("warning", format, args...) }

// Debugf logs a debug message, if the logger was made with debug.
func (l *Logger) Debugf(format string, args ...any) {
	if l != nil && l.debug {
		l.log("debug", format, args...)
	}
}

func (l *Logger) log(level, format string, args ...any) {
	if l == nil {
		return
	}
	msg := fmt.Sprintf(format, args...)
	now := time.Now().UTC().Format(time.RFC3339Nano)
	var line []byte
	if l.json {
		line, _ = json.Marshal(struct {
			Level string `json:"level"`
			Msg   string `json:"msg"`
			Time  string `json:"time"`
		}{level, msg, now})
	} else {
		line = []byte("time=" + strconv.Quote(now) + " level=" + level + " msg=" + strconv.Quote(msg))
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	_, _ = l.w.Write(append(line, '\n'))
}
