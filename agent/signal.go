package agent

import (
	"context"
	"io"
	"math"
	"strconv"
	"strings"
)

// Signal is one op=signal request (protocol.md §4.3). Optional fields are sent only when set.
type Signal struct {
	Status          string   `json:"status"`
	Error           string   `json:"error,omitempty"`
	ScriptResultID  *int64   `json:"script_result_id,omitempty"`
	Runtime         *float64 `json:"runtime,omitempty"`
	ExitStatus      *int     `json:"exit_status,omitempty"`
	Name            string   `json:"name,omitempty"`
	ScriptVersionID *int64   `json:"script_version_id,omitempty"`
	PowerType       string   `json:"power_type,omitempty"`
	PowerParameters string   `json:"power_parameters,omitempty"` // a JSON object
	// Files are uploaded after the fields, in order. They are not part of the JSON form: the
	// journal keeps them itself.
	Files []File `json:"-"`
}

// File is a file part of a signal: the part name (also its filename) and where its content is.
type File struct {
	Name string
	Path string
}

// Field is one form field of a request.
type Field struct{ Name, Value string }

// Fields are the form fields of the signal in upstream's order: op, status, error,
// script_result_id, runtime, exit_status, name, script_version_id, power_type,
// power_parameters.
func (s Signal) Fields() []Field {
	f := []Field{{"op", "signal"}, {"status", s.Status}}
	if s.Error != "" {
		f = append(f, Field{"error", s.Error})
	}
	if s.ScriptResultID != nil {
		f = append(f, Field{"script_result_id", strconv.FormatInt(*s.ScriptResultID, 10)})
	}
	if s.Runtime != nil {
		f = append(f, Field{"runtime", PyFloat(*s.Runtime)})
	}
	if s.ExitStatus != nil {
		f = append(f, Field{"exit_status", strconv.Itoa(*s.ExitStatus)})
	}
	if s.Name != "" {
		f = append(f, Field{"name", s.Name})
	}
	if s.ScriptVersionID != nil {
		f = append(f, Field{"script_version_id", strconv.FormatInt(*s.ScriptVersionID, 10)})
	}
	if s.PowerType != "" {
		f = append(f, Field{"power_type", s.PowerType})
		if s.PowerParameters != "" {
			f = append(f, Field{"power_parameters", s.PowerParameters})
		}
	}
	return f
}

// PyFloat renders f as Python's repr does: "60.0", "0.052366007", "1e+16".
func PyFloat(f float64) string {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	abs := math.Abs(f)
	if abs != 0 && (abs < 1e-4 || abs >= 1e16) {
		return strconv.FormatFloat(f, 'e', -1, 64)
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.ContainsAny(s, ".") {
		s += ".0"
	}
	return s
}

// Region is the part of the region's metadata API the runner uses. The HTTP implementation is
// in agent/metadata; tests use an in-process region that speaks the same wire format.
type Region interface {
	// Scripts fetches the scripts tar (GET <metadata>/<ver>/maas-scripts). ok is false when
	// the region answers 204 No Content: there is nothing to run. The caller closes body.
	Scripts(ctx context.Context) (body io.ReadCloser, ok bool, err error)
	// Signal posts one signal (POST <metadata>/<ver>/ op=signal) and returns nil only when
	// the region answered 200. A non-empty idempotencyKey is sent as the Idempotency-Key
	// header; the region stores a signal whose key it has seen before only once.
	Signal(ctx context.Context, sig Signal, idempotencyKey string) error
}

// HTTPError is an answer other than the one expected. The region's clients retry on any
// error, so this only carries the detail for messages.
type HTTPError struct {
	StatusCode int
	Body       string
}

func (e *HTTPError) Error() string {
	msg := "region answered " + strconv.Itoa(e.StatusCode)
	if b := strings.TrimSpace(e.Body); b != "" {
		if len(b) > 200 {
			b = b[:200] + "…"
		}
		msg += ": " + b
	}
	return msg
}
