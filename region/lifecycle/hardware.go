package lifecycle

// This file applies what commissioning scripts report to the machine: the inventory of
// 50-maas-01-commissioning becomes its CPU, memory, NUMA nodes, disks, interfaces and
// hardware_info, the boot interface comes from BOOTIF in maas-kernel-cmdline's output, and
// the interfaces' LLDP neighbours from maas-lldp-neighbours' (neighbours.go).

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"maasgo/region/inventory"
	"maasgo/region/store"
	"maasgo/wire"
)

// Script names whose output the region reads.
const (
	InventoryScript = "50-maas-01-commissioning"
	CmdlineScript   = "maas-kernel-cmdline"
)

// applyReported reads the inventory, the kernel command line and the neighbours when their
// scripts pass, for every result a signal stores; the inventory and the modaliases add the
// for_hardware scripts that now match to a commissioning (forhardware.go). An inventory or
// neighbours the region cannot use fails its result, which fails the commissioning, and
// says why in an event.
func applyReported(tx *store.Tx, m *store.Machine, r *store.ScriptResult) error {
	if r.Status != wire.ScriptPassed {
		return nil
	}
	out := ResultOutput(r)
	switch r.ScriptName {
	case InventoryScript:
		doc, err := inventory.Parse(out)
		if err != nil {
			return unusable(tx, m, r, "the hardware inventory", err)
		}
		facts, err := inventory.FromDocument(doc)
		if err != nil {
			return unusable(tx, m, r, "the hardware inventory", err)
		}
		if err := recordDrift(tx, m, r, doc); err != nil {
			return err
		}
		if err := ApplyInventory(tx, m, facts); err != nil {
			return err
		}
		if err := checkProfile(tx, m, r, facts); err != nil {
			return err
		}
		if err := reapplyNeighbours(tx, m); err != nil {
			return err
		}
		if err := tx.AddEvent(&store.Event{NodeID: m.ID, Type: "Hardware", Description: fmt.Sprintf(
			"%d CPUs, %d MiB, %d disks, %d interfaces", facts.CPUCount, facts.Memory, len(facts.BlockDevices), len(facts.Interfaces))}); err != nil {
			return err
		}
		return addForHardware(tx, m) // scripts for the system and mainboard now known
	case ModaliasesScript:
		return addForHardware(tx, m) // scripts for the devices now known (forhardware.go)
	case CmdlineScript:
		mac := inventory.BootIFMAC(string(out))
		if mac == "" {
			return nil
		}
		i, err := tx.InterfaceByMAC(mac)
		if errors.Is(err, store.ErrNotFound) || (err == nil && i.NodeID != m.ID) {
			return nil
		} else if err != nil {
			return err
		}
		m.BootInterfaceID = &i.ID
	case NeighboursScript:
		return applyNeighbours(tx, m, r, out)
	}
	return nil
}

// unusable fails a result whose output the region cannot use (what, e.g. the hardware
// inventory) and says why in an event.
func unusable(tx *store.Tx, m *store.Machine, r *store.ScriptResult, what string, err error) error {
	r.Status = wire.ScriptFailed
	if uerr := tx.UpdateScriptResult(r); uerr != nil {
		return uerr
	}
	return tx.AddEvent(&store.Event{NodeID: m.ID, Type: "Script result error", Level: "ERROR",
		Description: fmt.Sprintf("%s: %s cannot be used: %v", r.ScriptName, what, err)})
}

// ApplyInventory writes facts into m (which the caller saves), its disks and its interfaces. Disks and
// interfaces keep their ids when their identity is unchanged (serial or path; MAC or name);
// vanished ones are removed; tags a person added survive. skip_storage and skip_networking
// leave disks and interfaces alone. Pending results waiting for devices are expanded.
func ApplyInventory(tx *store.Tx, m *store.Machine, f *inventory.Facts) error {
	arch, sub, _ := strings.Cut(f.Architecture, "/")
	if have, haveSub, ok := strings.Cut(m.Architecture, "/"); ok && have == arch && haveSub != "generic" && haveSub != "" && sub == "generic" {
		sub = haveSub
	}
	m.Architecture = arch + "/" + sub
	m.CPUCount, m.CPUSpeed, m.Memory = int(f.CPUCount), int(f.CPUSpeed), int64(f.Memory)
	m.HardwareInfo = f.HardwareInfo
	m.HardwareUUID = ""
	if f.HardwareUUID != nil {
		taken, err := tx.HardwareUUIDTaken(*f.HardwareUUID, m.ID)
		if err != nil {
			return err
		}
		if !taken {
			m.HardwareUUID = *f.HardwareUUID
		}
	}
	m.Tags = slices.DeleteFunc(m.Tags, func(t string) bool { return t == "virtual" })
	for _, t := range f.Tags {
		if !slices.Contains(m.Tags, t) {
			m.Tags = append(m.Tags, t)
		}
	}
	m.NUMANodes = m.NUMANodes[:0]
	for _, n := range f.NUMANodes {
		node := store.NUMANode{Index: int(n.Index), Memory: int64(n.Memory), Cores: n.Cores}
		for _, h := range n.Hugepages {
			node.Hugepages = append(node.Hugepages, store.Hugepages{PageSize: int64(h.PageSize), Total: int64(h.Total)})
		}
		m.NUMANodes = append(m.NUMANodes, node)
	}
	if !m.SkipStorage {
		if err := applyDisks(tx, m, f.BlockDevices); err != nil {
			return err
		}
	}
	if !m.SkipNetworking {
		if err := applyInterfaces(tx, m, f.Interfaces); err != nil {
			return err
		}
	}
	// The skip flags hold for one commissioning only.
	m.SkipStorage, m.SkipNetworking = false, false
	return Regenerate(tx, m)
}

func applyDisks(tx *store.Tx, m *store.Machine, found []inventory.BlockDevice) error {
	all, err := tx.BlockDevices(m.ID)
	if err != nil {
		return err
	}
	existing := all[m.ID]
	used := map[int64]bool{}
	for _, d := range found {
		var cur *store.BlockDevice
		for i := range existing {
			e := &existing[i]
			if used[e.ID] {
				continue
			}
			if (d.Serial != "" && e.Serial == d.Serial) || (d.Serial == "" && e.IDPath == d.IDPath) {
				cur = e
				break
			}
		}
		if cur == nil {
			cur = &store.BlockDevice{NodeID: m.ID}
		}
		userTags := slices.DeleteFunc(slices.Clone(cur.Tags), isDerivedDiskTag)
		cur.Name, cur.IDPath, cur.Model, cur.Serial = d.Name, d.IDPath, d.Model, d.Serial
		cur.Size, cur.BlockSize, cur.FirmwareVersion, cur.NUMANode = int64(d.Size), int(d.BlockSize), d.FirmwareVersion, int(d.NUMANode)
		cur.Tags = mergeTags(d.Tags, userTags)
		if cur.ID == 0 {
			if err := tx.CreateBlockDevice(cur); err != nil {
				return err
			}
		} else if err := tx.UpdateBlockDevice(cur); err != nil {
			return err
		}
		used[cur.ID] = true
	}
	for _, e := range existing {
		if !used[e.ID] {
			if err := tx.DeleteBlockDevice(e.ID); err != nil {
				return err
			}
		}
	}
	return nil
}

// isDerivedDiskTag reports whether commissioning sets the tag (so a person did not).
func isDerivedDiskTag(t string) bool {
	switch t {
	case "ssd", "rotary", "removable", "sata", "multipath":
		return true
	}
	return strings.HasSuffix(t, "rpm")
}

func mergeTags(derived, user []string) []string {
	out := slices.Clone(derived)
	for _, t := range user {
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}

// moveInterface takes interface i from the machine that holds it, for machine to: the old
// holder loses it (and its boot interface, if it was that), and both get a WARNING event
// naming the interface, its MAC and the other machine.
func moveInterface(tx *store.Tx, i *store.Interface, to *store.Machine) error {
	from, err := tx.MachineByID(i.NodeID)
	if err != nil {
		return fmt.Errorf("move interface %s: %w", i.MACAddress, err)
	}
	if err := tx.DeleteInterface(i.ID); err != nil {
		return err
	}
	if from.BootInterfaceID != nil && *from.BootInterfaceID == i.ID {
		from.BootInterfaceID = nil
		if err := tx.UpdateMachine(from); err != nil {
			return err
		}
	}
	for _, e := range []store.Event{
		{NodeID: from.ID, Description: fmt.Sprintf("%s (%s) moved to %s (%s), which reported it", i.Name, i.MACAddress, to.Hostname, to.SystemID)},
		{NodeID: to.ID, Description: fmt.Sprintf("%s (%s) moved here from %s (%s)", i.Name, i.MACAddress, from.Hostname, from.SystemID)},
	} {
		e.Type, e.Level = "Interface moved", "WARNING"
		if err := tx.AddEvent(&e); err != nil {
			return err
		}
	}
	return nil
}

func applyInterfaces(tx *store.Tx, m *store.Machine, found []inventory.Interface) error {
	all, err := tx.Interfaces(m.ID)
	if err != nil {
		return err
	}
	existing := all[m.ID]
	match := func(f inventory.Interface) *store.Interface {
		for i := range existing {
			e := &existing[i]
			if f.Type == "physical" && e.Type == "physical" && f.MACAddress != "" && strings.EqualFold(e.MACAddress, f.MACAddress) {
				return e
			}
		}
		for i := range existing {
			e := &existing[i]
			if f.Type != "physical" && e.Type == f.Type && e.Name == f.Name {
				return e
			}
		}
		return nil
	}
	keep := map[int64]bool{}
	var plan, before []*store.Interface
	for _, f := range found {
		cur := match(f)
		var was *store.Interface
		if cur != nil {
			c := *cur
			was = &c
		}
		if cur == nil {
			// A physical MAC another machine holds moves to this machine, which has the card
			// now, as upstream moves it; both machines' events say so.
			if f.Type == "physical" && f.MACAddress != "" {
				if other, err := tx.InterfaceByMAC(f.MACAddress); err == nil && other.NodeID != m.ID {
					if err := moveInterface(tx, other, m); err != nil {
						return err
					}
				} else if err != nil && !errors.Is(err, store.ErrNotFound) {
					return err
				}
			}
			cur = &store.Interface{NodeID: m.ID}
		}
		userTags := slices.DeleteFunc(slices.Clone(cur.Tags), func(t string) bool { return t == "sriov" })
		cur.Name, cur.Type, cur.MACAddress, cur.Parents = f.Name, f.Type, strings.ToLower(f.MACAddress), f.Parents
		cur.VID = nil
		if f.VID != nil {
			vid := int(*f.VID)
			cur.VID = &vid
		}
		if cur.Params == "" && f.Params != nil {
			params, err := json.Marshal(f.Params)
			if err != nil {
				return fmt.Errorf("encode the params of interface %s: %w", f.Name, err)
			}
			cur.Params = string(params)
		}
		cur.Vendor, cur.Product, cur.FirmwareVersion = f.Vendor, f.Product, f.FirmwareVersion
		cur.LinkConnected, cur.LinkSpeed, cur.InterfaceSpeed = f.LinkConnected, int64(f.LinkSpeed), int64(f.InterfaceSpeed)
		cur.NUMANode, cur.SRIOVMaxVF, cur.Enabled = int(f.NUMANode), int(f.SRIOVMaxVF), f.Enabled
		if f.MTU > 0 {
			cur.MTU = f.MTU
		}
		cur.Tags = mergeTags(f.Tags, userTags)
		cur.Links = cur.Links[:0]
		for _, l := range f.Links {
			addr, _, _ := strings.Cut(l, "/")
			cur.Links = append(cur.Links, store.Link{Mode: "auto", Address: addr, Subnet: l})
		}
		if cur.ID != 0 {
			keep[cur.ID] = true
		}
		plan, before = append(plan, cur), append(before, was)
	}
	for _, e := range existing {
		if !keep[e.ID] {
			if err := tx.DeleteInterface(e.ID); err != nil {
				return err
			}
			if m.BootInterfaceID != nil && *m.BootInterfaceID == e.ID {
				m.BootInterfaceID = nil
			}
		}
	}
	// Names move between interfaces (eth0 becomes ens3): free them all before renaming.
	final := make([]string, len(plan))
	for i, cur := range plan {
		final[i] = cur.Name
		if cur.ID != 0 {
			cur.Name = fmt.Sprintf("renaming-%d", cur.ID)
			if err := tx.UpdateInterface(cur); err != nil {
				return err
			}
		}
	}
	for i, cur := range plan {
		cur.Name = final[i]
		if cur.ID == 0 {
			if err := tx.CreateInterface(cur); err != nil {
				return err
			}
		} else if err := tx.UpdateInterface(cur); err != nil {
			return err
		}
		if err := noteLinkChange(tx, m, before[i], cur, InventoryScript); err != nil {
			return err
		}
	}
	if m.BootInterfaceID == nil {
		for _, cur := range plan {
			if cur.Type == "physical" {
				id := cur.ID
				m.BootInterfaceID = &id
				break
			}
		}
	}
	return nil
}
