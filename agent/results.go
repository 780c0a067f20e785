package agent

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"maasgo/wire"
)

// maxResultFile bounds the result file the runner parses; a larger one is still uploaded.
const maxResultFile = 16 << 20

// resultCheck is what the runner found in a script's result file.
type resultCheck struct {
	Exists  bool
	Status  *wire.ScriptStatus // the status the file sets, when valid
	Problem string             // why the region will not accept it, if it will not
}

// checkResultFile reads and validates RESULT_PATH as the region will (protocol.md §5):
// a mapping with a known status, metrics of scalars, and link_connected only for a result
// tied to an interface.
func checkResultFile(path string, hasInterface bool) resultCheck {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return resultCheck{}
	}
	if err != nil {
		return resultCheck{Exists: true, Problem: err.Error()}
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxResultFile+1))
	if err != nil {
		return resultCheck{Exists: true, Problem: err.Error()}
	}
	if len(data) > maxResultFile {
		return resultCheck{Exists: true, Problem: fmt.Sprintf("larger than %d bytes", maxResultFile)}
	}
	res, err := wire.ParseResult(data)
	if err != nil {
		return resultCheck{Exists: true, Problem: err.Error()}
	}
	c := resultCheck{Exists: true}
	if res == nil {
		return c
	}
	if res.LinkConnected != nil && !hasInterface {
		c.Problem = "link_connected is only allowed for a script with an interface parameter"
		return c
	}
	c.Status = res.Status
	return c
}

// writeReplacing replaces path with data through a new file, leaving links to the old one
// alone.
func writeReplacing(path string, data []byte) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}

// maxBMCConfig bounds the BMC configuration file.
const maxBMCConfig = 1 << 20

// ParseBMCConfig reads the file a BMC detection script writes to BMC_CONFIG_PATH: a YAML
// mapping with power_type and the power parameters. It returns the power type and the other
// keys as a JSON object in file order, rendered as Python's json.dumps does.
func ParseBMCConfig(data []byte) (powerType, params string, err error) {
	if len(data) > maxBMCConfig {
		return "", "", fmt.Errorf("bmc config: larger than %d bytes", maxBMCConfig)
	}
	root, err := decodeYAMLDoc(data)
	if err != nil {
		return "", "", fmt.Errorf("bmc config: %w", err)
	}
	if root == nil || root.Kind != yaml.MappingNode {
		return "", "", errors.New("bmc config: want a mapping")
	}
	// As a Python dict: a repeated key keeps its first place and its last value.
	var keys []string
	values := map[string]*yaml.Node{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := deref(root.Content[i]), deref(root.Content[i+1])
		if k.Kind != yaml.ScalarNode {
			return "", "", errors.New("bmc config: keys must be strings")
		}
		if k.Value == "power_type" {
			if v.Kind != yaml.ScalarNode || v.Value == "" {
				return "", "", errors.New("bmc config: power_type must be a string")
			}
			powerType = v.Value
			continue
		}
		if _, seen := values[k.Value]; !seen {
			keys = append(keys, k.Value)
		}
		values[k.Value] = v
	}
	var b bytes.Buffer
	b.WriteByte('{')
	budget := 1 << 16 // values; aliases could otherwise repeat a value exponentially
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		writeJSONString(&b, k)
		b.WriteString(": ")
		if err := writePyJSON(&b, values[k], 0, &budget); err != nil {
			return "", "", fmt.Errorf("bmc config: %s: %w", k, err)
		}
	}
	b.WriteByte('}')
	if powerType == "" {
		return "", "", errors.New("bmc config: no power_type")
	}
	return powerType, b.String(), nil
}

func writeJSONString(b *bytes.Buffer, s string) {
	enc, _ := json.Marshal(s)
	b.Write(enc)
}

// writePyJSON renders a YAML value as JSON with Python's separators.
func writePyJSON(b *bytes.Buffer, n *yaml.Node, depth int, budget *int) error {
	if depth > 32 {
		return errors.New("nested too deeply")
	}
	if *budget--; *budget < 0 {
		return errors.New("too many values")
	}
	n = deref(n)
	switch n.Kind {
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			b.WriteString("null")
		case "!!bool":
			var v bool
			if n.Decode(&v) != nil {
				writeJSONString(b, n.Value)
				return nil
			}
			b.WriteString(strconv.FormatBool(v))
		case "!!int":
			var v int64
			if n.Decode(&v) != nil {
				writeJSONString(b, n.Value)
				return nil
			}
			b.WriteString(strconv.FormatInt(v, 10))
		case "!!float":
			var v float64
			if n.Decode(&v) != nil || math.IsInf(v, 0) || math.IsNaN(v) {
				writeJSONString(b, n.Value)
				return nil
			}
			b.WriteString(PyFloat(v))
		default:
			writeJSONString(b, n.Value)
		}
	case yaml.SequenceNode:
		b.WriteByte('[')
		for i, c := range n.Content {
			if i > 0 {
				b.WriteString(", ")
			}
			if err := writePyJSON(b, c, depth+1, budget); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	case yaml.MappingNode:
		var keys []string
		values := map[string]*yaml.Node{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := deref(n.Content[i])
			if k.Kind != yaml.ScalarNode {
				return errors.New("keys must be strings")
			}
			if _, seen := values[k.Value]; !seen {
				keys = append(keys, k.Value)
			}
			values[k.Value] = n.Content[i+1]
		}
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteString(", ")
			}
			writeJSONString(b, k)
			b.WriteString(": ")
			if err := writePyJSON(b, values[k], depth+1, budget); err != nil {
				return err
			}
		}
		b.WriteByte('}')
	default:
		return fmt.Errorf("unsupported YAML value %q", strings.TrimSpace(n.Value))
	}
	return nil
}
