package agent

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strconv"
	"strings"

	"maasgo/wire"
)

// maxTimeoutSeconds bounds a script's timeout (about a century).
const maxTimeoutSeconds = 100 * 366 * 24 * 3600

// maxIndexSize bounds index.json; a few hundred scripts take well under a megabyte.
const maxIndexSize = 64 << 20

// Phase is one list of index.json: the scripts of one type.
type Phase struct {
	Type    wire.ScriptType
	Scripts []*Script // in run order (see Order)
}

// Name is the phase's name as the keys of index.json spell it.
func (p *Phase) Name() string { return p.Type.Dir() }

// Script is one script result to produce: an index.json entry with its decoded packages and
// its place in the phase.
type Script struct {
	wire.IndexEntry
	Packages wire.Packages
	// Pos is the 1-based position in the phase's run order; Of is the phase's size.
	Pos, Of int
	// ID names the result inside its phase: the script_result_id, or the name and the
	// position when the index has no ids (enlistment).
	ID string
	// ParamOrder is the order of Parameters in index.json, the order of the arguments.
	ParamOrder []string
}

// OutName is the name of the script's output directory under out/: "<name>.<id>", or the
// name alone without a result id.
func (s *Script) OutName() string {
	if s.ScriptResultID == nil {
		return s.Name
	}
	return s.Name + "." + strconv.FormatInt(*s.ScriptResultID, 10)
}

// Index is a parsed index.json.
type Index struct {
	// Phases holds the lists index.json has, in upstream's order: commissioning, testing,
	// release. A list that is present but empty still makes a phase.
	Phases []*Phase
}

// Phase returns the phase of type t, or nil.
func (x *Index) Phase(t wire.ScriptType) *Phase {
	for _, p := range x.Phases {
		if p.Type == t {
			return p
		}
	}
	return nil
}

// ParseIndex reads index.json (protocol.md §4.2). Numbers inside parameters keep their text,
// so that a value renders as the region wrote it ("30", "30.0"). Every entry must have a
// name that is safe as a file name and a relative path inside the scripts directory.
func ParseIndex(data []byte) (*Index, error) {
	if len(data) > maxIndexSize {
		return nil, fmt.Errorf("index.json: larger than %d bytes", maxIndexSize)
	}
	var raw struct {
		V1 *struct {
			Commissioning *[]json.RawMessage `json:"commissioning_scripts"`
			Testing       *[]json.RawMessage `json:"testing_scripts"`
			Release       *[]json.RawMessage `json:"release_scripts"`
		} `json:"1.0"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("index.json: %w", err)
	}
	if raw.V1 == nil {
		return nil, errors.New(`index.json: no "1.0" object`)
	}
	x := &Index{}
	for _, l := range []struct {
		t       wire.ScriptType
		entries *[]json.RawMessage
	}{
		{wire.ScriptTypeCommissioning, raw.V1.Commissioning},
		{wire.ScriptTypeTesting, raw.V1.Testing},
		{wire.ScriptTypeRelease, raw.V1.Release},
	} {
		if l.entries == nil {
			continue
		}
		p := &Phase{Type: l.t}
		for i, e := range *l.entries {
			s, err := parseEntry(e)
			if err != nil {
				return nil, fmt.Errorf("index.json: %s_scripts[%d]: %w", l.t.Dir(), i, err)
			}
			p.Scripts = append(p.Scripts, s)
		}
		Order(p.Scripts)
		for i, s := range p.Scripts {
			s.Pos, s.Of = i+1, len(p.Scripts)
			if s.ScriptResultID != nil {
				s.ID = strconv.FormatInt(*s.ScriptResultID, 10)
			} else {
				s.ID = s.Name + "#" + strconv.Itoa(s.Pos)
			}
		}
		if err := checkUniqueIDs(p); err != nil {
			return nil, err
		}
		x.Phases = append(x.Phases, p)
	}
	return x, nil
}

func parseEntry(data json.RawMessage) (*Script, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	s := &Script{}
	if err := dec.Decode(&s.IndexEntry); err != nil {
		return nil, err
	}
	if err := checkName(s.Name); err != nil {
		return nil, err
	}
	var params struct {
		Parameters json.RawMessage `json:"parameters"`
	}
	if err := json.Unmarshal(data, &params); err == nil && len(params.Parameters) > 0 {
		keys, err := objectKeys(params.Parameters)
		if err != nil {
			return nil, fmt.Errorf("%s: parameters: %w", s.Name, err)
		}
		s.ParamOrder = keys
	}
	if err := checkScriptPath(s.Path); err != nil {
		return nil, fmt.Errorf("%s: %w", s.Name, err)
	}
	if len(bytes.TrimSpace(s.IndexEntry.Packages)) > 0 && string(bytes.TrimSpace(s.IndexEntry.Packages)) != "null" {
		if err := json.Unmarshal(s.IndexEntry.Packages, &s.Packages); err != nil {
			return nil, fmt.Errorf("%s: packages: %w", s.Name, err)
		}
	}
	if s.TimeoutSeconds < 0 || s.TimeoutSeconds > maxTimeoutSeconds {
		return nil, fmt.Errorf("%s: timeout_seconds %v is out of range", s.Name, s.TimeoutSeconds)
	}
	return s, nil
}

// checkName accepts names that are safe as one path element.
func checkName(name string) error {
	switch {
	case name == "":
		return errors.New("no name")
	case name == "." || name == ".." || strings.ContainsAny(name, "/\x00") || len(name) > 255:
		return fmt.Errorf("name %q cannot be a file name", name)
	}
	return nil
}

func checkScriptPath(p string) error {
	if p == "" {
		return errors.New("no path")
	}
	if strings.HasPrefix(p, "/") || strings.ContainsRune(p, 0) {
		return fmt.Errorf("path %q is not relative", p)
	}
	for _, part := range strings.Split(p, "/") {
		if part == ".." {
			return fmt.Errorf("path %q leaves the scripts directory", p)
		}
	}
	if path.Clean(p) == "." {
		return fmt.Errorf("path %q names no file", p)
	}
	return nil
}

func checkUniqueIDs(p *Phase) error {
	seen := map[string]bool{}
	for _, s := range p.Scripts {
		if seen[s.ID] {
			return fmt.Errorf("index.json: %s_scripts: script_result_id %s appears twice", p.Name(), s.ID)
		}
		seen[s.ID] = true
	}
	return nil
}

// ReadIndex reads and parses an index.json file and returns its raw bytes too.
func ReadIndex(file string) (*Index, []byte, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, nil, fmt.Errorf("read index: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxIndexSize+1))
	if err != nil {
		return nil, nil, fmt.Errorf("read index: %w", err)
	}
	x, err := ParseIndex(data)
	if err != nil {
		return nil, nil, err
	}
	return x, data, nil
}
