package wire

import (
	"fmt"

	"gopkg.in/yaml.v3"
)

// DecodeYAML parses one YAML document from outside (a machine, a user, a config file) and
// returns its root node with aliases followed, or nil for an empty document. A panic inside
// the YAML library becomes an error.
func DecodeYAML(data []byte) (root *yaml.Node, err error) {
	defer func() {
		if p := recover(); p != nil {
			root, err = nil, fmt.Errorf("invalid YAML: %v", p)
		}
	}()
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("invalid YAML: %w", err)
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, nil
	}
	return Deref(doc.Content[0]), nil
}

// Deref follows aliases to the node they name (a bounded number of hops).
func Deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && n.Alias != nil && i < 16; i++ {
		n = n.Alias
	}
	return n
}
