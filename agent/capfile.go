package agent

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
)

// MinMaxOutput is the smallest per-file output cap the runner accepts.
const MinMaxOutput = 4 << 10

// markerReserve is room kept at the end of a capped file for the marker line.
const markerReserve = 160

// cappedFile stores a stream in a file of bounded size. While the stream fits it is written
// as it comes. Past the cap the first half of the cap is kept, the rest of the file is used as
// a ring that holds the newest bytes, and Close puts the ring in order behind a marker that
// says how much was left out. Memory use does not depend on the stream's size.
//
// Writes never fail: a script must not notice that its output could not be stored. The first
// error is kept and reported by Close.
type cappedFile struct {
	f    *os.File
	path string
	max  int64 // 0: no cap
	head int64 // bytes kept from the start once the cap is passed
	ring int64 // size of the ring of newest bytes
	n    int64 // bytes received
	err  error
}

func createCapped(path string, max int64) (*cappedFile, error) {
	// Remove first: the journal may hold a link to the previous run's file.
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, err
	}
	c := &cappedFile{f: f, path: path, max: max}
	if max > 0 {
		if max < MinMaxOutput {
			max = MinMaxOutput
			c.max = max
		}
		c.head = max / 2
		c.ring = max - c.head - markerReserve
	}
	return c, nil
}

func (c *cappedFile) Write(p []byte) (int, error) {
	total := len(p)
	if c.err != nil {
		c.n += int64(total)
		return total, nil
	}
	for len(p) > 0 {
		var off int64
		chunk := p
		switch {
		case c.max == 0 || c.n < c.head:
			off = c.n
			if c.max > 0 && int64(len(chunk)) > c.head-c.n {
				chunk = chunk[:c.head-c.n]
			}
		default:
			pos := (c.n - c.head) % c.ring
			off = c.head + pos
			if int64(len(chunk)) > c.ring-pos {
				chunk = chunk[:c.ring-pos]
			}
		}
		if _, err := c.f.WriteAt(chunk, off); err != nil {
			c.err = err
			c.n += int64(len(p))
			return total, nil
		}
		c.n += int64(len(chunk))
		p = p[len(chunk):]
	}
	return total, nil
}

// Truncated reports whether the stream was larger than what the file keeps.
func (c *cappedFile) Truncated() bool { return c.max > 0 && c.n > c.head+c.ring }

// Close puts the kept bytes in order and closes the file.
func (c *cappedFile) Close() error {
	err := c.err
	if err == nil && c.Truncated() {
		err = c.reorder()
	}
	// No fsync here: the journal syncs the files it keeps.
	if cerr := c.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("store output %s: %w", c.path, err)
	}
	return nil
}

// reorder rewrites the file as head, marker, ring in order (oldest byte first).
func (c *cappedFile) reorder() error {
	start := (c.n - c.head) % c.ring // the ring's oldest byte
	tmp, err := os.CreateTemp(filepath.Dir(c.path), ".ring-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	if _, err := io.Copy(tmp, io.NewSectionReader(c.f, c.head+start, c.ring-start)); err != nil {
		return err
	}
	if _, err := io.Copy(tmp, io.NewSectionReader(c.f, c.head, start)); err != nil {
		return err
	}
	marker := fmt.Sprintf("\n[... %d bytes left out: the output was larger than the cap of %d bytes per file ...]\n",
		c.n-c.head-c.ring, c.max)
	if int64(len(marker)) > markerReserve {
		marker = marker[:markerReserve]
	}
	if _, err := c.f.WriteAt([]byte(marker), c.head); err != nil {
		return err
	}
	dst := io.NewOffsetWriter(c.f, c.head+int64(len(marker)))
	if _, err := io.Copy(dst, io.NewSectionReader(tmp, 0, c.ring)); err != nil {
		return err
	}
	return c.f.Truncate(c.head + int64(len(marker)) + c.ring)
}

// lockedWriter serialises writes from the stdout and stderr copiers into the combined file.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// teeWriter writes to both; its writers never fail (cappedFile keeps its errors).
type teeWriter struct{ a, b io.Writer }

func (t teeWriter) Write(p []byte) (int, error) {
	t.a.Write(p)
	t.b.Write(p)
	return len(p), nil
}
