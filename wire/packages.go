package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Packages are what the runner installs before a script runs (protocol.md §6.6). index.json
// and the API carry them as {"apt": [..], "snap": [name or {name, channel, mode}], "url": [..]}.
type Packages struct {
	Apt  []string      `json:"apt,omitempty"`
	Snap []SnapPackage `json:"snap,omitempty"`
	URL  []string      `json:"url,omitempty"`
}

// Empty reports whether there is nothing to install.
func (p Packages) Empty() bool { return len(p.Apt) == 0 && len(p.Snap) == 0 && len(p.URL) == 0 }

// SnapPackage is a snap with an optional channel (stable, edge, beta, candidate) and
// confinement mode (classic, dev, jail).
type SnapPackage struct {
	Name    string `json:"name"`
	Channel string `json:"channel,omitempty"`
	Mode    string `json:"mode,omitempty"`
}

// CheckSnapChannel accepts the channels a snap may be installed from.
func CheckSnapChannel(channel string) error {
	switch channel {
	case "stable", "edge", "beta", "candidate":
		return nil
	}
	return fmt.Errorf("unknown snap channel %q (want stable, edge, beta or candidate)", channel)
}

// CheckSnapMode accepts the confinement modes a snap may be installed in.
func CheckSnapMode(mode string) error {
	switch mode {
	case "classic", "dev", "jail":
		return nil
	}
	return fmt.Errorf("unknown snap mode %q (want classic, dev or jail)", mode)
}

// MarshalJSON writes a snap without channel or mode as its bare name.
func (s SnapPackage) MarshalJSON() ([]byte, error) {
	if s.Channel == "" && s.Mode == "" {
		return json.Marshal(s.Name)
	}
	type plain SnapPackage
	return json.Marshal(plain(s))
}

// UnmarshalJSON reads packages as a script's metadata may write them (scripts.ParsePackages
// reads the same shapes from YAML): null for none, a single name where a list is expected, a
// snap as a name or a mapping, numbers as names. Every problem is reported, with its path
// ("apt[1]: must not be empty").
func (p *Packages) UnmarshalJSON(data []byte) error {
	*p = Packages{}
	if jsonNull(data) {
		return nil
	}
	pairs, err := jsonPairs(data)
	if err != nil {
		return fmt.Errorf("want a mapping of apt, snap and url: %w", err)
	}
	var errs []error
	for _, kv := range pairs {
		if jsonNull(kv.val) {
			continue
		}
		switch kv.key {
		case "apt":
			p.Apt = jsonNames(kv.key, kv.val, &errs)
		case "url":
			p.URL = jsonNames(kv.key, kv.val, &errs)
		case "snap":
			p.Snap = jsonSnaps(kv.key, kv.val, &errs)
		default:
			errs = append(errs, fmt.Errorf("%s: unknown package source (want apt, snap or url)", kv.key))
		}
	}
	return errors.Join(errs...)
}

// jsonItems are the items of a list, or the value alone; paths name the items.
func jsonItems(field string, v json.RawMessage, errs *[]error) (items []json.RawMessage, paths []string) {
	if jsonKind(v) != '[' {
		return []json.RawMessage{v}, []string{field}
	}
	if err := json.Unmarshal(v, &items); err != nil {
		*errs = append(*errs, fmt.Errorf("%s: %w", field, err))
		return nil, nil
	}
	for i := range items {
		paths = append(paths, fmt.Sprintf("%s[%d]", field, i))
	}
	return items, paths
}

// jsonNames reads a list of names (or one name): scalars, not blank.
func jsonNames(field string, v json.RawMessage, errs *[]error) []string {
	var out []string
	items, paths := jsonItems(field, v, errs)
	for i, item := range items {
		s, err := jsonScalar(item)
		switch {
		case err != nil:
			*errs = append(*errs, fmt.Errorf("%s: %w", paths[i], err))
		case strings.TrimSpace(s) == "":
			*errs = append(*errs, fmt.Errorf("%s: must not be empty", paths[i]))
		default:
			out = append(out, s)
		}
	}
	return out
}

// jsonSnaps reads a list of snaps (or one snap), each a name or {name, channel, mode}.
func jsonSnaps(field string, v json.RawMessage, errs *[]error) []SnapPackage {
	var out []SnapPackage
	items, paths := jsonItems(field, v, errs)
	for i, item := range items {
		if s, ok := jsonSnap(paths[i], item, errs); ok {
			out = append(out, s)
		}
	}
	return out
}

func jsonSnap(field string, v json.RawMessage, errs *[]error) (SnapPackage, bool) {
	before := len(*errs)
	fail := func(path string, err error) { *errs = append(*errs, fmt.Errorf("%s: %w", path, err)) }
	if jsonKind(v) != '{' {
		name, err := jsonScalar(v)
		switch {
		case err != nil:
			fail(field, fmt.Errorf("want a snap name or a mapping of name, channel and mode, got %s", jsonDescribe(v)))
		case strings.TrimSpace(name) == "":
			fail(field, errors.New("snap name must not be empty"))
		}
		return SnapPackage{Name: name}, len(*errs) == before
	}
	pairs, err := jsonPairs(v)
	if err != nil {
		fail(field, err)
		return SnapPackage{}, false
	}
	var s SnapPackage
	for _, kv := range pairs {
		str, err := jsonScalar(kv.val)
		if err != nil {
			fail(field+"."+kv.key, err)
			continue
		}
		switch kv.key {
		case "name":
			s.Name = str
		case "channel":
			if err := CheckSnapChannel(str); err != nil {
				fail(field+".channel", err)
			}
			s.Channel = str
		case "mode":
			if err := CheckSnapMode(str); err != nil {
				fail(field+".mode", err)
			}
			s.Mode = str
		}
	}
	if strings.TrimSpace(s.Name) == "" {
		fail(field+".name", errors.New("a snap needs a name"))
	}
	return s, len(*errs) == before
}

// jsonPair is one key of a JSON object with its value.
type jsonPair struct {
	key string
	val json.RawMessage
}

// jsonPairs lists an object's keys in order; a key may not repeat.
func jsonPairs(data json.RawMessage) ([]jsonPair, error) {
	if jsonKind(data) != '{' {
		return nil, fmt.Errorf("want a mapping, got %s", jsonDescribe(data))
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	var out []jsonPair
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, _ := tok.(string)
		var val json.RawMessage
		if err := dec.Decode(&val); err != nil {
			return nil, err
		}
		if seen[key] {
			return nil, fmt.Errorf("duplicate key %q", key)
		}
		seen[key] = true
		out = append(out, jsonPair{key, val})
	}
	return out, nil
}

// jsonScalar is the text of a string, number or boolean.
func jsonScalar(v json.RawMessage) (string, error) {
	switch jsonKind(v) {
	case '"':
		var s string
		err := json.Unmarshal(v, &s)
		return s, err
	case '{', '[', 'n':
		return "", fmt.Errorf("want a string, got %s", jsonDescribe(v))
	}
	return string(bytes.TrimSpace(v)), nil
}

// jsonKind is the first byte of a JSON value: '{', '[', '"', 'n' (null), or that of a
// number or boolean.
func jsonKind(v json.RawMessage) byte {
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return 'n'
	}
	return v[0]
}

func jsonNull(v json.RawMessage) bool {
	v = bytes.TrimSpace(v)
	return len(v) == 0 || string(v) == "null"
}

// jsonDescribe names a value's kind for messages, as the metadata's messages do.
func jsonDescribe(v json.RawMessage) string {
	switch jsonKind(v) {
	case '{':
		return "a mapping"
	case '[':
		return "a list"
	case 'n':
		return "null"
	}
	s, err := jsonScalar(v)
	if err != nil {
		return "a value"
	}
	return strconv.Quote(s)
}
