package agent

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"maasgo/collectors"
	"maasgo/wire"
)

// errParams marks a parameter that cannot be turned into arguments; the script is then not
// run and its result has exit status 2 (upstream's "Unable to run").
var errParams = errors.New("unable to resolve parameters")

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

// invocation is how one script result is started.
type invocation struct {
	Argv    []string
	Timeout time.Duration // 0: none
	Runtime string        // the RUNTIME variable
	// Interface is the interface the result is tied to, if it has an interface parameter.
	Interface string
}

// resolver maps storage and interface parameters to the machine's current devices. It reads
// the machine through collectors.FS once per phase and again after the network
// configuration changes.
type resolver struct {
	roots    Roots
	rec      *collectors.Recorder // records what is read, for a snapshot; nil: nothing
	naps     []time.Duration
	fs       *collectors.FS
	disks    []collectors.BlockDevice
	disksErr error
	ifaces   map[string]string
	loaded   bool
}

func (r *resolver) load() {
	if r.loaded {
		return
	}
	r.loaded = true
	r.fs = collectors.NewFS(r.roots, r.rec)
	r.disks, r.disksErr = collectors.BlockDevices(r.fs)
	r.ifaces = InterfaceNames(r.fs)
	waitForInterfaces(r.fs, r.ifaces, r.naps)
}

// reset forgets what was read, after the network configuration changed.
func (r *resolver) reset() { r.loaded = false }

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

func (r *resolver) storageArg(p wire.ResolvedParam) (string, error) {
	if str, ok := p.Value.(string); ok && str == "all" {
		return "", errors.New("MAAS did not detect any storage devices during commissioning!")
	}
	vals, ok := deviceValues(p.Value)
	if !ok {
		return "", fmt.Errorf("storage parameter value %s is not a device", pyStr(p.Value))
	}
	model, serial := vals["model"], vals["serial"]
	m, _ := p.Value.(map[string]any)
	hasModel := m["model"] != nil && model != ""
	hasSerial := m["serial"] != nil && serial != ""
	hasIDPath := vals["id_path"] != "" && m["id_path"] != nil
	if !hasModel || !hasSerial {
		// Without a model or serial the id_path is trusted (VirtIO disks).
		if hasIDPath {
			vals["path"], vals["input"] = vals["id_path"], vals["id_path"]
		}
	} else {
		r.load()
		if r.disksErr != nil {
			return "", r.disksErr
		}
		for _, d := range r.disks {
			if contains(d.Models, model) && contains(d.Serials, serial) {
				vals["path"], vals["input"] = "/dev/"+d.Name, "/dev/"+d.Name
			}
		}
		if _, found := vals["path"]; !found && hasIDPath && r.devExists(vals["id_path"]) {
			// Some controllers report several serials; trust an id_path that exists then.
			vals["path"], vals["input"] = vals["id_path"], vals["id_path"]
		}
	}
	format := p.ArgumentFormat
	if format == "" {
		format = "--storage={path}"
	}
	out, err := pyFormat(format, vals)
	if err != nil {
		return "", fmt.Errorf("Storage device '%s' with serial '%s' not found!\n\n"+
			"This indicates the storage device has been removed or the OS is unable to find it due "+
			"to a hardware failure. Please re-commission this node to re-discover the storage "+
			"devices, or delete this device manually.", model, serial)
	}
	return out, nil
}

// devExists reports whether a /dev path exists on the machine (a dangling link does).
func (r *resolver) devExists(p string) bool {
	p = path.Clean(p)
	return strings.HasPrefix(p, "/dev/") && r.fs.Lexists(p)
}

func (r *resolver) interfaceArg(p wire.ResolvedParam) (string, string, error) {
	if str, ok := p.Value.(string); ok && str == "all" {
		return "", "", errors.New("MAAS did not detect any interfaces during commissioning!")
	}
	vals, ok := deviceValues(p.Value)
	if !ok {
		return "", "", fmt.Errorf("interface parameter value %s is not a device", pyStr(p.Value))
	}
	r.load()
	name, found := r.ifaces[strings.ToLower(vals["mac_address"])]
	if !found {
		return "", "", fmt.Errorf("Interface device %s (vendor: %s product: %s) with MAC address %s has not been found!\n\n"+
			"This indicates the interface has been removed or the OS is unable to find it due to a "+
			"hardware failure. Please re-commision this node to re-discover the interfaces or "+
			"delete this interface manually.", vals["name"], vals["vendor"], vals["product"], vals["mac_address"])
	}
	vals["name"], vals["input"] = name, name
	format := p.ArgumentFormat
	if format == "" {
		format = "--interface={name}"
	}
	out, err := pyFormat(format, vals)
	if err != nil {
		return "", "", err
	}
	return out, name, nil
}

// describe lists what the resolver found, for the diagnostic of a failed resolution.
func (r *resolver) describe() string {
	r.load()
	var b strings.Builder
	b.WriteString("Discovered storage devices:\n")
	if r.disksErr != nil {
		fmt.Fprintf(&b, "  (%v)\n", r.disksErr)
	}
	for _, d := range r.disks {
		fmt.Fprintf(&b, "  %s (%s): model %q, serial %q\n", d.Name, d.MajMin, strings.Join(d.Models, `" or "`), strings.Join(d.Serials, `" or "`))
	}
	b.WriteString("Discovered interfaces:\n")
	macs := make([]string, 0, len(r.ifaces))
	for mac := range r.ifaces {
		macs = append(macs, mac)
	}
	sort.Strings(macs)
	for _, mac := range macs {
		fmt.Fprintf(&b, "  %s: %s\n", mac, r.ifaces[mac])
	}
	return b.String()
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
