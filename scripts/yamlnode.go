package scripts

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"maasgo/wire"
)

// maxMergeDepth bounds how deeply "<<" merge keys may nest, so that a self-referencing
// anchor cannot make the parser loop.
const maxMergeDepth = 8

// decodeYAML parses one YAML document and returns its root node, or nil when the document
// is empty or null. A panic inside the YAML library becomes an error: scripts are uploaded
// by users and must not take the region down.
func decodeYAML(data []byte) (root *yaml.Node, err error) {
	root, err = wire.DecodeYAML(data)
	if err != nil || isNull(root) {
		return nil, err
	}
	return root, nil
}

// deref follows aliases to the node they name.
var deref = wire.Deref

func isNull(n *yaml.Node) bool {
	n = deref(n)
	return n == nil || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

// describe names a node's kind for error messages.
func describe(n *yaml.Node) string {
	n = deref(n)
	switch {
	case n == nil || isNull(n):
		return "null"
	case n.Kind == yaml.MappingNode:
		return "a mapping"
	case n.Kind == yaml.SequenceNode:
		return "a list"
	case n.Kind == yaml.ScalarNode:
		return strconv.Quote(n.Value)
	}
	return "an unsupported YAML node"
}

// pair is one key of a mapping with its value.
type pair struct {
	key string
	val *yaml.Node
}

// maxNodes bounds the YAML nodes one parse visits. Aliases let a short text name one large
// mapping or list many times; the bound keeps the work in proportion to the text.
const maxNodes = 1 << 20

var errTooComplex = errors.New("the YAML is too complex (too many aliases or merge keys)")

// spend counts n visited nodes against maxNodes.
func (c *collector) spend(n int) error {
	c.visited += n
	if c.visited > maxNodes {
		return errTooComplex
	}
	return nil
}

// seq returns the items of a list, counting them against the node budget.
func (c *collector) seq(n *yaml.Node) ([]*yaml.Node, error) {
	n = deref(n)
	if n == nil || n.Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("want a list, got %s", describe(n))
	}
	if err := c.spend(len(n.Content)); err != nil {
		return nil, err
	}
	return n.Content, nil
}

// pairs lists a mapping's keys in order, resolving "<<" merge keys the way YAML 1.1 loaders
// do: keys written in the mapping win over merged ones, and earlier merges win over later
// ones. Keys must be scalars and may not repeat.
func (c *collector) pairs(n *yaml.Node) ([]pair, error) {
	return c.mergePairs(deref(n), 0)
}

func (c *collector) mergePairs(n *yaml.Node, depth int) ([]pair, error) {
	if depth > maxMergeDepth {
		return nil, errors.New("merge keys nested too deeply")
	}
	if n == nil || n.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("want a mapping, got %s", describe(n))
	}
	if err := c.spend(len(n.Content) / 2); err != nil {
		return nil, err
	}
	var own, merged []pair
	seen := make(map[string]bool)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			return nil, fmt.Errorf("keys must be strings, got %s", describe(k))
		}
		if k.ShortTag() == "!!merge" {
			v = deref(v)
			sources := []*yaml.Node{v}
			if v.Kind == yaml.SequenceNode {
				sources = v.Content
			}
			for _, src := range sources {
				ps, err := c.mergePairs(deref(src), depth+1)
				if err != nil {
					return nil, fmt.Errorf("merge key: %w", err)
				}
				merged = append(merged, ps...)
			}
			continue
		}
		if !utf8.ValidString(k.Value) {
			return nil, errors.New("keys must be valid UTF-8")
		}
		if seen[k.Value] {
			return nil, fmt.Errorf("duplicate key %q", k.Value)
		}
		seen[k.Value] = true
		own = append(own, pair{k.Value, v})
	}
	for _, p := range merged {
		if !seen[p.key] {
			seen[p.key] = true
			own = append(own, p)
		}
	}
	return own, nil
}

// scalar returns the text of a non-null scalar.
func scalar(n *yaml.Node) (string, error) {
	n = deref(n)
	if n == nil || n.Kind != yaml.ScalarNode || isNull(n) {
		return "", fmt.Errorf("want a string, got %s", describe(n))
	}
	if !utf8.ValidString(n.Value) {
		return "", errors.New("invalid UTF-8")
	}
	return n.Value, nil
}

// boolean reads a boolean, accepting YAML 1.1 spellings (yes/no/on/off) as upstream's
// YAML loader does, and the strings "true"/"false"/"1"/"0" that forms send.
func boolean(n *yaml.Node) (bool, error) {
	s, err := scalar(n)
	if err != nil {
		return false, fmt.Errorf("want a boolean, got %s", describe(n))
	}
	return ParseBool(s)
}

// integer reads a whole number, written as a YAML integer or as a string of digits.
func integer(n *yaml.Node) (int64, error) {
	n = deref(n)
	s, err := scalar(n)
	if err != nil {
		return 0, fmt.Errorf("want an integer, got %s", describe(n))
	}
	if n.ShortTag() == "!!int" {
		var i int64
		if err := n.Decode(&i); err == nil {
			return i, nil
		}
	}
	i, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("want an integer, got %s", describe(n))
	}
	return i, nil
}

// ParseBool reads a boolean as the region's forms and upstream's YAML loader accept it:
// true/false, yes/no, on/off, 1/0, case-insensitively.
func ParseBool(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "yes", "on", "1":
		return true, nil
	case "false", "no", "off", "0":
		return false, nil
	}
	return false, fmt.Errorf("want a boolean, got %q", s)
}
