package api

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"maasgo/region/config"
	"maasgo/region/lifecycle"
	"maasgo/region/power"
	"maasgo/region/store"
	"maasgo/wire"
)

// details loads what the machines' JSON needs beyond their rows, in a few queries whatever
// the number of machines.
func details(tx *store.Tx, ms []store.Machine) (map[int64]machineDetails, error) {
	ids := make([]int64, len(ms))
	for i := range ms {
		ids[i] = ms[i].ID
	}
	ifs, err := tx.Interfaces(ids...)
	if err != nil {
		return nil, err
	}
	disks, err := tx.BlockDevices(ids...)
	if err != nil {
		return nil, err
	}
	out := make(map[int64]machineDetails, len(ms))
	for _, id := range ids {
		out[id] = machineDetails{Interfaces: ifs[id], Disks: disks[id], Statuses: map[string]int{}}
	}
	// Test summaries from the current sets' results.
	var setIDs []int64
	owner := map[int64]int64{}
	kind := map[int64]string{}
	for i := range ms {
		if p := ms[i].CurrentCommissioningSet; p != nil {
			setIDs, owner[*p], kind[*p] = append(setIDs, *p), ms[i].ID, "commissioning"
		}
		if p := ms[i].CurrentTestingSet; p != nil {
			setIDs, owner[*p], kind[*p] = append(setIDs, *p), ms[i].ID, "testing"
		}
	}
	if len(setIDs) == 0 {
		return out, nil
	}
	tallies, err := tx.ResultTallies(setIDs)
	if err != nil {
		return nil, err
	}
	groups := map[int64]map[string][]store.ResultTally{}
	for _, c := range tallies {
		node := owner[c.SetID]
		g := groups[node]
		if g == nil {
			g = map[string][]store.ResultTally{}
			groups[node] = g
		}
		k := kind[c.SetID]
		g[k] = append(g[k], c)
		if k != "testing" {
			continue
		}
		switch c.HardwareType {
		case wire.HardwareCPU:
			g["cpu_test"] = append(g["cpu_test"], c)
		case wire.HardwareMemory:
			g["memory_test"] = append(g["memory_test"], c)
		case wire.HardwareStorage:
			g["storage_test"] = append(g["storage_test"], c)
		case wire.HardwareNetwork:
			g["network_test"] = append(g["network_test"], c)
			if c.OnInterface {
				g["interface_test"] = append(g["interface_test"], c)
			}
		default:
			g["other_test"] = append(g["other_test"], c)
		}
	}
	for node, g := range groups {
		for k, list := range g {
			out[node].Statuses[k] = lifecycle.TallyStatus(list)
		}
	}
	// A set that exists but holds no result is -1 too, as upstream shows it.
	return out, nil
}

// maxFilterValues bounds the values of one filter of machines read, which each become a
// placeholder of one query.
const maxFilterValues = 1000

// machineFilter reads upstream's filters of machines read: hostname, id (system_id here
// too), mac_address and domain (each may repeat), status, cpu_count and mem (minimums),
// zone, pool and agent_name. This region has one zone and one pool, both "default", and
// machines without an agent name, so those three select all machines or none (none is nil).
func machineFilter(p *Params) (f *store.MachineFilter, err error) {
	for _, name := range []string{"hostname", "system_id", "id", "domain", "status", "mac_address", "zone", "pool", "agent_name"} {
		if n := len(p.List(name)); n > maxFilterValues {
			return nil, fieldError(name, fmt.Sprintf("%d values; at most %d may be given.", n, maxFilterValues))
		}
	}
	f = &store.MachineFilter{Hostnames: p.List("hostname"), SystemIDs: append(p.List("system_id"), p.List("id")...),
		Domains: p.List("domain")}
	for _, v := range p.List("status") {
		st, err := wire.ParseNodeStatus(v)
		if err != nil {
			return nil, fieldError("status", err.Error())
		}
		f.Statuses = append(f.Statuses, st)
	}
	var bad []string
	for _, v := range p.List("mac_address") {
		mac, err := lifecycle.NormalizeMAC(v)
		if err != nil {
			bad = append(bad, v)
			continue
		}
		f.MACs = append(f.MACs, mac)
	}
	if len(bad) > 0 {
		return nil, fieldError("mac_address", "Invalid MAC address(es): "+strings.Join(bad, ", "))
	}
	for _, m := range []struct {
		name string
		dst  *int64
	}{{"cpu_count", nil}, {"mem", &f.MinMemory}} {
		v := strings.TrimSpace(p.Get(m.name))
		if v == "" {
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return nil, fieldError(m.name, fmt.Sprintf("%q is not a whole number, 0 or more.", v))
		}
		if m.dst == nil {
			f.MinCPUs = int(min(n, 1<<31-1))
		} else {
			*m.dst = n
		}
	}
	for _, name := range []string{"zone", "pool"} {
		for _, v := range p.List(name) {
			if v != "default" {
				return nil, nil
			}
		}
	}
	for _, v := range p.List("agent_name") {
		if v != "" {
			return nil, nil
		}
	}
	return f, nil
}

func readMachines(req *request) (any, error) {
	f, err := machineFilter(req.params)
	if err != nil {
		return nil, err
	}
	if f == nil {
		return []*machineJSON{}, nil
	}
	var out []*machineJSON
	err = req.s.store.View(req.ctx, func(tx *store.Tx) error {
		ms, err := tx.Machines(*f)
		if err != nil {
			return err
		}
		ms = slices.DeleteFunc(ms, func(m store.Machine) bool { return !visible(req.user, &m) })
		out, err = renderMachines(tx, ms)
		return err
	})
	return out, err
}

// renderMachines gives the JSON of a list of machines, their details read at once.
func renderMachines(tx *store.Tx, ms []store.Machine) ([]*machineJSON, error) {
	det, err := details(tx, ms)
	if err != nil {
		return nil, err
	}
	out := make([]*machineJSON, len(ms))
	for i := range ms {
		out[i] = renderMachine(&ms[i], det[ms[i].ID])
	}
	return out, nil
}

// loadMachine reads the machine named in the path, with a 404 naming it when it is unknown,
// and checks that the caller may do the action on it (a 403 otherwise, as upstream).
func loadMachine(tx *store.Tx, req *request) (*store.Machine, error) {
	id := req.path["system_id"]
	m, err := tx.MachineBySystemID(id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, notFoundf("No machine with system ID %s.", id)
	}
	if err != nil {
		return nil, err
	}
	perm := nodeNone
	if req.action != nil {
		perm = req.action.node
	}
	if err := mayAct(req.user, m, perm); err != nil {
		return nil, err
	}
	return m, nil
}

// viewMachine renders one machine after a change.
func viewMachine(tx *store.Tx, m *store.Machine) (*machineJSON, error) {
	fresh, err := tx.MachineByID(m.ID)
	if err != nil {
		return nil, err
	}
	det, err := details(tx, []store.Machine{*fresh})
	if err != nil {
		return nil, err
	}
	return renderMachine(fresh, det[fresh.ID]), nil
}

// readMachine answers a machine's read, with its current_run_eta (which listings and the
// answers of actions leave null: it reads earlier runs).
func readMachine(req *request) (any, error) {
	var out *machineJSON
	err := req.s.store.View(req.ctx, func(tx *store.Tx) error {
		m, err := loadMachine(tx, req)
		if err != nil {
			return err
		}
		if out, err = viewMachine(tx, m); err != nil {
			return err
		}
		eta, err := req.s.runtimes.RunETA(tx, m, req.s.now())
		if eta != nil {
			s := eta.Format(time.RFC3339)
			out.CurrentRunETA = &s
		}
		return err
	})
	return out, err
}

func powerParameters(p *Params) (map[string]any, error) {
	raw := strings.TrimSpace(p.Get("power_parameters"))
	if raw == "" {
		return nil, nil
	}
	var v map[string]any
	if err := json.Unmarshal([]byte(raw), &v); err != nil {
		return nil, fieldError("power_parameters", "Must be a JSON object: "+err.Error())
	}
	return v, nil
}

func createMachine(req *request) (any, error) {
	if req.token == nil {
		return enlistMachine(req)
	}
	p := req.params
	deployed, err := p.Bool("deployed", false)
	if err != nil {
		return nil, err
	}
	commission, err := p.Bool("commission", !deployed)
	if err != nil {
		return nil, err
	}
	if deployed && commission && p.Has("commission") {
		return nil, fieldError("commission", "A machine created deployed cannot also start commissioning.")
	}
	pp, err := powerParameters(p)
	if err != nil {
		return nil, err
	}
	opts := lifecycle.CreateOptions{
		Hostname: p.Get("hostname"), Domain: p.Get("domain"), Architecture: p.Get("architecture"),
		MACs: p.List("mac_addresses"), PowerType: p.Get("power_type"), PowerParameters: pp,
		Description: p.Get("description"), Deployed: deployed, Commission: commission && !deployed,
	}
	var out *machineJSON
	err = req.s.store.Update(req.ctx, func(tx *store.Tx) error {
		m, err := lifecycle.CreateMachine(tx, opts, req.user)
		if err != nil {
			return err
		}
		if opts.Commission {
			co, err := commissionOptions(p)
			if err != nil {
				return err
			}
			if err := lifecycle.StartCommissioning(tx, m, co, req.user); err != nil {
				return err
			}
		}
		out, err = viewMachine(tx, m)
		return err
	})
	return out, err
}

// enlistMachine is machines create without credentials: a machine the region does not know
// enlists itself (protocol.md §6.9). It always commissions; what it may set is its
// architecture, MAC addresses, hostname, domain and power settings.
func enlistMachine(req *request) (any, error) {
	p := req.params
	if commission, err := p.Bool("commission", true); err != nil {
		return nil, err
	} else if !commission {
		return nil, fieldError("commission", "An enlisting machine always commissions: leave commission out or set it to true.")
	}
	if deployed, err := p.Bool("deployed", false); err != nil {
		return nil, err
	} else if deployed {
		return nil, fieldError("deployed", "Only administrators can add deployed machines.")
	}
	pp, err := powerParameters(p)
	if err != nil {
		return nil, err
	}
	opts := lifecycle.CreateOptions{
		Hostname: p.Get("hostname"), Domain: p.Get("domain"), Architecture: p.Get("architecture"),
		MACs: p.List("mac_addresses"), PowerType: p.Get("power_type"), PowerParameters: pp,
	}
	var out *machineJSON
	err = req.s.store.Update(req.ctx, func(tx *store.Tx) error {
		m, err := lifecycle.Enlist(tx, opts)
		if err != nil {
			return err
		}
		out, err = viewMachine(tx, m)
		return err
	})
	return out, err
}

// commissionFields are the fields of commission and test that are not script parameters.
var commissionFields = map[string]bool{"op": true, "commissioning_scripts": true, "testing_scripts": true,
	"enable_ssh": true, "skip_networking": true, "skip_storage": true, "skip_bmc_config": true, "comment": true,
	"hostname": true, "architecture": true, "mac_addresses": true, "power_type": true, "power_parameters": true,
	"description": true, "domain": true, "deployed": true, "commission": true}

// commissionOptions reads the commissioning fields shared by machines create and commission;
// every other field is a script parameter (<param> or <script>_<param>).
func commissionOptions(p *Params) (lifecycle.CommissionOptions, error) {
	o := lifecycle.CommissionOptions{
		CommissioningScripts: p.List("commissioning_scripts"),
		TestingScripts:       p.List("testing_scripts"),
		Params:               lifecycle.ParamInputs{},
	}
	var err error
	if o.EnableSSH, err = p.Bool("enable_ssh", false); err != nil {
		return o, err
	}
	if o.SkipNetworking, err = p.Bool("skip_networking", false); err != nil {
		return o, err
	}
	if o.SkipStorage, err = p.Bool("skip_storage", false); err != nil {
		return o, err
	}
	for k := range p.Values {
		if !commissionFields[k] && !strings.HasPrefix(k, "oauth_") {
			o.Params[k] = p.Get(k)
		}
	}
	return o, nil
}

// changeMachine loads the machine named in the path, applies change in one transaction and
// renders the machine as it is afterwards.
func changeMachine(req *request, change func(tx *store.Tx, m *store.Machine) error) (any, error) {
	var out *machineJSON
	err := req.s.store.Update(req.ctx, func(tx *store.Tx) error {
		m, err := loadMachine(tx, req)
		if err != nil {
			return err
		}
		if err := change(tx, m); err != nil {
			return err
		}
		out, err = viewMachine(tx, m)
		return err
	})
	return out, err
}

func commissionMachine(req *request) (any, error) {
	opts, err := commissionOptions(req.params)
	if err != nil {
		return nil, err
	}
	return changeMachine(req, func(tx *store.Tx, m *store.Machine) error {
		return lifecycle.StartCommissioning(tx, m, opts, req.user)
	})
}

func testMachine(req *request) (any, error) {
	opts, err := commissionOptions(req.params)
	if err != nil {
		return nil, err
	}
	return changeMachine(req, func(tx *store.Tx, m *store.Machine) error {
		return lifecycle.StartTesting(tx, m, opts.TestingScripts, opts.Params, opts.EnableSSH, req.user)
	})
}

func abortMachine(req *request) (any, error) {
	return changeMachine(req, func(tx *store.Tx, m *store.Machine) error {
		return lifecycle.Abort(tx, m, req.user, req.params.Get("comment"))
	})
}

func overrideFailedTesting(req *request) (any, error) {
	return changeMachine(req, func(tx *store.Tx, m *store.Machine) error {
		return lifecycle.OverrideFailedTesting(tx, m, req.user, req.params.Get("comment"))
	})
}

func allocateMachine(req *request) (any, error) {
	p := req.params
	c := lifecycle.Constraints{SystemID: p.Get("system_id"), Hostname: p.Get("name"), Arch: p.Get("arch"), Tags: p.List("tags")}
	if c.Hostname == "" {
		c.Hostname = p.Get("hostname")
	}
	cpu, err := p.Int("cpu_count", 0)
	if err != nil {
		return nil, err
	}
	mem, err := p.Int("mem", 0)
	if err != nil {
		return nil, err
	}
	c.MinCPU, c.MinMemMB = int(cpu), mem
	var out *machineJSON
	err = req.s.store.Update(req.ctx, func(tx *store.Tx) error {
		m, err := lifecycle.Allocate(tx, c, req.user)
		if err != nil {
			return err
		}
		out, err = viewMachine(tx, m)
		return err
	})
	return out, err
}

func isRegistered(req *request) (any, error) {
	macs := req.params.List("mac_address")
	if len(macs) == 0 {
		return nil, fieldError("mac_address", "This field is required.")
	}
	found := false
	err := req.s.store.View(req.ctx, func(tx *store.Tx) error {
		for _, raw := range macs {
			mac, err := lifecycle.NormalizeMAC(raw)
			if err != nil {
				return err
			}
			i, err := tx.InterfaceByMAC(mac)
			if errors.Is(err, store.ErrNotFound) {
				continue
			} else if err != nil {
				return err
			}
			m, err := tx.MachineByID(i.NodeID)
			if err != nil {
				return err
			}
			if registeredFor(req.user, m.Status) {
				found = true
				return nil
			}
		}
		return nil
	})
	return found, err
}

// registeredFor says whether a machine in status st counts as registered for the caller: as
// upstream, an anonymous caller (a machine enlisting) is not told of New, Commissioning or
// Retired machines.
func registeredFor(u *store.User, st wire.NodeStatus) bool {
	if st == wire.NodeRetired {
		return false
	}
	return u != nil || (st != wire.NodeNew && st != wire.NodeCommissioning)
}

func updateMachine(req *request) (any, error) {
	p := req.params
	pp, err := powerParameters(p)
	if err != nil {
		return nil, err
	}
	var out *machineJSON
	err = req.s.store.Update(req.ctx, func(tx *store.Tx) error {
		m, err := loadMachine(tx, req)
		if err != nil {
			return err
		}
		if p.Has("hostname") {
			h := strings.ToLower(strings.TrimSpace(p.Get("hostname")))
			if err := lifecycle.ValidateHostname(h); err != nil {
				return err
			}
			if h != m.Hostname {
				if taken, err := tx.Machines(store.MachineFilter{Hostnames: []string{h}}); err != nil {
					return err
				} else if len(taken) > 0 {
					return fieldError("hostname", "Node with this Hostname already exists.")
				}
			}
			m.Hostname = h
		}
		if p.Has("description") {
			m.Description = p.Get("description")
		}
		if p.Has("domain") {
			m.Domain = p.Get("domain")
		}
		if p.Has("architecture") {
			if m.Architecture, err = lifecycle.NormalizeArchitecture(p.Get("architecture")); err != nil {
				return err
			}
		}
		if p.Has("power_type") {
			pt := p.Get("power_type")
			if err := power.CheckType(pt); err != nil {
				return fieldError("power_type", err.Error())
			}
			m.PowerType = pt
		}
		if pp != nil {
			m.PowerParameters = pp
		}
		if err := tx.UpdateMachine(m); err != nil {
			return err
		}
		out, err = viewMachine(tx, m)
		return err
	})
	return out, err
}

func deleteMachine(req *request) (any, error) {
	err := req.s.store.Update(req.ctx, func(tx *store.Tx) error {
		m, err := loadMachine(tx, req)
		if err != nil {
			return err
		}
		if m.Locked {
			return lifecycle.StateErrorf("Cannot delete %s: the machine is locked.", m.Hostname)
		}
		return tx.DeleteMachine(m.ID)
	})
	if err != nil {
		return nil, err
	}
	return noContent{}, nil
}

func getToken(req *request) (any, error) {
	var tok *store.Token
	err := req.s.store.View(req.ctx, func(tx *store.Tx) error {
		m, err := loadMachine(tx, req)
		if err != nil {
			return err
		}
		tok, err = tx.NodeToken(m.ID)
		return err
	})
	if err != nil {
		return nil, err
	}
	return map[string]any{"token_key": tok.TokenKey, "token_secret": tok.TokenSecret, "consumer_key": tok.ConsumerKey}, nil
}

func deployMachine(req *request) (any, error) {
	p := req.params
	kvm, err := p.Bool("install_kvm", false)
	if err != nil {
		return nil, err
	}
	hwSync, err := p.Bool("enable_hw_sync", false)
	if err != nil {
		return nil, err
	}
	if kvm && !req.user.IsAdmin {
		return nil, forbidden("Only administrators can deploy VM hosts (install_kvm).")
	}
	opts := lifecycle.DeployOptions{OSystem: p.Get("osystem"), DistroSeries: p.Get("distro_series"),
		HWEKernel: p.Get("hwe_kernel"), InstallKVM: kvm, EnableHWSync: hwSync}
	if ud := strings.TrimSpace(p.Get("user_data")); ud != "" {
		b, err := base64.StdEncoding.DecodeString(ud)
		if err != nil {
			return nil, fieldError("user_data", "Must be base64-encoded: "+err.Error())
		}
		opts.UserData = b
	}
	var out *machineJSON
	err = req.s.store.Update(req.ctx, func(tx *store.Tx) error {
		m, err := loadMachine(tx, req)
		if err != nil {
			return err
		}
		if opts.OSystem == "" {
			v, err := config.Get(tx, "default_osystem")
			if err != nil {
				return err
			}
			opts.OSystem = fmt.Sprint(v)
		}
		if opts.DistroSeries == "" {
			v, err := config.Get(tx, "default_distro_series")
			if err != nil {
				return err
			}
			opts.DistroSeries = fmt.Sprint(v)
		}
		if err := lifecycle.Deploy(tx, m, req.user, opts); err != nil {
			return err
		}
		out, err = viewMachine(tx, m)
		return err
	})
	return out, err
}

// releaseMachine is upstream's release op: erase, secure_erase and quick_erase, when given,
// override the disk erasing settings.
func releaseMachine(req *request) (any, error) {
	opts := lifecycle.ReleaseOptions{Comment: req.params.Get("comment")}
	for _, f := range []struct {
		name string
		dst  **bool
	}{{"erase", &opts.Erase}, {"secure_erase", &opts.SecureErase}, {"quick_erase", &opts.QuickErase}} {
		if strings.TrimSpace(req.params.Get(f.name)) == "" {
			continue
		}
		b, err := req.params.Bool(f.name, false)
		if err != nil {
			return nil, err
		}
		*f.dst = &b
	}
	return changeMachine(req, func(tx *store.Tx, m *store.Machine) error {
		return lifecycle.ReleaseWith(tx, m, req.user, opts)
	})
}

func readInterfaces(req *request) (any, error) {
	var out []interfaceJSON
	err := req.s.store.View(req.ctx, func(tx *store.Tx) error {
		m, err := loadMachine(tx, req)
		if err != nil {
			return err
		}
		ifs, err := tx.Interfaces(m.ID)
		out = renderInterfaces(m, ifs[m.ID])
		return err
	})
	return out, err
}

// loadInterface reads the machine and interface named in the path.
func loadInterface(tx *store.Tx, req *request) (*store.Machine, *store.Interface, error) {
	m, err := loadMachine(tx, req)
	if err != nil {
		return nil, nil, err
	}
	id, err := strconv.ParseInt(req.path["id"], 10, 64)
	if err != nil {
		return nil, nil, notFoundf("No interface %q on %s.", req.path["id"], m.SystemID)
	}
	i, err := tx.InterfaceByID(m.ID, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, notFoundf("No interface %d on %s.", id, m.SystemID)
	}
	return m, i, err
}

func readInterface(req *request) (any, error) {
	var out interfaceJSON
	err := req.s.store.View(req.ctx, func(tx *store.Tx) error {
		m, i, err := loadInterface(tx, req)
		if err != nil {
			return err
		}
		out = renderInterfaces(m, []store.Interface{*i})[0]
		return nil
	})
	return out, err
}

func updateInterface(req *request) (any, error) {
	p := req.params
	c := lifecycle.InterfaceChange{Tags: p.List("tags"), SetTags: p.Has("tags")}
	errs := validationError{}
	for k := range p.Values {
		if k != "op" && !strings.HasPrefix(k, "oauth_") {
			c.Fields = append(c.Fields, k)
		}
	}
	if p.Has("name") {
		c.Name = ptrTo(p.Get("name"))
	}
	if p.Has("mac_address") {
		c.MACAddress = ptrTo(p.Get("mac_address"))
	}
	if p.Has("link_connected") {
		b, err := p.Bool("link_connected", false)
		if errs.Merge(err) != nil {
			return nil, err
		}
		c.LinkConnected = &b
	}
	for name, dst := range map[string]**int64{"link_speed": &c.LinkSpeed, "interface_speed": &c.InterfaceSpeed, "mtu": &c.MTU} {
		if p.Has(name) {
			n, err := p.Int(name, 0)
			if errs.Merge(err) != nil {
				return nil, err
			}
			if err == nil {
				*dst = &n
			}
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	var out interfaceJSON
	err := req.s.store.Update(req.ctx, func(tx *store.Tx) error {
		m, i, err := loadInterface(tx, req)
		if err != nil {
			return err
		}
		if err := lifecycle.UpdateInterface(tx, m, i, c); err != nil {
			return err
		}
		out = renderInterfaces(m, []store.Interface{*i})[0]
		return nil
	})
	return out, err
}

func ptrTo[T any](v T) *T { return &v }

// machine loads the machine the request's path names, as the caller may see it, in a read
// transaction of its own.
func (req *request) machine() (*store.Machine, error) {
	var m *store.Machine
	err := req.s.store.View(req.ctx, func(tx *store.Tx) (err error) {
		m, err = loadMachine(tx, req)
		return err
	})
	return m, err
}

// hardwareChanges answers op=hardware_changes: the machine's hardware_changes, or an empty
// list of changes before its second commissioning.
func hardwareChanges(req *request) (any, error) {
	m, err := req.machine()
	if err != nil {
		return nil, err
	}
	if len(m.HardwareChanges) == 0 {
		return map[string]any{"script_set_id": nil, "previous_script_set_id": nil, "detected": nil, "changes": []any{}}, nil
	}
	return json.RawMessage(m.HardwareChanges), nil
}

// reparseMachine answers op=reparse (reparse.Reparser).
func reparseMachine(req *request) (any, error) {
	m, err := req.machine()
	if err != nil {
		return nil, err
	}
	return req.s.reparser.Machine(req.ctx, m.SystemID)
}
