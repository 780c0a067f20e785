package wire

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Result is a script's result file: the YAML a script writes to RESULT_PATH and the agent
// uploads as <name>.yaml (protocol.md §5).
type Result struct {
	// Status, when set, overrides the status derived from the exit code.
	Status *ScriptStatus
	// LinkConnected is the link state a network test reports. The caller decides whether
	// the result may carry it: only results tied to an interface may.
	LinkConnected *bool
	// LinkSpeed is the speed the interface's link runs at, InterfaceSpeed the fastest the
	// interface can go, both in Mbit/s, as a network test found them; 0 means unknown.
	LinkSpeed, InterfaceSpeed *int64
	// Results maps a metric name to a scalar (string, int64, float64 or bool) or to a
	// []any of scalars.
	Results map[string]any
	// Ignored lists the top-level keys that are not understood, in file order. Upstream
	// ignores them silently; callers may warn.
	Ignored []string
}

// resultStatuses maps the status words a result file may use to script statuses.
var resultStatuses = map[string]ScriptStatus{
	"passed":   ScriptPassed,
	"failed":   ScriptFailed,
	"degraded": ScriptDegraded,
	"timedout": ScriptTimedOut,
	"skipped":  ScriptSkipped,
}

// ParseResultStatus reads the status word of a result file: passed, failed, degraded,
// timedout or skipped, case-insensitively.
func ParseResultStatus(v string) (ScriptStatus, error) {
	if s, ok := resultStatuses[strings.ToLower(strings.TrimSpace(v))]; ok {
		return s, nil
	}
	return 0, fmt.Errorf("unknown result status %q (want passed, failed, degraded, timedout or skipped)", v)
}

// ParseResult reads a result file. An empty file (or one holding only comments) gives a nil
// Result and no error. Otherwise the document must be a mapping; status, link_connected,
// link_speed, interface_speed and results are checked and any error names the key at fault.
func ParseResult(data []byte) (*Result, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, nil
	}
	if r, ok := parseResultFast(data); ok {
		return r, nil
	}
	return parseResultYAML(data)
}

// parseResultYAML is ParseResult through yaml.v3, for any file.
func parseResultYAML(data []byte) (*Result, error) {
	root, err := DecodeYAML(data)
	if err != nil {
		return nil, fmt.Errorf("result: %w", err)
	}
	if root == nil {
		return nil, nil
	}
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("result: want a mapping, got %s", describeNode(root))
	}
	r := &Result{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := Deref(root.Content[i]), Deref(root.Content[i+1])
		if k.Kind != yaml.ScalarNode {
			return nil, fmt.Errorf("result: keys must be strings, got %s", describeNode(k))
		}
		switch key := k.Value; key {
		case "status":
			if v.Kind != yaml.ScalarNode || v.ShortTag() == "!!null" {
				return nil, fmt.Errorf("status: want one of passed, failed, degraded, timedout or skipped, got %s", describeNode(v))
			}
			s, err := ParseResultStatus(v.Value)
			if err != nil {
				return nil, fmt.Errorf("status: %w", err)
			}
			r.Status = &s
		case "link_connected":
			b, ok := yamlBool(v)
			if !ok {
				return nil, fmt.Errorf("link_connected: want a boolean, got %s", describeNode(v))
			}
			r.LinkConnected = &b
		case "link_speed", "interface_speed":
			n, ok := yamlSpeed(v)
			if !ok {
				return nil, fmt.Errorf("%s: want a whole number of Mbit/s, 0 or more, got %s", key, describeNode(v))
			}
			if key == "link_speed" {
				r.LinkSpeed = &n
			} else {
				r.InterfaceSpeed = &n
			}
		case "results":
			m, err := parseMetrics(v)
			if err != nil {
				return nil, err
			}
			r.Results = m
		default:
			r.Ignored = append(r.Ignored, key)
		}
	}
	return r, nil
}

// maxResultValues bounds the values one result file may hold. Aliases let a short file
// repeat a long list many times; the bound keeps the parsed result small.
const maxResultValues = 1 << 16

func parseMetrics(n *yaml.Node) (map[string]any, error) {
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return nil, nil
	}
	if n.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("results: want a mapping, got %s", describeNode(n))
	}
	m := make(map[string]any, len(n.Content)/2)
	values := 0
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := Deref(n.Content[i]), Deref(n.Content[i+1])
		if k.Kind != yaml.ScalarNode {
			return nil, fmt.Errorf("results: keys must be strings, got %s", describeNode(k))
		}
		field := "results." + k.Value
		if v.Kind == yaml.SequenceNode {
			values += len(v.Content)
		} else {
			values++
		}
		if values > maxResultValues {
			return nil, fmt.Errorf("results: more than %d values", maxResultValues)
		}
		switch v.Kind {
		case yaml.ScalarNode:
			x, err := metricScalar(v)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", field, err)
			}
			m[k.Value] = x
		case yaml.SequenceNode:
			list := make([]any, 0, len(v.Content))
			for j, item := range v.Content {
				item = Deref(item)
				if item.Kind != yaml.ScalarNode {
					return nil, fmt.Errorf("%s[%d]: want a string, number or boolean, got %s", field, j, describeNode(item))
				}
				x, err := metricScalar(item)
				if err != nil {
					return nil, fmt.Errorf("%s[%d]: %w", field, j, err)
				}
				list = append(list, x)
			}
			m[k.Value] = list
		default:
			return nil, fmt.Errorf("%s: want a string, number, boolean or a list of them, got %s", field, describeNode(v))
		}
	}
	return m, nil
}

// metricScalar converts a scalar node to string, int64, float64 or bool. YAML 1.1 booleans
// (yes/no/on/off), which the upstream region's YAML loader reads as booleans, are booleans
// here too. Numbers that do not fit the Go types keep their text.
func metricScalar(n *yaml.Node) (any, error) {
	switch n.ShortTag() {
	case "!!null":
		return nil, errors.New("want a string, number or boolean, got null")
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err == nil {
			return b, nil
		}
	case "!!int":
		var i int64
		if err := n.Decode(&i); err == nil {
			return i, nil
		}
		if f, err := strconv.ParseFloat(strings.ReplaceAll(n.Value, "_", ""), 64); err == nil && !math.IsInf(f, 0) {
			return f, nil
		}
	case "!!float":
		var f float64
		if err := n.Decode(&f); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
			return f, nil
		}
	case "!!str":
		if b, ok := yaml11Bool(n); ok {
			return b, nil
		}
	}
	return n.Value, nil
}

// yamlSpeed reads a speed in Mbit/s: a plain integer scalar, 0 or more.
func yamlSpeed(n *yaml.Node) (int64, bool) {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" {
		return 0, false
	}
	var v int64
	if err := n.Decode(&v); err != nil || v < 0 {
		return 0, false
	}
	return v, true
}

// yamlBool reads a boolean scalar, accepting YAML 1.1 spellings (yes/no/on/off).
func yamlBool(n *yaml.Node) (bool, bool) {
	if n.Kind != yaml.ScalarNode {
		return false, false
	}
	if n.ShortTag() == "!!bool" {
		var b bool
		if err := n.Decode(&b); err == nil {
			return b, true
		}
	}
	return yaml11Bool(n)
}

// yaml11Bool recognises the plain (unquoted) YAML 1.1 boolean words that YAML 1.2 reads as
// strings.
func yaml11Bool(n *yaml.Node) (bool, bool) {
	if n.Style&(yaml.TaggedStyle|yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		return false, false
	}
	switch n.Value {
	case "yes", "Yes", "YES", "on", "On", "ON", "true", "True", "TRUE":
		return true, true
	case "no", "No", "NO", "off", "Off", "OFF", "false", "False", "FALSE":
		return false, true
	}
	return false, false
}

func describeNode(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.ShortTag() == "!!null" {
			return "null"
		}
		return strconv.Quote(n.Value)
	}
	return "an unsupported YAML node"
}
