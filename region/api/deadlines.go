package api

import (
	"io"
	"net/http"
	"time"
)

// Time bounds of a request's body and response. The connection's other bounds (headers,
// idle keep-alive, header size) are the http.Server's, set by maas-region serve.
const (
	// DefaultIdleTimeout is how long a body read or a response write may make no progress.
	DefaultIdleTimeout = 60 * time.Second
	// minUploadRate is the slowest link a whole body must be able to cross within the body
	// timeout: 1 Mbit/s, so the default 128 MiB body may take about 18 minutes.
	minUploadRate = 128 << 10
	// writeChunk is how much of a response is written per deadline extension.
	writeChunk = 64 << 10
)

// bodyTimeout bounds the time to read a whole body: the largest allowed one at minUploadRate,
// plus one idle timeout.
func (s *Server) bodyTimeout() time.Duration {
	return time.Duration(s.maxBody()/minUploadRate)*time.Second + s.idleTimeout()
}

func (s *Server) idleTimeout() time.Duration {
	if s.opts.IdleTimeout > 0 {
		return s.opts.IdleTimeout
	}
	return DefaultIdleTimeout
}

// deadlineStep is how far a deadline must have moved before it is set again: a second, or a
// quarter of a shorter idle timeout, so that the deadline never falls more than a step behind
// the progress made.
func deadlineStep(idle time.Duration) time.Duration {
	return min(time.Second, idle/4)
}

// deadlineBody extends the connection's read deadline before each read of the body: a read
// may wait an idle timeout for its bytes, and the whole body must arrive by end.
type deadlineBody struct {
	io.ReadCloser
	rc   *http.ResponseController
	idle time.Duration
	end  time.Time
	set  time.Time // the deadline last set
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	d := time.Now().Add(b.idle)
	if d.After(b.end) {
		d = b.end
	}
	// Setting a deadline is cheap but not free: move it only when it moved by a step.
	if d.Sub(b.set) >= deadlineStep(b.idle) || d.Equal(b.end) {
		if err := b.rc.SetReadDeadline(d); err == nil {
			b.set = d
		}
	}
	return b.ReadCloser.Read(p)
}

// deadlineWriter extends the connection's write deadline before each chunk of a response, so
// a client that stops reading frees its handler within an idle timeout, while a slow one that
// keeps reading gets the whole answer.
type deadlineWriter struct {
	*statusWriter
	rc   *http.ResponseController
	idle time.Duration
	set  time.Time
}

func (w *deadlineWriter) extend() {
	d := time.Now().Add(w.idle)
	if d.Sub(w.set) >= deadlineStep(w.idle) {
		if err := w.rc.SetWriteDeadline(d); err == nil {
			w.set = d
		}
	}
}

func (w *deadlineWriter) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		c := min(len(p), writeChunk)
		w.extend()
		m, err := w.statusWriter.Write(p[:c])
		n += m
		if err != nil {
			return n, err
		}
		p = p[c:]
	}
	return n, nil
}

// ReadFrom keeps io.Copy (http.ServeContent) going through Write's chunks.
func (w *deadlineWriter) ReadFrom(r io.Reader) (int64, error) {
	return io.CopyBuffer(struct{ io.Writer }{w}, r, make([]byte, writeChunk))
}

// Unwrap lets http.ResponseController reach the connection.
func (w *deadlineWriter) Unwrap() http.ResponseWriter { return w.statusWriter }

// Unwrap lets http.ResponseController reach the connection.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
