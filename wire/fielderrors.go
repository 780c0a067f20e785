package wire

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// FieldErrors are problems with a request's fields, by field name. The region answers them as
// upstream's forms do: 400 with the JSON object {field: [messages]}.
type FieldErrors map[string][]string

// FieldError is one field's error.
func FieldError(field, format string, args ...any) FieldErrors {
	return FieldErrors{field: {fmt.Sprintf(format, args...)}}
}

// Add records a message for a field.
func (e FieldErrors) Add(field, format string, args ...any) {
	e[field] = append(e[field], fmt.Sprintf(format, args...))
}

// Merge adds err's fields when err is FieldErrors and returns nil; any other error (or nil)
// is returned as it is.
func (e FieldErrors) Merge(err error) error {
	var o FieldErrors
	if errors.As(err, &o) {
		for k, msgs := range o {
			e[k] = append(e[k], msgs...)
		}
		return nil
	}
	return err
}

// Err is e as an error, or nil when it holds none.
func (e FieldErrors) Err() error {
	if len(e) == 0 {
		return nil
	}
	return e
}

func (e FieldErrors) Error() string {
	keys := make([]string, 0, len(e))
	for k := range e {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+": "+strings.Join(e[k], " "))
	}
	return strings.Join(parts, "; ")
}
