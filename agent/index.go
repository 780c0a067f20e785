package agent

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
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

// MsgName is how upstream names a result in its messages: "name (id: 1, script_version_id:
// 2)", "name (id: 1)" or "name".
func (s *Script) MsgName() string {
	if s.ScriptResultID == nil {
		return s.Name
	}
	if s.ScriptVersionID != 0 {
		return fmt.Sprintf("%s (id: %d, script_version_id: %d)", s.Name, *s.ScriptResultID, s.ScriptVersionID)
	}
	return fmt.Sprintf("%s (id: %d)", s.Name, *s.ScriptResultID)
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

// Order sorts scripts as upstream's runner does: by hardware type (cpu, memory, storage,
// network, gpu, then node), then by name; the sort is stable, so results of one script keep
// the index's order.
func Order(list []*Script) {
	sort.SliceStable(list, func(i, j int) bool {
		a, b := list[i].HardwareType.SortKey(), list[j].HardwareType.SortKey()
		if a != b {
			return a < b
		}
		return list[i].Name < list[j].Name
	})
}

// Batch is a set of scripts that run together after one network-configuration step.
type Batch struct {
	// Scripts run concurrently; a serial batch holds one script.
	Scripts []*Script
	// SharedInstall says the packages are installed once, from the first script, for all of
	// them (an instance group); otherwise each script installs its own before it starts.
	SharedInstall bool
	// Netconf says the batch needs the machine's configured networking applied.
	Netconf bool
}

// Plan splits a phase's scripts (already in run order) into batches as upstream runs them
// (protocol.md §6.3): serial scripts one at a time; then each instance group (all results of
// one name) together; then the "any" pool, the scripts without configured networking first,
// then those with it. Inside a pool, scripts without packages start first (upstream sorts the
// pool by the number of package kinds, then by name).
func Plan(list []*Script) []Batch {
	var out []Batch
	var instance, anyPool []*Script
	for _, s := range list {
		switch s.Parallel {
		case wire.ParallelInstance:
			instance = append(instance, s)
		case wire.ParallelAny:
			anyPool = append(anyPool, s)
		default:
			out = append(out, Batch{Scripts: []*Script{s}, Netconf: s.ApplyConfiguredNetworking})
		}
	}
	done := map[*Script]bool{}
	for _, s := range instance {
		if done[s] {
			continue
		}
		var group []*Script
		for _, o := range instance {
			if !done[o] && o.Name == s.Name {
				group = append(group, o)
				done[o] = true
			}
		}
		out = append(out, Batch{Scripts: group, SharedInstall: true, Netconf: group[0].ApplyConfiguredNetworking})
	}
	var plain, netconf []*Script
	for _, s := range anyPool {
		if s.ApplyConfiguredNetworking {
			netconf = append(netconf, s)
		} else {
			plain = append(plain, s)
		}
	}
	for _, pool := range []struct {
		list    []*Script
		netconf bool
	}{{plain, false}, {netconf, true}} {
		if len(pool.list) == 0 {
			continue
		}
		sorted := append([]*Script(nil), pool.list...)
		sort.SliceStable(sorted, func(i, j int) bool {
			a, b := packageKinds(sorted[i].Packages), packageKinds(sorted[j].Packages)
			if a != b {
				return a < b
			}
			return sorted[i].Name < sorted[j].Name
		})
		out = append(out, Batch{Scripts: sorted, Netconf: pool.netconf})
	}
	return out
}

// packageKinds counts the kinds of packages (apt, snap, url) a script needs.
func packageKinds(p wire.Packages) int {
	n := 0
	for _, k := range []int{len(p.Apt), len(p.Snap), len(p.URL)} {
		if k > 0 {
			n++
		}
	}
	return n
}
