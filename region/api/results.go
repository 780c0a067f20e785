package api

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"maasgo/region/library"
	"maasgo/region/lifecycle"
	"maasgo/region/store"
	"maasgo/wire"
)

// resultJSON is one script result inside a set (protocol.md §11.3).
type resultJSON struct {
	ID               int64                         `json:"id"`
	Created          string                        `json:"created"`
	Updated          string                        `json:"updated"`
	Name             string                        `json:"name"`
	Status           int                           `json:"status"`
	StatusName       string                        `json:"status_name"`
	ExitStatus       *int                          `json:"exit_status"`
	Started          any                           `json:"started"`
	Ended            any                           `json:"ended"`
	Runtime          string                        `json:"runtime"`
	StartTime        any                           `json:"starttime"`
	EndTime          any                           `json:"endtime"`
	EstimatedRuntime string                        `json:"estimated_runtime"`
	Parameters       map[string]wire.ResolvedParam `json:"parameters"`
	ScriptID         *int64                        `json:"script_id"`
	ScriptRevisionID *int64                        `json:"script_revision_id"`
	Suppressed       bool                          `json:"suppressed"`
	// Beyond upstream, for results of scripts with an interface parameter: the interface,
	// and the link as the result found it (with the slow-link warning), when it said.
	Interface        *resultInterfaceJSON `json:"interface,omitempty"`
	LinkConnected    *bool                `json:"link_connected,omitempty"`
	LinkSpeed        *int64               `json:"link_speed,omitempty"`
	InterfaceSpeed   *int64               `json:"interface_speed,omitempty"`
	LinkSpeedWarning *string              `json:"link_speed_warning,omitempty"`
	Output           *string              `json:"output,omitempty"`
	Stdout           *string              `json:"stdout,omitempty"`
	Stderr           *string              `json:"stderr,omitempty"`
	Result           *string              `json:"result,omitempty"`
}

// resultInterfaceJSON names the interface a result is about.
type resultInterfaceJSON struct {
	ID         int64  `json:"id"`
	Name       string `json:"name"`
	MACAddress string `json:"mac_address"`
}

// setJSON is a script set, what upstream calls a node script result.
type setJSON struct {
	ID          int64        `json:"id"`
	SystemID    string       `json:"system_id"`
	Type        int          `json:"type"`
	TypeName    string       `json:"type_name"`
	LastPing    any          `json:"last_ping"`
	Status      int          `json:"status"`
	StatusName  string       `json:"status_name"`
	Started     any          `json:"started"`
	Ended       any          `json:"ended"`
	Runtime     string       `json:"runtime"`
	Results     []resultJSON `json:"results"`
	ResourceURI string       `json:"resource_uri"`
}

func runtimeOf(started, ended *time.Time) string {
	if started == nil || ended == nil {
		return ""
	}
	return wire.FormatTimedelta(ended.Sub(*started).Truncate(time.Second))
}

func epoch(t *time.Time) any {
	if t == nil {
		return ""
	}
	return float64(t.UnixMicro()) / 1e6
}

// resultView carries what rendering a set needs besides its results.
type resultView struct {
	scripts  map[int64]*store.Script
	disks    map[int64]store.BlockDevice
	ifaces   map[int64]store.Interface
	previous map[string]time.Duration // last runtime of each script on the machine
}

func loadResultView(tx *store.Tx, m *store.Machine, rs []store.ScriptResult) (*resultView, error) {
	v := &resultView{scripts: map[int64]*store.Script{}, disks: map[int64]store.BlockDevice{}, ifaces: map[int64]store.Interface{}, previous: map[string]time.Duration{}}
	for _, r := range rs {
		if r.ScriptID == nil || v.scripts[*r.ScriptID] != nil {
			continue
		}
		s, err := tx.ScriptByID(*r.ScriptID)
		if errors.Is(err, store.ErrNotFound) {
			continue
		} else if err != nil {
			return nil, err
		}
		v.scripts[s.ID] = s
	}
	disks, err := tx.BlockDevices(m.ID)
	if err != nil {
		return nil, err
	}
	for _, d := range disks[m.ID] {
		v.disks[d.ID] = d
	}
	ifs, err := tx.Interfaces(m.ID)
	if err != nil {
		return nil, err
	}
	for _, i := range ifs[m.ID] {
		v.ifaces[i.ID] = i
	}
	return v, nil
}

func (v *resultView) estimate(r *store.ScriptResult) string {
	if !r.Status.Unfinished() && r.Started != nil && r.Ended != nil {
		return runtimeOf(r.Started, r.Ended)
	}
	if d, ok := v.previous[r.ScriptName]; ok {
		return wire.FormatTimedelta(d)
	}
	if r.ScriptID != nil {
		if s := v.scripts[*r.ScriptID]; s != nil && s.Timeout > 0 {
			return wire.FormatTimedelta(s.Timeout)
		}
	}
	return "Unknown"
}

func b64(b []byte) *string {
	s := base64.StdEncoding.EncodeToString(b)
	return &s
}

func (v *resultView) render(r *store.ScriptResult, output bool) resultJSON {
	params := map[string]wire.ResolvedParam{}
	json.Unmarshal(r.Parameters, &params)
	for k, p := range params {
		if p.Type == "password" {
			p.Value = "REDACTED"
			params[k] = p
		}
	}
	j := resultJSON{
		ID: r.ID, Created: wire.FormatRFC2822(r.Created), Updated: wire.FormatRFC2822(r.Updated), Name: r.ScriptName,
		Status: int(r.Status), StatusName: r.Status.Label(), ExitStatus: r.ExitStatus,
		Started: formatTime(r.Started), Ended: formatTime(r.Ended), Runtime: runtimeOf(r.Started, r.Ended),
		StartTime: epoch(r.Started), EndTime: epoch(r.Ended), EstimatedRuntime: v.estimate(r),
		Parameters: params, ScriptID: r.ScriptID, ScriptRevisionID: r.ScriptVersionID, Suppressed: r.Suppressed,
	}
	if r.InterfaceID != nil {
		if i, ok := v.ifaces[*r.InterfaceID]; ok {
			j.Interface = &resultInterfaceJSON{ID: i.ID, Name: i.Name, MACAddress: i.MACAddress}
		}
	}
	if l := r.Link; l != nil {
		j.LinkConnected, j.LinkSpeed, j.InterfaceSpeed = &l.Connected, &l.Speed, &l.InterfaceSpeed
		j.LinkSpeedWarning = optString(lifecycle.SlowLinkWarning(l.Connected, l.Speed, l.InterfaceSpeed))
	}
	if output {
		j.Output, j.Stdout, j.Stderr, j.Result = b64(r.Output), b64(r.Stdout), b64(r.Stderr), b64(r.Result)
	}
	return j
}

// sortKey orders results by name, then disk name, then interface name.
func (v *resultView) sortKey(r *store.ScriptResult) string {
	k := r.ScriptName + "\x00"
	if r.BlockDeviceID != nil {
		k += v.disks[*r.BlockDeviceID].Name
	}
	k += "\x00"
	if r.InterfaceID != nil {
		k += v.ifaces[*r.InterfaceID].Name
	}
	return k
}

func (v *resultView) renderSet(m *store.Machine, set *store.ScriptSet, rs []store.ScriptResult, output bool) setJSON {
	sort.SliceStable(rs, func(i, j int) bool { return v.sortKey(&rs[i]) < v.sortKey(&rs[j]) })
	var started, ended *time.Time
	allDone := len(rs) > 0
	out := make([]resultJSON, 0, len(rs))
	for i := range rs {
		r := &rs[i]
		if r.Started != nil && (started == nil || r.Started.Before(*started)) {
			started = r.Started
		}
		if r.Status.Unfinished() {
			allDone = false
		} else if r.Ended != nil && (ended == nil || r.Ended.After(*ended)) {
			ended = r.Ended
		}
		out = append(out, v.render(r, output))
	}
	if !allDone {
		ended = nil
	}
	st := lifecycle.OverallStatus(rs)
	return setJSON{
		ID: set.ID, SystemID: m.SystemID, Type: int(set.Type), TypeName: set.Type.Label(), LastPing: formatTime(set.LastPing),
		Status: st, StatusName: wire.ScriptStatus(st).Label(), Started: formatTime(started), Ended: formatTime(ended),
		Runtime: runtimeOf(started, ended), Results: out,
		ResourceURI: fmt.Sprintf("%s/nodes/%s/results/%d/", apiRoot, m.SystemID, set.ID),
	}
}

// resultFilter selects results inside sets: script names, tags or result ids, a hardware
// type, and interfaces.
type resultFilter struct {
	names  []string
	hw     *wire.HardwareType
	ifaces []string // names, ids or MAC addresses
}

func parseResultFilter(p *Params) (resultFilter, error) {
	f := resultFilter{names: p.List("filters"), ifaces: p.List("interface")}
	if v := p.Get("hardware_type"); v != "" {
		h, err := wire.ParseHardwareType(v)
		if err != nil {
			return f, fieldError("hardware_type", err.Error())
		}
		f.hw = &h
	}
	return f, nil
}

// onInterface reports whether r is about one of the interfaces the filter names.
func (f resultFilter) onInterface(r *store.ScriptResult, v *resultView) bool {
	if r.InterfaceID == nil {
		return false
	}
	i, ok := v.ifaces[*r.InterfaceID]
	if !ok {
		return false
	}
	return slices.ContainsFunc(f.ifaces, func(want string) bool {
		return want == i.Name || want == strconv.FormatInt(i.ID, 10) || strings.EqualFold(want, i.MACAddress)
	})
}

func (f resultFilter) keep(r *store.ScriptResult, v *resultView) bool {
	var s *store.Script
	if r.ScriptID != nil {
		s = v.scripts[*r.ScriptID]
	}
	if f.hw != nil && (s == nil || s.HardwareType != *f.hw) {
		return false
	}
	if len(f.ifaces) > 0 && !f.onInterface(r, v) {
		return false
	}
	if len(f.names) == 0 {
		return true
	}
	if slices.Contains(f.names, r.ScriptName) || slices.Contains(f.names, strconv.FormatInt(r.ID, 10)) {
		return true
	}
	return s != nil && library.Matches(s, f.names)
}

// setsOf loads the machine's sets named by id (or current-commissioning, current-testing,
// current-installation), or all of them, newest first, optionally of one type.
func setsOf(tx *store.Tx, m *store.Machine, id string, typ *wire.ResultType) ([]store.ScriptSet, error) {
	if id == "" {
		return tx.ScriptSets(m.ID, typ)
	}
	var setID *int64
	switch id {
	case "current-commissioning":
		setID = m.CurrentCommissioningSet
	case "current-testing":
		setID = m.CurrentTestingSet
	case "current-installation":
		setID = m.CurrentInstallationSet
	case "current-release":
		setID = m.CurrentReleaseSet
	default:
		n, err := strconv.ParseInt(id, 10, 64)
		if err != nil {
			return nil, notFoundf("No script result %q on %s.", id, m.SystemID)
		}
		setID = &n
	}
	if setID == nil {
		return nil, notFoundf("%s has no %s results.", m.SystemID, strings.TrimPrefix(id, "current-"))
	}
	set, err := tx.ScriptSetByID(*setID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && set.NodeID != m.ID) {
		return nil, notFoundf("No script result %s on %s.", id, m.SystemID)
	}
	if err != nil {
		return nil, err
	}
	return []store.ScriptSet{*set}, nil
}

// resultsOf loads the results of sets, grouped by set id, with the view to render them.
func resultsOf(tx *store.Tx, m *store.Machine, sets []store.ScriptSet, output bool) (map[int64][]store.ScriptResult, *resultView, error) {
	ids := make([]int64, len(sets))
	for i, s := range sets {
		ids[i] = s.ID
	}
	rs, err := tx.ScriptResults(ids, output)
	if err != nil {
		return nil, nil, err
	}
	v, err := loadResultView(tx, m, rs)
	if err != nil {
		return nil, nil, err
	}
	by := map[int64][]store.ScriptResult{}
	for _, r := range rs {
		by[r.SetID] = append(by[r.SetID], r)
		if !r.Status.Unfinished() && r.Started != nil && r.Ended != nil {
			if _, ok := v.previous[r.ScriptName]; !ok {
				v.previous[r.ScriptName] = r.Ended.Sub(*r.Started).Truncate(time.Second)
			}
		}
	}
	return by, v, nil
}

func parseType(p *Params) (*wire.ResultType, error) {
	v := p.Get("type")
	if v == "" {
		return nil, nil
	}
	t, err := wire.ParseResultType(v)
	if err != nil {
		return nil, fieldError("type", err.Error())
	}
	return &t, nil
}

// resultQuery is what results read and update select: the sets named in the path (or all, of
// a type) and, inside them, the results the filters keep.
type resultQuery struct {
	typ    *wire.ResultType
	filter resultFilter
}

func parseResultQuery(p *Params) (resultQuery, error) {
	typ, err := parseType(p)
	if err != nil {
		return resultQuery{}, err
	}
	f, err := parseResultFilter(p)
	return resultQuery{typ: typ, filter: f}, err
}

// each loads the machine's chosen sets and calls fn with each set, its results and the
// indexes of the results the filters keep; what fn returns is collected.
func (q resultQuery) each(tx *store.Tx, req *request, output bool,
	fn func(m *store.Machine, v *resultView, set *store.ScriptSet, rs []store.ScriptResult, kept []int) (*setJSON, error)) ([]setJSON, error) {
	m, err := loadMachine(tx, req)
	if err != nil {
		return nil, err
	}
	sets, err := setsOf(tx, m, req.path["id"], q.typ)
	if err != nil {
		return nil, err
	}
	by, v, err := resultsOf(tx, m, sets, output)
	if err != nil {
		return nil, err
	}
	out := []setJSON{}
	for i := range sets {
		rs := by[sets[i].ID]
		var kept []int
		for k := range rs {
			if q.filter.keep(&rs[k], v) {
				kept = append(kept, k)
			}
		}
		j, err := fn(m, v, &sets[i], rs, kept)
		if err != nil {
			return nil, err
		}
		if j != nil {
			out = append(out, *j)
		}
	}
	return out, nil
}

// oneOrAll answers a set read by id with the set alone, a collection read with the list.
func oneOrAll(req *request, out []setJSON) any {
	if req.path["id"] != "" {
		return out[0]
	}
	return out
}

// readResultSets answers results read and result read.
func readResultSets(req *request) (any, error) {
	q, err := parseResultQuery(req.params)
	if err != nil {
		return nil, err
	}
	output, err := req.params.Bool("include_output", false)
	if err != nil {
		return nil, err
	}
	var out []setJSON
	err = req.s.store.View(req.ctx, func(tx *store.Tx) (err error) {
		out, err = q.each(tx, req, output, func(m *store.Machine, v *resultView, set *store.ScriptSet, rs []store.ScriptResult, kept []int) (*setJSON, error) {
			sel := make([]store.ScriptResult, len(kept))
			for i, k := range kept {
				sel[i] = rs[k]
			}
			j := v.renderSet(m, set, sel, output)
			return &j, nil
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	return oneOrAll(req, out), nil
}

// suppressResults answers results update (the user guide's form, over every set of a type)
// and result update (upstream's, one set): suppressed=True|False on the matching results.
func suppressResults(req *request) (any, error) {
	p := req.params
	if !p.Has("suppressed") {
		return nil, fieldError("suppressed", "This field is required.")
	}
	sup, err := p.Bool("suppressed", false)
	if err != nil {
		return nil, err
	}
	q, err := parseResultQuery(p)
	if err != nil {
		return nil, err
	}
	var out []setJSON
	err = req.s.store.Update(req.ctx, func(tx *store.Tx) (err error) {
		out, err = q.each(tx, req, false, func(m *store.Machine, v *resultView, set *store.ScriptSet, rs []store.ScriptResult, kept []int) (*setJSON, error) {
			for _, k := range kept {
				rs[k].Suppressed = sup
				if err := tx.UpdateScriptResult(&rs[k]); err != nil {
					return nil, err
				}
			}
			if len(kept) == 0 && req.path["id"] == "" {
				return nil, nil // the collection form lists the sets it changed
			}
			j := v.renderSet(m, set, rs, false)
			return &j, nil
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	return oneOrAll(req, out), nil
}

func deleteResultSet(req *request) (any, error) {
	err := req.s.store.Update(req.ctx, func(tx *store.Tx) error {
		m, err := loadMachine(tx, req)
		if err != nil {
			return err
		}
		sets, err := setsOf(tx, m, req.path["id"], nil)
		if err != nil {
			return err
		}
		id := sets[0].ID
		if (m.CurrentCommissioningSet != nil && *m.CurrentCommissioningSet == id) || (m.CurrentInstallationSet != nil && *m.CurrentInstallationSet == id) {
			return badRequest("Unable to delete the current commissioning or installation script result.")
		}
		if m.CurrentTestingSet != nil && *m.CurrentTestingSet == id {
			m.CurrentTestingSet = nil
			if err := tx.UpdateMachine(m); err != nil {
				return err
			}
		}
		return tx.DeleteScriptSet(id)
	})
	if err != nil {
		return nil, err
	}
	return noContent{}, nil
}
