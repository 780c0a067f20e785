package scripts

import (
	"bytes"
	"encoding/json"
	"fmt"

	"gopkg.in/yaml.v3"
)

// The JSON forms below are the shapes the API and index.json use (protocol.md §4.2, §11.2):
// results as a mapping of {title, description} (or a list of names), parameters as a mapping
// of settings. Decoding accepts everything the embedded YAML accepts and applies the same
// checks. Packages are wire.Packages, which encode and decode themselves.

// MarshalJSON writes a choice as its value, or as [value, label] when it has a label.
func (c Choice) MarshalJSON() ([]byte, error) {
	if c.Label == "" {
		return json.Marshal(c.Value)
	}
	return json.Marshal([2]string{c.Value, c.Label})
}

// MarshalJSON writes the results as a mapping name → {title, description}, or as a list of
// names when none has a title or description (the list form of the metadata).
func (rs Results) MarshalJSON() ([]byte, error) {
	listForm := len(rs) > 0
	for _, r := range rs {
		if r.Title != "" || r.Description != "" {
			listForm = false
		}
	}
	if listForm {
		names := make([]string, len(rs))
		for i, r := range rs {
			names[i] = r.Name
		}
		return json.Marshal(names)
	}
	var b bytes.Buffer
	b.WriteByte('{')
	for i, r := range rs {
		if i > 0 {
			b.WriteByte(',')
		}
		if err := writeKey(&b, r.Name); err != nil {
			return nil, err
		}
		def := struct {
			Title       string `json:"title"`
			Description string `json:"description,omitempty"`
		}{r.Title, r.Description}
		if err := writeValue(&b, def); err != nil {
			return nil, err
		}
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// UnmarshalJSON reads results with the metadata rules.
func (rs *Results) UnmarshalJSON(data []byte) error {
	v, err := parseField(string(data), KeyResults, readResults)
	if err != nil {
		return err
	}
	*rs = v
	return nil
}

// MarshalJSON writes the parameters as a mapping in their order.
func (ps Parameters) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, p := range ps {
		if i > 0 {
			b.WriteByte(',')
		}
		if err := writeKey(&b, p.Name); err != nil {
			return nil, err
		}
		if err := writeValue(&b, p); err != nil {
			return nil, err
		}
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// UnmarshalJSON reads parameters with the metadata rules.
func (ps *Parameters) UnmarshalJSON(data []byte) error {
	v, err := ParseParameters(string(data))
	if err != nil {
		return err
	}
	*ps = v
	return nil
}

func writeKey(b *bytes.Buffer, k string) error {
	if err := writeValue(b, k); err != nil {
		return err
	}
	b.WriteByte(':')
	return nil
}

func writeValue(b *bytes.Buffer, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %T: %w", v, err)
	}
	b.Write(data)
	return nil
}

// parseField parses text (JSON or YAML) as the value of one metadata key. Empty or null
// text gives the zero value.
func parseField[T any](text, field string, read func(string, *yaml.Node, *collector) T) (T, error) {
	var zero T
	root, err := decodeYAML([]byte(text))
	if err != nil {
		return zero, &FieldError{Field: field, Err: err}
	}
	if root == nil {
		return zero, nil
	}
	var c collector
	v := read(field, root, &c)
	if err := c.err(); err != nil {
		return zero, err
	}
	return v, nil
}
