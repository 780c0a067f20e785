package lifecycle

import (
	"errors"
	"slices"
	"strings"

	"maasgo/region/store"
	"maasgo/wire"
)

// FieldErrors are several input fields' errors at once; the API answers them with 400
// {field: [messages]}.
type FieldErrors = wire.FieldErrors

// InterfaceChange is what an interface update sets; nil fields are left as they are.
type InterfaceChange struct {
	Name           *string
	MACAddress     *string
	LinkConnected  *bool
	LinkSpeed      *int64
	InterfaceSpeed *int64
	MTU            *int64
	Tags           []string
	SetTags        bool
	// Fields are the names of every field the request sent, known or not.
	Fields []string
}

// deployedInterfaceFields are what may change on a deployed machine's interface (upstream's
// DeployedInterfaceForm).
var deployedInterfaceFields = []string{"name", "mac_address", "link_connected", "link_speed", "interface_speed"}

// UpdateInterface applies c to m's interface i after checking upstream's rules: the machine's
// status allows it, a deployed machine changes only what its running system reports, names,
// MACs, speeds and MTU are valid, and a disconnected link has no speed.
func UpdateInterface(tx *store.Tx, m *store.Machine, i *store.Interface, c InterfaceChange) error {
	switch m.Status {
	case wire.NodeNew, wire.NodeReady, wire.NodeFailedTesting, wire.NodeAllocated, wire.NodeBroken, wire.NodeDeployed:
	default:
		return StateErrorf("Cannot update interface %s because the machine is %s; it must be New, Ready, Failed testing, Allocated, Broken or Deployed.", i.Name, m.Status.Label())
	}
	if m.Status == wire.NodeDeployed {
		for _, k := range c.Fields {
			if !slices.Contains(deployedInterfaceFields, k) {
				return fieldErrorf(k, "Cannot be changed while the machine is deployed; only name, mac_address, link_connected, link_speed and interface_speed can.")
			}
		}
	}
	errs := FieldErrors{}
	wasConnected := i.LinkConnected
	if c.Name != nil {
		name := strings.TrimSpace(*c.Name)
		if name == "" || len(name) > 15 || strings.ContainsAny(name, " /:") {
			errs.Add("name", "%q is not a valid interface name.", name)
		}
		i.Name = name
	}
	if c.MACAddress != nil {
		mac, err := NormalizeMAC(*c.MACAddress)
		var fe FieldErrors
		if errors.As(err, &fe) {
			for _, msgs := range fe {
				errs["mac_address"] = append(errs["mac_address"], msgs...)
			}
		}
		i.MACAddress = mac
	}
	if c.LinkConnected != nil {
		i.LinkConnected = *c.LinkConnected
	}
	for _, f := range []struct {
		name string
		v    *int64
		dst  *int64
	}{{"link_speed", c.LinkSpeed, &i.LinkSpeed}, {"interface_speed", c.InterfaceSpeed, &i.InterfaceSpeed}} {
		switch {
		case f.v == nil:
		case *f.v < 0:
			errs.Add(f.name, "Ensure this value is greater than or equal to 0.")
		default:
			*f.dst = *f.v
		}
	}
	if c.MTU != nil {
		if *c.MTU < 552 || *c.MTU > 65535 {
			errs.Add("mtu", "Ensure this value is between 552 and 65535.")
		} else {
			i.MTU = int(*c.MTU)
		}
	}
	if c.SetTags {
		i.Tags = c.Tags
	}
	if !wasConnected && !i.LinkConnected && c.LinkSpeed != nil && i.LinkSpeed != 0 {
		errs.Add("link_speed", "link_speed cannot be set when link_connected is false.")
	}
	if len(errs) > 0 {
		return errs
	}
	if !i.LinkConnected {
		i.LinkSpeed = 0
	}
	if err := tx.UpdateInterface(i); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return fieldErrorf("name", "Another interface of %s has this name or MAC address.", m.Hostname)
		}
		return err
	}
	return nil
}
