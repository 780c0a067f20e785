package lifecycle

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"regexp"
	"slices"
	"strings"

	"maasgo/region/power"
	"maasgo/region/store"
	"maasgo/wire"
)

// fieldErrorf says one input field is wrong; the API answers it with 400 {field: [msg]}.
func fieldErrorf(field, format string, args ...any) error {
	return wire.FieldError(field, format, args...)
}

// NormalizeArchitecture turns "amd64" into "amd64/generic" and checks that the region takes
// machines of the architecture (wire.Arches).
func NormalizeArchitecture(a string) (string, error) {
	a = strings.TrimSpace(a)
	arch, sub, _ := strings.Cut(a, "/")
	if known, ok := wire.ArchByDebian(arch); !ok || !known.Machines {
		return "", fieldErrorf("architecture", "%q is not a known architecture (one of %s, optionally /subarch)", a, strings.Join(wire.MachineArchitectures(), ", "))
	}
	if sub == "" {
		sub = "generic"
	}
	return arch + "/" + sub, nil
}

var macRE = regexp.MustCompile(`^[0-9a-f]{2}([:-]?)[0-9a-f]{2}(?:[:-]?[0-9a-f]{2}){4}$`)

// NormalizeMAC checks a MAC address and renders it lower-case with colons.
func NormalizeMAC(mac string) (string, error) {
	m := strings.ToLower(strings.TrimSpace(mac))
	if !macRE.MatchString(m) {
		return "", fieldErrorf("mac_addresses", "%q is not a valid MAC address", mac)
	}
	hw, err := net.ParseMAC(m)
	if err != nil {
		m = strings.NewReplacer(":", "", "-", "").Replace(m)
		hw, err = net.ParseMAC(m[0:2] + ":" + m[2:4] + ":" + m[4:6] + ":" + m[6:8] + ":" + m[8:10] + ":" + m[10:12])
		if err != nil {
			return "", fieldErrorf("mac_addresses", "%q is not a valid MAC address", mac)
		}
	}
	return hw.String(), nil
}

var hostnameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// ValidateHostname checks a host name is one DNS label.
func ValidateHostname(h string) error {
	if !hostnameRE.MatchString(h) {
		return fieldErrorf("hostname", "%q is not a valid hostname: use 1-63 lower-case letters, digits and hyphens, not starting or ending with a hyphen", h)
	}
	return nil
}

var adjectives = strings.Fields(`able ace apt bold brave calm cool crisp deft eager easy fair fast fine
	firm fit fond free glad good grand great happy hardy just keen kind lucky merry neat nice noble
	prime proud quick quiet rapid ready safe sharp shy smart snug solid sound spry still sure swift
	tidy true vast warm wise witty`)

var animals = strings.Fields(`ant ape bat bee boar buck bull calf cat clam cod colt cow crab crow
	deer doe dog dove duck eel elk emu ewe fawn fish fly fox frog gnat gnu goat hare hawk hen hog
	ibex jay kid kit koi lamb lark lion lynx mole moth mule newt owl ox pig pony pug ram rat seal
	slug swan toad vole wasp wolf worm wren yak`)

// RandomHostname makes a hostname like "ace-swan", as upstream names new machines.
func RandomHostname() string {
	return adjectives[rand.IntN(len(adjectives))] + "-" + animals[rand.IntN(len(animals))]
}

const systemIDAlphabet = "abcdefghkmnpqrstwxy0123456789"

// CreateOptions describe a new machine.
type CreateOptions struct {
	Hostname        string
	Domain          string
	Architecture    string
	MACs            []string
	PowerType       string
	PowerParameters map[string]any
	Description     string
	// Deployed creates the machine directly in DEPLOYED, owned by the creator.
	Deployed bool
	// Commission starts commissioning at once (upstream's default for machines an admin adds).
	Commission bool
	Enlisting  bool
}

// CreateMachine validates opts and adds the machine, its interfaces (eth0, eth1… in MAC
// order; the first is the boot interface) and its metadata token. Field problems come back
// as *FieldError.
func CreateMachine(tx *store.Tx, opts CreateOptions, by *store.User) (*store.Machine, error) {
	m := &store.Machine{
		Domain:          opts.Domain,
		Description:     opts.Description,
		PowerType:       opts.PowerType,
		PowerParameters: opts.PowerParameters,
		PowerState:      "unknown",
		Netboot:         true,
		Status:          wire.NodeNew,
		Enlisting:       opts.Enlisting,
		HardwareInfo:    map[string]string{},
	}
	if m.Domain == "" {
		m.Domain = "maas"
	}
	if m.PowerType == "" {
		m.PowerType = power.ManualType
	}
	if err := power.CheckType(m.PowerType); err != nil {
		return nil, fieldErrorf("power_type", "%v", err)
	}
	if m.PowerType == power.ManualType {
		m.PowerState = "unknown"
	}
	switch {
	case opts.Architecture != "":
		arch, err := NormalizeArchitecture(opts.Architecture)
		if err != nil {
			return nil, err
		}
		m.Architecture = arch
	case !opts.Deployed:
		return nil, fieldErrorf("architecture", "This field is required.")
	}
	var macs []string
	seen := map[string]bool{}
	for _, raw := range opts.MACs {
		mac, err := NormalizeMAC(raw)
		if err != nil {
			return nil, err
		}
		if seen[mac] {
			return nil, fieldErrorf("mac_addresses", "MAC address %s is given twice.", mac)
		}
		seen[mac] = true
		if other, err := tx.InterfaceByMAC(mac); err == nil {
			owner, _ := tx.MachineByID(other.NodeID)
			name := fmt.Sprint(other.NodeID)
			if owner != nil {
				name = owner.Hostname
			}
			return nil, fieldErrorf("mac_addresses", "MAC address %s already in use on %s.", mac, name)
		} else if !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		macs = append(macs, mac)
	}
	if opts.Hostname != "" {
		h := strings.ToLower(strings.TrimSpace(opts.Hostname))
		if host, dom, ok := strings.Cut(h, "."); ok {
			h = host
			if opts.Domain == "" {
				m.Domain = dom
			}
		}
		if err := ValidateHostname(h); err != nil {
			return nil, err
		}
		if taken, err := tx.Machines(store.MachineFilter{Hostnames: []string{h}}); err != nil {
			return nil, err
		} else if len(taken) > 0 {
			return nil, fieldErrorf("hostname", "Node with this Hostname already exists.")
		}
		m.Hostname = h
	} else {
		for i := 0; ; i++ {
			h := RandomHostname()
			if i > 20 {
				h += "-" + store.RandomString(4, systemIDAlphabet)
			}
			if taken, err := tx.Machines(store.MachineFilter{Hostnames: []string{h}}); err != nil {
				return nil, err
			} else if len(taken) == 0 {
				m.Hostname = h
				break
			}
		}
	}
	for {
		id := store.RandomString(6, systemIDAlphabet)
		if _, err := tx.MachineBySystemID(id); errors.Is(err, store.ErrNotFound) {
			m.SystemID = id
			break
		} else if err != nil {
			return nil, err
		}
	}
	if opts.Deployed {
		m.Status = wire.NodeDeployed
		m.PowerState = "on"
		if by != nil {
			m.OwnerID = &by.ID
			m.Owner = by.Username
		}
	}
	if err := tx.CreateMachine(m); err != nil {
		return nil, err
	}
	for i, mac := range macs {
		iface := &store.Interface{NodeID: m.ID, Name: fmt.Sprintf("eth%d", i), MACAddress: mac, Enabled: true, LinkConnected: true}
		if err := tx.CreateInterface(iface); err != nil {
			return nil, err
		}
		if i == 0 {
			m.BootInterfaceID = &iface.ID
		}
	}
	if opts.Deployed {
		if err := createDeployInfoSet(tx, m); err != nil {
			return nil, err
		}
	}
	tok := store.NewToken(store.TokenNode)
	tok.NodeID = &m.ID
	if err := tx.CreateToken(tok); err != nil {
		return nil, err
	}
	if err := tx.UpdateMachine(m); err != nil {
		return nil, err
	}
	desc := "by " + username(by)
	if opts.Deployed {
		desc += ", already deployed"
	}
	if err := tx.AddEvent(&store.Event{NodeID: m.ID, Type: "Created", Description: desc, Username: username(by)}); err != nil {
		return nil, err
	}
	return m, nil
}

// Constraints select a machine to allocate. Empty fields match anything.
type Constraints struct {
	SystemID string
	Hostname string
	Arch     string
	Tags     []string
	MinCPU   int
	MinMemMB int64
}

func (c Constraints) String() string {
	var parts []string
	add := func(k, v string) {
		if v != "" {
			parts = append(parts, k+"="+v)
		}
	}
	add("system_id", c.SystemID)
	add("name", c.Hostname)
	add("arch", c.Arch)
	add("tags", strings.Join(c.Tags, ","))
	if c.MinCPU > 0 {
		add("cpu_count", fmt.Sprint(c.MinCPU))
	}
	if c.MinMemMB > 0 {
		add("mem", fmt.Sprint(c.MinMemMB))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, " ")
}

func (c Constraints) match(m *store.Machine) bool {
	if c.SystemID != "" && m.SystemID != c.SystemID {
		return false
	}
	if c.Hostname != "" && m.Hostname != c.Hostname && m.Hostname+"."+m.Domain != c.Hostname {
		return false
	}
	if c.Arch != "" {
		want, _, _ := strings.Cut(c.Arch, "/")
		have, _, _ := strings.Cut(m.Architecture, "/")
		if want != have && c.Arch != m.Architecture {
			return false
		}
	}
	for _, t := range c.Tags {
		if !slices.Contains(m.Tags, t) {
			return false
		}
	}
	if c.MinCPU > 0 && m.CPUCount < c.MinCPU {
		return false
	}
	if c.MinMemMB > 0 && m.Memory < c.MinMemMB {
		return false
	}
	return true
}

// Allocate picks a random READY machine matching c and gives it to user.
func Allocate(tx *store.Tx, c Constraints, user *store.User) (*store.Machine, error) {
	f := store.MachineFilter{Statuses: []wire.NodeStatus{wire.NodeReady}}
	if c.SystemID != "" {
		f.SystemIDs = []string{c.SystemID}
	}
	ready, err := tx.Machines(f)
	if err != nil {
		return nil, err
	}
	var candidates []*store.Machine
	for i := range ready {
		if !ready[i].Locked && c.match(&ready[i]) {
			candidates = append(candidates, &ready[i])
		}
	}
	if len(candidates) == 0 {
		return nil, StateErrorf("No machine available matching constraints: %s.", c)
	}
	m := candidates[rand.IntN(len(candidates))]
	if err := SetStatus(m, wire.NodeAllocated); err != nil {
		return nil, err
	}
	m.OwnerID, m.Owner = &user.ID, user.Username
	if err := tx.UpdateMachine(m); err != nil {
		return nil, err
	}
	return m, tx.AddEvent(&store.Event{NodeID: m.ID, Type: "Allocated", Description: "to " + user.Username, Username: user.Username})
}

// DeployOptions are what a deployment records.
type DeployOptions struct {
	OSystem      string
	DistroSeries string
	HWEKernel    string
	UserData     []byte
	InstallKVM   bool
	EnableHWSync bool
}

// InstallLog is the name of the installation's result: the log the machine uploads.
const InstallLog = wire.InstallLog

// Deploy starts deploying m for user. A READY machine is allocated to the user first, as
// upstream does; otherwise the machine must be ALLOCATED (or have failed deployment) and be
// the user's, unless the user is an administrator.
func Deploy(tx *store.Tx, m *store.Machine, user *store.User, opts DeployOptions) error {
	if m.Status == wire.NodeReady {
		if err := SetStatus(m, wire.NodeAllocated); err != nil {
			return err
		}
		m.OwnerID, m.Owner = &user.ID, user.Username
	}
	if m.Status != wire.NodeAllocated && m.Status != wire.NodeFailedDeployment {
		return StateErrorf("Cannot deploy %s: the machine is %s; it must be Allocated (machines allocate first).", m.Hostname, m.Status.Label())
	}
	if m.OwnerID == nil || (*m.OwnerID != user.ID && !user.IsAdmin) {
		return &PermissionError{Msg: fmt.Sprintf("Machine %s is not allocated to %s.", m.SystemID, user.Username)}
	}
	if err := SetStatus(m, wire.NodeDeploying); err != nil {
		return err
	}
	// The installation's results (and its heartbeat for node_timeout) go into a new set.
	set, err := newSet(tx, m, wire.ResultInstallation, nil, nil, nil)
	if err != nil {
		return err
	}
	// The installation's log is a result of its own, pending until the machine uploads it
	// (as upstream's curtin does), so clients find it from the start.
	if err := tx.CreateScriptResult(&store.ScriptResult{SetID: set.ID, ScriptName: InstallLog, Status: wire.ScriptPending,
		Parameters: []byte("{}")}); err != nil {
		return err
	}
	m.CurrentInstallationSet = &set.ID
	m.OSystem, m.DistroSeries, m.HWEKernel = opts.OSystem, opts.DistroSeries, opts.HWEKernel
	m.UserData, m.InstallKVM, m.EnableHWSync = opts.UserData, opts.InstallKVM, opts.EnableHWSync
	m.ErrorDescription = ""
	if err := tx.UpdateMachine(m); err != nil {
		return err
	}
	desc := fmt.Sprintf("%s/%s", m.OSystem, m.DistroSeries)
	if opts.InstallKVM {
		desc += " as a KVM host"
	}
	if err := tx.AddEvent(&store.Event{NodeID: m.ID, Type: "Deploying", Description: desc, Username: user.Username}); err != nil {
		return err
	}
	return powerOn(tx, m, user)
}

// Release returns m to READY: the owner and deployment settings are cleared.
func Release(tx *store.Tx, m *store.Machine, user *store.User, comment string) error {
	switch m.Status {
	case wire.NodeAllocated, wire.NodeDeployed, wire.NodeDeploying, wire.NodeFailedDeployment, wire.NodeFailedReleasing, wire.NodeReserved,
		wire.NodeFailedDiskErasing:
	case wire.NodeReady:
		return nil
	default:
		return StateErrorf("Cannot release %s: the machine is %s.", m.Hostname, m.Status.Label())
	}
	if m.OwnerID != nil && *m.OwnerID != user.ID && !user.IsAdmin {
		return &PermissionError{Msg: fmt.Sprintf("Machine %s is owned by %s.", m.SystemID, m.Owner)}
	}
	m.Status, m.PreviousStatus = wire.NodeReady, m.Status
	clearDeployment(m)
	if err := tx.UpdateMachine(m); err != nil {
		return err
	}
	desc := "by " + user.Username
	if comment != "" {
		desc += ": " + comment
	}
	return tx.AddEvent(&store.Event{NodeID: m.ID, Type: "Released", Description: desc, Username: user.Username})
}

// clearDeployment forgets what a released machine was given: its owner, its deployment
// settings and the KVM host tag.
func clearDeployment(m *store.Machine) {
	m.OwnerID, m.Owner = nil, ""
	m.OSystem, m.DistroSeries, m.HWEKernel, m.UserData = "", "", "", nil
	m.InstallKVM, m.EnableHWSync, m.ErrorDescription = false, false, ""
	m.Tags = slices.DeleteFunc(m.Tags, func(t string) bool { return t == KVMHostTag })
	if m.PowerType == power.ManualType {
		m.PowerState = "unknown"
	}
}

// PermissionError says the user may not act on the machine (403).
type PermissionError struct{ Msg string }

func (e *PermissionError) Error() string { return e.Msg }

// powerOn records the power action. Manual machines are powered by a person.
func powerOn(tx *store.Tx, m *store.Machine, user *store.User) error {
	desc := "manual power: power the machine on by hand"
	if m.PowerType != power.ManualType {
		desc = fmt.Sprintf("power type %s has no driver in this region: power the machine on by hand", m.PowerType)
	}
	return tx.AddEvent(&store.Event{NodeID: m.ID, Type: "Powering on", Description: desc, Username: username(user)})
}

func username(u *store.User) string {
	if u == nil {
		return "the machine itself"
	}
	return u.Username
}
