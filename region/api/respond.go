package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"maasgo/region/lifecycle"
	"maasgo/region/store"
	"maasgo/wire"
)

// httpError is an error with the status and the plain-text body the client sees.
type httpError struct {
	code int
	msg  string
}

func (e *httpError) Error() string { return e.msg }

func errorf(code int, format string, args ...any) error {
	return &httpError{code: code, msg: fmt.Sprintf(format, args...)}
}

func badRequest(format string, args ...any) error {
	return errorf(http.StatusBadRequest, format, args...)
}
func forbidden(format string, args ...any) error {
	return errorf(http.StatusForbidden, format, args...)
}
func notFoundf(format string, args ...any) error { return errorf(http.StatusNotFound, format, args...) }
func conflict(format string, args ...any) error  { return errorf(http.StatusConflict, format, args...) }

// validationError is a 400 whose body is a JSON map of field → messages, as upstream's forms
// answer.
type validationError = wire.FieldErrors

func fieldError(field, msg string) error { return validationError{field: {msg}} }

// Response kinds a handler may return besides a value to render as JSON.
type (
	// textResponse is a 200 text/plain body (upstream's "OK").
	textResponse string
	// noContent is a 204 (delete).
	noContent struct{}
	// rawResponse is a body with its own content type.
	rawResponse struct {
		contentType string
		body        []byte
		filename    string
	}
)

// streamer is a response that writes itself, such as a large download that must not be
// built in memory first. It runs after the handler's transactions have ended.
type streamer interface {
	stream(w http.ResponseWriter, r *http.Request)
}

func (s *Server) writeValue(w http.ResponseWriter, r *http.Request, v any) {
	switch v := v.(type) {
	case streamer:
		v.stream(w, r)
	case textResponse:
		writeText(w, http.StatusOK, string(v))
	case noContent:
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusNoContent)
	case rawResponse:
		w.Header().Set("Content-Type", v.contentType)
		if v.filename != "" {
			w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", v.filename))
		}
		w.WriteHeader(http.StatusOK)
		w.Write(v.body)
	default:
		writeJSON(w, http.StatusOK, v)
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	buf := jsonBuffers.Get().(*bytes.Buffer)
	defer func() {
		if buf.Cap() <= maxPooledJSON {
			jsonBuffers.Put(buf)
		}
	}()
	buf.Reset()
	if err := json.NewEncoder(buf).Encode(v); err != nil {
		writeText(w, http.StatusInternalServerError, "encode response: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	w.Write(bytes.TrimSuffix(buf.Bytes(), []byte("\n"))) // as json.Marshal gives it
}

// jsonBuffers keep the buffers answers are encoded into: a list of 1,000 machines is 4 MB,
// and growing a new buffer to that for every call cost a tenth of the call.
var jsonBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledJSON is the largest buffer kept for the next answer.
const maxPooledJSON = 16 << 20

func writeText(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	w.Write([]byte(msg))
}

// writeError renders err for the client and logs server faults.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var he *httpError
	var ve wire.FieldErrors
	var se *lifecycle.StateError
	var pe *lifecycle.PermissionError
	switch {
	case errors.As(err, &se):
		writeText(w, http.StatusConflict, se.Msg)
	case errors.As(err, &pe):
		writeText(w, http.StatusForbidden, pe.Msg)
	case errors.As(err, &ve):
		writeJSON(w, http.StatusBadRequest, map[string][]string(ve))
	case errors.As(err, &he):
		if he.code == http.StatusUnauthorized || he.code == http.StatusForbidden {
			// Clients correct their clock skew from this header (protocol.md §2.3).
			w.Header().Set("Date", s.now().UTC().Format(http.TimeFormat))
		}
		if he.code == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `OAuth realm="OAuth"`)
		}
		writeText(w, he.code, he.msg)
	case errors.Is(err, store.ErrNotFound):
		writeText(w, http.StatusNotFound, err.Error())
	case errors.Is(err, errBodyTooLarge):
		msg := err.Error()
		if !errors.As(err, new(*tooLargeError)) {
			msg = fmt.Sprintf("request body larger than the limit of %d bytes", s.maxBody())
		}
		writeText(w, http.StatusRequestEntityTooLarge, strings.ToUpper(msg[:1])+msg[1:]+".")
	case store.IsDiskFull(err):
		s.log().Error("database out of disk space", "method", r.Method, "path", r.URL.Path, "err", err)
		writeText(w, http.StatusInsufficientStorage, "The region's database is out of disk space: nothing was changed. Free space on the region's disk and send the request again.")
	default:
		// The details (database errors may name files) go to the log, not to the client.
		ref := store.RandomString(8, "abcdefghijklmnopqrstuvwxyz0123456789")
		s.log().Error("request failed", "ref", ref, "method", r.Method, "path", r.URL.Path, "err", err)
		writeText(w, http.StatusInternalServerError, "Internal error (reference "+ref+"): the region's log has the details.")
	}
}

// formatTime renders an optional timestamp the way the API shows them (RFC 2822), or nil.
func formatTime(t *time.Time) any {
	if t == nil || t.IsZero() {
		return nil
	}
	return wire.FormatRFC2822(*t)
}
