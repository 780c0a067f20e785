package agent

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// The files of one script result under out/<name>.<result id>/ (protocol.md §6.1): the
// combined output, stdout, stderr and the result file the script may write. The process
// writes the first three through an outputSink of capped files (capfile.go); capture.go
// makes them into the result.

// outputFiles are the paths of one script result's files.
type outputFiles struct {
	Dir      string
	Combined string // <name>
	Stdout   string // <name>.out
	Stderr   string // <name>.err
	Result   string // <name>.yaml
}

func newOutputFiles(outDir string, s *Script) outputFiles {
	dir := filepath.Join(outDir, s.OutName())
	return outputFiles{
		Dir:      dir,
		Combined: filepath.Join(dir, s.Name),
		Stdout:   filepath.Join(dir, s.Name+".out"),
		Stderr:   filepath.Join(dir, s.Name+".err"),
		Result:   filepath.Join(dir, s.Name+".yaml"),
	}
}

// reset prepares an empty output directory. The old files are removed, never rewritten in
// place, so that the journal's links to them keep their content.
func (o outputFiles) reset() error {
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return fmt.Errorf("create output directory: %w", err)
	}
	for _, p := range []string{o.Combined, o.Stdout, o.Stderr, o.Result} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("clear output: %w", err)
		}
	}
	return nil
}

// writeDiagnostic replaces the combined and stderr files with msg (and makes an empty stdout file).
func (o outputFiles) writeDiagnostic(msg string) error {
	for _, p := range []string{o.Combined, o.Stderr, o.Stdout} {
		data := []byte(msg)
		if p == o.Stdout {
			data = nil
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// appendText adds text to the combined and stderr files (creating them).
func appendText(o outputFiles, text string) {
	for _, p := range []string{o.Combined, o.Stderr} {
		if f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644); err == nil {
			f.WriteString(text)
			f.Close()
		}
	}
	if f, err := os.OpenFile(o.Stdout, os.O_WRONLY|os.O_CREATE, 0o644); err == nil {
		f.Close()
	}
}

// existingFiles are the files of a result that exist, in upstream's order: combined, stdout,
// stderr, result.
func existingFiles(s *Script, o outputFiles, onlyDiagnostic bool) []File {
	var out []File
	for _, f := range []File{{Name: s.Name, Path: o.Combined}, {Name: s.Name + ".out", Path: o.Stdout}, {Name: s.Name + ".err", Path: o.Stderr}, {Name: s.Name + ".yaml", Path: o.Result}} {
		if onlyDiagnostic && f.Path == o.Stdout {
			continue
		}
		if _, err := os.Stat(f.Path); err == nil {
			out = append(out, f)
		}
	}
	return out
}

// outputSink is the set of capped files a process writes to: stdout and stderr each to its
// own file, both to the combined one.
type outputSink struct {
	stdout, stderr, combined *cappedFile
	Stdout, Stderr           io.Writer
}

func openSink(o outputFiles, max int64) (*outputSink, error) {
	var s outputSink
	var err error
	if s.combined, err = createCapped(o.Combined, max); err != nil {
		return nil, fmt.Errorf("create output: %w", err)
	}
	if s.stdout, err = createCapped(o.Stdout, max); err != nil {
		s.combined.Close()
		return nil, fmt.Errorf("create output: %w", err)
	}
	if s.stderr, err = createCapped(o.Stderr, max); err != nil {
		s.combined.Close()
		s.stdout.Close()
		return nil, fmt.Errorf("create output: %w", err)
	}
	combined := &lockedWriter{w: s.combined}
	s.Stdout = teeWriter{s.stdout, combined}
	s.Stderr = teeWriter{s.stderr, combined}
	return &s, nil
}

// Close closes the three files. Its error, on one line, names every file that could not be
// kept, and wraps the first one's.
func (s *outputSink) Close() error {
	var first error
	var more []string
	for _, c := range []*cappedFile{s.stdout, s.stderr, s.combined} {
		if err := c.Close(); err != nil {
			if first == nil {
				first = err
			} else {
				more = append(more, err.Error())
			}
		}
	}
	if len(more) > 0 {
		return fmt.Errorf("%w; %s", first, strings.Join(more, "; "))
	}
	return first
}

// Truncated reports whether any file lost output to the cap.
func (s *outputSink) Truncated() bool {
	return s.stdout.Truncated() || s.stderr.Truncated() || s.combined.Truncated()
}
