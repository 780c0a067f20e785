package lifecycle

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"maasgo/region/config"
	"maasgo/region/library"
	"maasgo/region/store"
	"maasgo/scripts"
	"maasgo/wire"
)

// CommissionOptions select what a commissioning runs.
type CommissionOptions struct {
	// CommissioningScripts are names or tags of scripts to run besides the built-in ones.
	CommissioningScripts []string
	// TestingScripts are names or tags of tests to run afterwards; ["none"] runs none.
	TestingScripts []string
	EnableSSH      bool
	SkipNetworking bool
	SkipStorage    bool
	// Params are per-script parameter values.
	Params ParamInputs
}

// ParamInputs are per-script parameter values from a request: "<param>" applies to every
// script with that parameter, "<script>_<param>" to one script.
type ParamInputs map[string]string

func (in ParamInputs) lookup(script, param string) (string, bool) {
	if v, ok := in[script+"_"+param]; ok {
		return v, true
	}
	v, ok := in[param]
	return v, ok
}

// devices are what storage and interface parameters expand over.
type devices struct {
	disks  []store.BlockDevice
	ifaces []store.Interface
}

func loadDevices(tx *store.Tx, m *store.Machine) (*devices, error) {
	disks, err := tx.BlockDevices(m.ID)
	if err != nil {
		return nil, err
	}
	ifs, err := tx.Interfaces(m.ID)
	if err != nil {
		return nil, err
	}
	return &devices{disks: disks[m.ID], ifaces: ifs[m.ID]}, nil
}

// newResults makes the pending results of one script in a set: one per matching disk or
// interface when the script takes a storage or interface parameter, otherwise one.
func newResults(s *store.Script, setID int64, in ParamInputs, dev *devices) ([]*store.ScriptResult, error) {
	md, err := library.Metadata(s)
	if err != nil {
		return nil, err
	}
	base := map[string]wire.ResolvedParam{}
	var expand *scripts.Parameter
	for _, p := range md.Parameters {
		rp := wire.ResolvedParam{Type: string(p.Type), ArgumentFormat: p.ArgumentFormat, Title: p.Title,
			Description: p.Description, Required: p.Required, Min: p.Min, Max: p.Max}
		if p.Default != nil {
			rp.Default = *p.Default
		}
		input, given := in.lookup(s.Name, p.Name)
		switch p.Type {
		case scripts.ParamStorage, scripts.ParamInterface:
			if expand != nil {
				return nil, fieldErrorf(p.Name, "script %s has more than one device parameter", s.Name)
			}
			pp := p
			expand = &pp
			if !given {
				input = "all"
				if p.Default != nil && *p.Default != "" {
					input = *p.Default
				}
			}
			rp.Value = input
		case scripts.ParamRuntime:
			v := strconv.FormatFloat(s.Timeout.Seconds(), 'f', -1, 64)
			if p.Default != nil {
				v = *p.Default
			}
			if given {
				v = input
			}
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil || n < 0 {
				return nil, fieldErrorf(p.Name, "%s: runtime %q is not a whole number of seconds", s.Name, v)
			}
			if (p.Min != nil && n < *p.Min) || (p.Max != nil && n > *p.Max) {
				return nil, fieldErrorf(p.Name, "%s: runtime %d is out of range", s.Name, n)
			}
			rp.Value = n
		default:
			switch {
			case given:
				rp.Value = input
			case p.Default != nil:
				rp.Value = *p.Default
			case p.IsRequired():
				return nil, fieldErrorf(p.Name, "%s: parameter %s is required", s.Name, p.Name)
			default:
				continue
			}
			if p.Type == scripts.ParamChoice && len(p.Choices) > 0 {
				ok := false
				for _, c := range p.Choices {
					ok = ok || c.Value == rp.Value
				}
				if !ok {
					return nil, fieldErrorf(p.Name, "%s: %q is not one of the choices of %s", s.Name, rp.Value, p.Name)
				}
			}
		}
		base[p.Name] = rp
	}
	mk := func(params map[string]wire.ResolvedParam, iface, disk *int64) (*store.ScriptResult, error) {
		b, err := json.Marshal(params)
		if err != nil {
			return nil, fmt.Errorf("encode parameters of %s: %w", s.Name, err)
		}
		id := s.ID
		return &store.ScriptResult{SetID: setID, ScriptID: &id, ScriptName: s.Name, Status: wire.ScriptPending,
			Parameters: b, InterfaceID: iface, BlockDeviceID: disk}, nil
	}
	if expand == nil {
		r, err := mk(base, nil, nil)
		return []*store.ScriptResult{r}, err
	}
	input := base[expand.Name].Value.(string)
	var out []*store.ScriptResult
	with := func(v any) map[string]wire.ResolvedParam {
		params := make(map[string]wire.ResolvedParam, len(base))
		for k, p := range base {
			params[k] = p
		}
		rp := params[expand.Name]
		rp.Value = v
		params[expand.Name] = rp
		return params
	}
	if expand.Type == scripts.ParamStorage {
		disks, err := matchDisks(dev.disks, input)
		if err != nil {
			return nil, fieldErrorf(expand.Name, "%s: %v", s.Name, err)
		}
		if len(disks) == 0 {
			r, err := mk(with("all"), nil, nil) // expanded once the machine's disks are known
			return []*store.ScriptResult{r}, err
		}
		for _, d := range disks {
			id := d.ID
			r, err := mk(with(wire.StorageValue{ID: d.ID, Name: d.Name, IDPath: d.IDPath, Model: d.Model, Serial: d.Serial, PhysicalBlockDeviceID: d.ID}), nil, &id)
			if err != nil {
				return nil, err
			}
			out = append(out, r)
		}
		return out, nil
	}
	ifaces, err := matchInterfaces(dev.ifaces, input)
	if err != nil {
		return nil, fieldErrorf(expand.Name, "%s: %v", s.Name, err)
	}
	if len(ifaces) == 0 {
		r, err := mk(with("all"), nil, nil)
		return []*store.ScriptResult{r}, err
	}
	for _, i := range ifaces {
		id := i.ID
		r, err := mk(with(wire.InterfaceValue{ID: i.ID, Name: i.Name, MACAddress: i.MACAddress, Vendor: i.Vendor, Product: i.Product}), &id, nil)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// matchDisks picks the disks a storage parameter names: "all", or a comma list of ids, names,
// paths, models, serials, tags or model:serial.
func matchDisks(disks []store.BlockDevice, input string) ([]store.BlockDevice, error) {
	if strings.TrimSpace(input) == "all" {
		return disks, nil
	}
	var out []store.BlockDevice
	for _, want := range strings.Split(input, ",") {
		want = strings.TrimSpace(want)
		found := false
		for _, d := range disks {
			base := d.IDPath[strings.LastIndex(d.IDPath, "/")+1:]
			if want == strconv.FormatInt(d.ID, 10) || want == d.Name || want == "/dev/"+d.Name || want == d.IDPath ||
				want == base || want == d.Model || want == d.Serial || want == d.Model+":"+d.Serial || slices.Contains(d.Tags, want) {
				if !slices.ContainsFunc(out, func(o store.BlockDevice) bool { return o.ID == d.ID }) {
					out = append(out, d)
				}
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("no disk matches %q", want)
		}
	}
	return out, nil
}

// matchInterfaces picks the interfaces an interface parameter names: "all", or a comma list
// of ids, names, MACs, vendors, products or tags. "all" is, as upstream, every enabled
// interface at the top of its stack: a physical interface that is no bond's, bridge's or
// VLAN's member, a bond, a bridge or a VLAN nothing sits on (a bond is tested through its
// members by the test itself). Disconnected ones and ones without an address are included:
// the test skips them and says why.
func matchInterfaces(ifaces []store.Interface, input string) ([]store.Interface, error) {
	if strings.TrimSpace(input) == "all" {
		parent := map[string]bool{}
		for _, i := range ifaces {
			for _, p := range i.Parents {
				parent[p] = true
			}
		}
		var out []store.Interface
		for _, i := range ifaces {
			if i.Enabled && !parent[i.Name] {
				out = append(out, i)
			}
		}
		return out, nil
	}
	var out []store.Interface
	for _, want := range strings.Split(input, ",") {
		want = strings.TrimSpace(want)
		found := false
		for _, i := range ifaces {
			if want == strconv.FormatInt(i.ID, 10) || want == i.Name || strings.EqualFold(want, i.MACAddress) ||
				want == i.Vendor || want == i.Product || want == i.Vendor+":"+i.Product || slices.Contains(i.Tags, want) {
				if !slices.ContainsFunc(out, func(o store.Interface) bool { return o.ID == i.ID }) {
					out = append(out, i)
				}
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("no interface matches %q", want)
		}
	}
	return out, nil
}

// newSet creates a script set of the given scripts, aborts what is unfinished in the
// machine's older sets of that type and prunes the oldest beyond the configured limit.
// InternetConnectivity is the built-in test whose url parameter defaults to the region's
// network_test_url setting.
const InternetConnectivity = "internet-connectivity"

// withNetworkTestURL gives internet-connectivity the network_test_url setting as its url
// when the request names none.
func withNetworkTestURL(tx *store.Tx, list []store.Script, in ParamInputs) (ParamInputs, error) {
	if !slices.ContainsFunc(list, func(s store.Script) bool { return s.Name == InternetConnectivity }) {
		return in, nil
	}
	if _, given := in.lookup(InternetConnectivity, "url"); given {
		return in, nil
	}
	u, err := config.String(tx, "network_test_url")
	if err != nil {
		return nil, err
	}
	out := make(ParamInputs, len(in)+1)
	maps.Copy(out, in)
	out[InternetConnectivity+"_url"] = u
	return out, nil
}

func newSet(tx *store.Tx, m *store.Machine, typ wire.ResultType, list []store.Script, in ParamInputs, tags []string) (*store.ScriptSet, error) {
	dev, err := loadDevices(tx, m)
	if err != nil {
		return nil, err
	}
	older, err := tx.ScriptSets(m.ID, &typ)
	if err != nil {
		return nil, err
	}
	if in, err = withNetworkTestURL(tx, list, in); err != nil {
		return nil, err
	}
	set := &store.ScriptSet{NodeID: m.ID, Type: typ, Tags: tags}
	if err := tx.CreateScriptSet(set); err != nil {
		return nil, err
	}
	for i := range list {
		rs, err := newResults(&list[i], set.ID, in, dev)
		if err != nil {
			return nil, err
		}
		for _, r := range rs {
			if err := tx.CreateScriptResult(r); err != nil {
				return nil, err
			}
		}
	}
	ids := make([]int64, len(older))
	for i, o := range older {
		ids[i] = o.ID
	}
	if err := abortUnfinished(tx, ids); err != nil {
		return nil, err
	}
	limitName := map[wire.ResultType]string{wire.ResultCommissioning: "max_node_commissioning_results",
		wire.ResultTesting: "max_node_testing_results", wire.ResultInstallation: "max_node_installation_results",
		wire.ResultRelease: "max_node_release_results"}[typ]
	keep, err := config.Int(tx, limitName)
	if err != nil {
		return nil, err
	}
	for i, o := range older { // older is newest first; the new set counts as one
		if int64(i+1) >= keep {
			if err := tx.DeleteScriptSet(o.ID); err != nil {
				return nil, err
			}
		}
	}
	return set, nil
}

// abortUnfinished marks the pending and running results of the given sets ABORTED.
func abortUnfinished(tx *store.Tx, setIDs []int64) error {
	rs, err := tx.ScriptResults(setIDs, false)
	if err != nil {
		return err
	}
	now := time.Now()
	for i := range rs {
		if rs[i].Status.Unfinished() {
			rs[i].Status = wire.ScriptAborted
			if rs[i].Started != nil && rs[i].Ended == nil {
				rs[i].Ended = &now
			}
			if err := tx.UpdateScriptResult(&rs[i]); err != nil {
				return err
			}
		}
	}
	return nil
}

// selectCommissioning picks a commissioning's scripts: every built-in commissioning script,
// plus the named or tagged user scripts, or, when none are named, every user commissioning
// script without the tag noauto and without for_hardware.
func selectCommissioning(tx *store.Tx, named []string) ([]store.Script, error) {
	typ := wire.ScriptTypeCommissioning
	all, err := tx.Scripts(&typ)
	if err != nil {
		return nil, err
	}
	var chosen []store.Script
	if len(named) > 0 {
		if chosen, err = library.Select(tx, typ, named, "commissioning_scripts"); err != nil {
			return nil, err
		}
	}
	var out []store.Script
	for _, s := range all {
		switch {
		case s.Default:
		case len(named) > 0 && !slices.ContainsFunc(chosen, func(c store.Script) bool { return c.ID == s.ID }):
			continue
		case len(named) == 0 && (slices.Contains(s.Tags, "noauto") || len(s.ForHardware) > 0):
			continue
		}
		out = append(out, s)
	}
	return out, nil
}

// selectTesting picks the tests: the named or tagged ones, the ones tagged "commissioning"
// when none are named, none for "none".
func selectTesting(tx *store.Tx, named []string, field string) ([]store.Script, error) {
	if len(named) == 1 && strings.EqualFold(named[0], "none") {
		return nil, nil
	}
	if len(named) == 0 {
		named = []string{"commissioning"}
		typ := wire.ScriptTypeTesting
		all, err := tx.Scripts(&typ)
		if err != nil {
			return nil, err
		}
		var out []store.Script
		for i := range all {
			if library.Matches(&all[i], named) {
				out = append(out, all[i])
			}
		}
		return out, nil
	}
	return library.Select(tx, wire.ScriptTypeTesting, named, field)
}

// StartCommissioning creates the machine's commissioning and testing sets and moves it to
// COMMISSIONING. The machine must then boot (a person powers it on when the power type is
// manual) and run the scripts; node_timeout bounds how long it may take to report.
func StartCommissioning(tx *store.Tx, m *store.Machine, opts CommissionOptions, by *store.User) error {
	if !Allowed(m.Status, wire.NodeCommissioning) {
		return StateErrorf("Cannot commission %s: the machine is %s.", m.Hostname, m.Status.Label())
	}
	if m.Locked {
		return StateErrorf("Cannot commission %s: the machine is locked.", m.Hostname)
	}
	cs, err := selectCommissioning(tx, opts.CommissioningScripts)
	if err != nil {
		return err
	}
	ts, err := selectTesting(tx, opts.TestingScripts, "testing_scripts")
	if err != nil {
		return err
	}
	// Scripts for hardware the machine is not known to have are left out; the commissioning
	// keeps the tags it asked for to add them once the modaliases and the inventory show it.
	hw, err := KnownHardware(tx, m)
	if err != nil {
		return err
	}
	cs, ts = forHardwareOnly(hw, cs), forHardwareOnly(hw, ts)
	tags, err := requestedTags(tx, opts.CommissioningScripts)
	if err != nil {
		return err
	}
	cset, err := newSet(tx, m, wire.ResultCommissioning, cs, opts.Params, tags)
	if err != nil {
		return err
	}
	tset, err := newSet(tx, m, wire.ResultTesting, ts, opts.Params, nil)
	if err != nil {
		return err
	}
	if err := SetStatus(m, wire.NodeCommissioning); err != nil {
		return err
	}
	m.CurrentCommissioningSet, m.CurrentTestingSet = &cset.ID, &tset.ID
	claim(m, by)
	m.EnableSSH, m.SkipNetworking, m.SkipStorage = opts.EnableSSH, opts.SkipNetworking, opts.SkipStorage
	m.ErrorDescription = ""
	if err := tx.UpdateMachine(m); err != nil {
		return err
	}
	desc := fmt.Sprintf("started by %s: %d commissioning and %d testing scripts", username(by), len(cs), len(ts))
	if err := tx.AddEvent(&store.Event{NodeID: m.ID, Type: "Commissioning", Description: desc, Username: username(by)}); err != nil {
		return err
	}
	return powerOn(tx, m, by)
}

// StartTesting creates a testing set of the named tests and moves the machine to TESTING.
// Destructive tests are refused on a deployed machine.
func StartTesting(tx *store.Tx, m *store.Machine, named []string, in ParamInputs, enableSSH bool, by *store.User) error {
	if !Allowed(m.Status, wire.NodeTesting) || m.Status == wire.NodeTesting {
		return StateErrorf("Cannot test %s: the machine is %s.", m.Hostname, m.Status.Label())
	}
	ts, err := selectTesting(tx, named, "testing_scripts")
	if err != nil {
		return err
	}
	hw, err := KnownHardware(tx, m)
	if err != nil {
		return err
	}
	if ts = forHardwareOnly(hw, ts); len(ts) == 0 {
		return fieldErrorf("testing_scripts", "No testing scripts selected.")
	}
	if m.Status == wire.NodeDeployed {
		for _, s := range ts {
			if s.Destructive {
				return fieldErrorf("testing_scripts", "Cannot run destructive test %s on a deployed machine.", s.Name)
			}
		}
	}
	tset, err := newSet(tx, m, wire.ResultTesting, ts, in, nil)
	if err != nil {
		return err
	}
	if err := SetStatus(m, wire.NodeTesting); err != nil {
		return err
	}
	m.CurrentTestingSet = &tset.ID
	claim(m, by)
	m.EnableSSH = enableSSH
	m.ErrorDescription = ""
	if err := tx.UpdateMachine(m); err != nil {
		return err
	}
	if err := tx.AddEvent(&store.Event{NodeID: m.ID, Type: "Testing", Description: fmt.Sprintf("started by %s: %d testing scripts", username(by), len(ts)), Username: username(by)}); err != nil {
		return err
	}
	return powerOn(tx, m, by)
}

// createDeployInfoSet gives a machine created deployed its commissioning set: a pending
// result for each built-in commissioning script tagged deploy-info, for report-results.
func createDeployInfoSet(tx *store.Tx, m *store.Machine) error {
	typ := wire.ScriptTypeCommissioning
	all, err := tx.Scripts(&typ)
	if err != nil {
		return err
	}
	var list []store.Script
	for _, s := range all {
		if s.Default && slices.Contains(s.Tags, "deploy-info") {
			list = append(list, s)
		}
	}
	set, err := newSet(tx, m, wire.ResultCommissioning, list, nil, []string{"deploy-info"})
	if err != nil {
		return err
	}
	m.CurrentCommissioningSet = &set.ID
	return nil
}

// Regenerate expands the pending results of the machine's current sets that still wait for
// devices (value "all" before the disks and interfaces were known) into one result per disk
// or interface, now that the inventory has arrived.
func Regenerate(tx *store.Tx, m *store.Machine) error {
	dev, err := loadDevices(tx, m)
	if err != nil {
		return err
	}
	for _, setID := range []*int64{m.CurrentCommissioningSet, m.CurrentTestingSet} {
		if setID == nil {
			continue
		}
		rs, err := tx.ScriptResults([]int64{*setID}, false)
		if err != nil {
			return err
		}
		for i := range rs {
			r := &rs[i]
			if r.Status != wire.ScriptPending || r.ScriptID == nil || !waitsForDevices(r) {
				continue
			}
			s, err := tx.ScriptByID(*r.ScriptID)
			if errors.Is(err, store.ErrNotFound) {
				continue
			} else if err != nil {
				return err
			}
			fresh, err := newResults(s, *setID, inputsOf(r), dev)
			if err != nil {
				return err
			}
			if len(fresh) == 1 && waitsForDevices(fresh[0]) {
				continue // still nothing to expand over
			}
			if err := tx.DeleteScriptResult(r.ID); err != nil {
				return err
			}
			for _, f := range fresh {
				if err := tx.CreateScriptResult(f); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// waitsForDevices reports whether a result's device parameter still holds the placeholder.
func waitsForDevices(r *store.ScriptResult) bool {
	var params map[string]wire.ResolvedParam
	if json.Unmarshal(r.Parameters, &params) != nil {
		return false
	}
	for _, p := range params {
		if (p.Type == "storage" || p.Type == "interface") && p.Value == "all" {
			return true
		}
	}
	return false
}

// inputsOf gives back the scalar parameter inputs a result was created with.
func inputsOf(r *store.ScriptResult) ParamInputs {
	var params map[string]wire.ResolvedParam
	json.Unmarshal(r.Parameters, &params)
	in := ParamInputs{}
	for name, p := range params {
		switch v := p.Value.(type) {
		case string:
			in[r.ScriptName+"_"+name] = v
		case float64:
			in[r.ScriptName+"_"+name] = strconv.FormatFloat(v, 'f', -1, 64)
		}
	}
	return in
}
