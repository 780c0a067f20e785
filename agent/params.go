package agent

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// errParams marks a parameter that cannot be turned into arguments; the script is then not
// run and its result has exit status 2 (upstream's "Unable to run").
var errParams = errors.New("unable to resolve parameters")

// params is a script's parameters step: its argv and timeout (resolve), with the devices of
// its storage and interface parameters found on the machine (devices.go). When they cannot be
// resolved the script does not run: its result is failed with exit status 2 and a diagnostic
// that lists what was given and what was found, as upstream's "Unable to run".
func (r *run) params(pc *phaseCtx, s *Script, o outputFiles) (invocation, bool) {
	scriptPath := filepath.Join(r.scriptsDir, filepath.FromSlash(s.Path))
	r.resMu.Lock()
	inv, err := r.res.resolve(s, scriptPath)
	found := ""
	if err != nil {
		found = r.res.describe()
	}
	r.resMu.Unlock()
	if err != nil {
		msg := strings.TrimPrefix(err.Error(), errParams.Error()+": ")
		diag := fmt.Sprintf("Unable to run '%s': %s\n\nGiven parameters:\n%s\n\n%s", s.Name, msg, describeParams(s), found)
		r.fail(pc, s, o, diag, 2, "Failed to execute %s: 2", nil)
		return inv, false
	}
	return inv, true
}

// invocation is how one script result is started.
type invocation struct {
	Argv    []string
	Timeout time.Duration // 0: none
	Runtime string        // the RUNTIME variable
	// Interface is the interface the result is tied to, if it has an interface parameter.
	Interface string
}

// resolve builds the argv of a script (protocol.md §6.5): the script's path, then the
// arguments of each parameter in the index's order, each formatted string split on white
// space. The timeout is timeout_seconds, or a runtime parameter's value.
func (r *resolver) resolve(s *Script, scriptPath string) (invocation, error) {
	inv := invocation{Argv: []string{scriptPath}}
	secs := s.TimeoutSeconds
	inv.Timeout = time.Duration(secs * float64(time.Second))
	inv.Runtime = PyFloat(secs)
	names := s.paramOrder()
	for _, name := range names {
		p := s.Parameters[name]
		var (
			out string
			err error
		)
		switch p.Type {
		case "storage":
			out, err = r.storageArg(p)
		case "interface":
			var iface string
			out, iface, err = r.interfaceArg(p)
			if inv.Interface == "" {
				inv.Interface = iface
			}
		default:
			format := p.ArgumentFormat
			if format == "" {
				format = "--" + p.Type + "={input}"
			}
			out, err = pyFormat(format, map[string]string{"input": pyStr(p.Value)})
			if p.Type == "runtime" {
				if d, ok := paramTimeout(p.Value); ok {
					inv.Timeout = d
					inv.Runtime = pyStr(p.Value)
				}
			}
		}
		if err != nil {
			return inv, fmt.Errorf("%w: %w", errParams, err)
		}
		inv.Argv = append(inv.Argv, strings.Fields(out)...)
	}
	return inv, nil
}

// paramOrder is the order of the parameters: the index's, else sorted names.
func (s *Script) paramOrder() []string {
	if len(s.ParamOrder) == len(s.Parameters) {
		return s.ParamOrder
	}
	names := make([]string, 0, len(s.Parameters))
	for n := range s.Parameters {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// describeParams lists a script's parameters for a diagnostic.
func describeParams(s *Script) string {
	if len(s.Parameters) == 0 {
		return "  (none)"
	}
	names := make([]string, 0, len(s.Parameters))
	for n := range s.Parameters {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		p := s.Parameters[n]
		fmt.Fprintf(&b, "  %s: type %s, value %s\n", n, p.Type, pyStr(p.Value))
	}
	return strings.TrimRight(b.String(), "\n")
}

// objectKeys returns the keys of the JSON object in data, in order.
func objectKeys(data json.RawMessage) ([]string, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		if tok == nil {
			return nil, nil
		}
		return nil, errors.New("want an object")
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		k, ok := tok.(string)
		if !ok {
			return nil, errors.New("want a string key")
		}
		keys = append(keys, k)
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return nil, err
		}
	}
	return keys, nil
}

// pyStr renders a JSON value as Python's str() does for what json.load returns.
func pyStr(v any) string {
	switch x := v.(type) {
	case nil:
		return "None"
	case string:
		return x
	case bool:
		if x {
			return "True"
		}
		return "False"
	case json.Number:
		s := x.String()
		if strings.ContainsAny(s, ".eE") {
			if f, err := strconv.ParseFloat(s, 64); err == nil {
				return PyFloat(f)
			}
		}
		return s
	case float64:
		if x == float64(int64(x)) && strings.IndexByte(strconv.FormatFloat(x, 'f', -1, 64), '.') < 0 {
			// A number decoded without UseNumber: render integral values as ints.
			return strconv.FormatInt(int64(x), 10)
		}
		return PyFloat(x)
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// pyFormat fills the {name} placeholders of format from values, as Python's str.format with
// keyword arguments does; "{{" and "}}" stand for braces. A placeholder without a value, or
// one with a conversion or format spec, is an error.
func pyFormat(format string, values map[string]string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(format); i++ {
		c := format[i]
		switch c {
		case '{':
			if i+1 < len(format) && format[i+1] == '{' {
				b.WriteByte('{')
				i++
				continue
			}
			end := strings.IndexByte(format[i:], '}')
			if end < 0 {
				return "", fmt.Errorf("argument_format %q: unclosed {", format)
			}
			name := format[i+1 : i+end]
			v, ok := values[name]
			if !ok {
				return "", fmt.Errorf("argument_format %q: no value for {%s}", format, name)
			}
			b.WriteString(v)
			i += end
		case '}':
			if i+1 < len(format) && format[i+1] == '}' {
				b.WriteByte('}')
				i++
				continue
			}
			return "", fmt.Errorf("argument_format %q: single }", format)
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

// deviceValues turns a storage or interface value (a JSON object) into placeholder values.
func deviceValues(v any) (map[string]string, bool) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, false
	}
	out := make(map[string]string, len(m)+2)
	for k, x := range m {
		out[k] = pyStr(x)
	}
	return out, true
}

// paramTimeout reads a runtime parameter's value as seconds.
func paramTimeout(v any) (time.Duration, bool) {
	var f float64
	switch x := v.(type) {
	case json.Number:
		var err error
		if f, err = x.Float64(); err != nil {
			return 0, false
		}
	case float64:
		f = x
	case string:
		var err error
		if f, err = strconv.ParseFloat(strings.TrimSpace(x), 64); err != nil {
			return 0, false
		}
	default:
		return 0, false
	}
	if f < 0 || f > 100*365*24*3600 {
		return 0, false
	}
	return time.Duration(f * float64(time.Second)), true
}
