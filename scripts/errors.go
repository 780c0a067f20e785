package scripts

import (
	"errors"
	"fmt"
	"strings"
)

// Upstream's messages, kept word for word because API clients show them as they are.
var (
	// ErrNoShebang is reported under the field "script" when line 1 does not start with "#!/".
	//lint:ignore ST1005 upstream's form message, word for word
	ErrNoShebang = errors.New("Must start with shebang.")
	// ErrMayNotOverride is reported when a request field contradicts the embedded metadata.
	//lint:ignore ST1005 upstream's form message, word for word
	ErrMayNotOverride = errors.New("May not override values defined in embedded YAML.")
)

// FieldError is a problem with one field of a script: a metadata key ("timeout"), a nested
// key ("parameters.storage.type", "packages.apt[1]") or the script body itself ("script").
type FieldError struct {
	Field string
	Err   error
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Err.Error() }

func (e *FieldError) Unwrap() error { return e.Err }

// Key is the top-level field the error belongs to, the form field a region reports it under
// ("parameters" for "parameters.storage.type").
func (e *FieldError) Key() string {
	if i := strings.IndexAny(e.Field, ".["); i >= 0 {
		return e.Field[:i]
	}
	return e.Field
}

// Errors is every problem found in one script, in the order they were found.
type Errors []*FieldError

func (es Errors) Error() string {
	msgs := make([]string, len(es))
	for i, e := range es {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "; ")
}

// Unwrap lets errors.Is and errors.As look at each field error.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// ByKey groups the messages by top-level field, the shape of a form's error response:
// {"parameters": ["storage.type: unknown parameter type \"disk\""]}.
func (es Errors) ByKey() map[string][]string {
	out := make(map[string][]string)
	for _, e := range es {
		k := e.Key()
		msg := e.Err.Error()
		if rest := strings.TrimLeft(strings.TrimPrefix(e.Field, k), "."); rest != "" {
			msg = rest + ": " + msg
		}
		out[k] = append(out[k], msg)
	}
	return out
}

// collector gathers field errors while a parser keeps going, as a form does, and counts the
// YAML nodes visited (see maxNodes).
type collector struct {
	errs    Errors
	visited int
}

func (c *collector) add(field string, err error) {
	c.errs = append(c.errs, &FieldError{Field: field, Err: err})
}

func (c *collector) addf(field, format string, args ...any) {
	c.add(field, fmt.Errorf(format, args...))
}

func (c *collector) err() error {
	if len(c.errs) == 0 {
		return nil
	}
	return c.errs
}
