package inventory

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"maasgo/collectors/schema"
)

// Change is one difference between a machine's hardware at two commissionings.
type Change struct {
	// Kind is what changed: cpu, memory, disk, nic or pci.
	Kind string `json:"kind"`
	// Action is added, removed or changed.
	Action string `json:"action"`
	// Item names the part: a disk's name and serial, a NIC's name and MAC, "node 1", a PCI
	// address.
	Item string `json:"item"`
	// Field, Old and New say what changed of a changed item (empty for added and removed).
	Field string `json:"field,omitempty"`
	Old   string `json:"old,omitempty"`
	New   string `json:"new,omitempty"`
}

func (c Change) String() string {
	if c.Action == "changed" {
		return fmt.Sprintf("%s %s: %s %s → %s", c.Kind, c.Item, c.Field, c.Old, c.New)
	}
	return fmt.Sprintf("%s %s %s", c.Kind, c.Item, c.Action)
}

// Drift compares the hardware of two commissioning documents of one machine, before and
// after, and lists what changed: CPUs (count, models), memory (per NUMA node, or in total
// when the machine has no nodes), disks (matched by serial, else by name: added, removed, size,
// model, firmware), NICs (matched by MAC: added, removed, firmware, and a link that is now
// slower than it was or than the interface can go) and the other PCI functions (matched by
// address and IDs). A part that a disk or NIC change already names is not listed again as a
// PCI function. The list is sorted by kind and item, so equal documents give none.
func Drift(before, after *schema.Document) ([]Change, error) {
	fb, err := FromDocument(before)
	if err != nil {
		return nil, fmt.Errorf("drift: the earlier document: %w", err)
	}
	fa, err := FromDocument(after)
	if err != nil {
		return nil, fmt.Errorf("drift: the new document: %w", err)
	}
	var out []Change
	out = append(out, cpuDrift(before.Resources.CPU, after.Resources.CPU, fb, fa)...)
	out = append(out, memoryDrift(fb, fa)...)
	disks, diskPCI := diskDrift(before.Resources.Storage.Disks, after.Resources.Storage.Disks)
	out = append(out, disks...)
	nics, nicPCI := nicDrift(before, after, fb, fa)
	out = append(out, nics...)
	out = append(out, pciDrift(before.Resources.PCI.Devices, after.Resources.PCI.Devices, diskPCI, nicPCI)...)
	order := map[string]int{"cpu": 0, "memory": 1, "disk": 2, "nic": 3, "pci": 4}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Kind != b.Kind {
			return order[a.Kind] < order[b.Kind]
		}
		if a.Item != b.Item {
			return a.Item < b.Item
		}
		return a.Action+a.Field < b.Action+b.Field
	})
	return out, nil
}

func changed(kind, item, field, old, new string) Change {
	return Change{Kind: kind, Action: "changed", Item: item, Field: field, Old: old, New: new}
}

func cpuDrift(before, after schema.CPU, fb, fa *Facts) []Change {
	var out []Change
	if fb.CPUCount != fa.CPUCount {
		out = append(out, changed("cpu", "all", "count", strconv.FormatUint(fb.CPUCount, 10), strconv.FormatUint(fa.CPUCount, 10)))
	}
	if len(before.Sockets) != len(after.Sockets) {
		out = append(out, changed("cpu", "all", "sockets", strconv.Itoa(len(before.Sockets)), strconv.Itoa(len(after.Sockets))))
	}
	if mb, ma := socketModels(before), socketModels(after); mb != ma {
		out = append(out, changed("cpu", "all", "model", mb, ma))
	}
	return out
}

// socketModels lists the sockets' models, each once, sorted.
func socketModels(c schema.CPU) string {
	seen := map[string]bool{}
	var names []string
	for _, s := range c.Sockets {
		n := strings.TrimSpace(s.Name)
		if n != "" && !seen[n] {
			seen[n] = true
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

func mib(v uint64) string { return strconv.FormatUint(v, 10) + " MiB" }

func memoryDrift(fb, fa *Facts) []Change {
	nb := map[uint64]uint64{}
	for _, n := range fb.NUMANodes {
		nb[n.Index] = n.Memory
	}
	na := map[uint64]uint64{}
	for _, n := range fa.NUMANodes {
		na[n.Index] = n.Memory
	}
	if len(nb) <= 1 && len(na) <= 1 {
		if fb.Memory != fa.Memory {
			return []Change{changed("memory", "total", "size", mib(fb.Memory), mib(fa.Memory))}
		}
		return nil
	}
	var out []Change
	for idx, m := range nb {
		item := "node " + strconv.FormatUint(idx, 10)
		switch ma, ok := na[idx]; {
		case !ok:
			out = append(out, Change{Kind: "memory", Action: "removed", Item: item, Old: mib(m)})
		case ma != m:
			out = append(out, changed("memory", item, "size", mib(m), mib(ma)))
		}
	}
	for idx, m := range na {
		if _, ok := nb[idx]; !ok {
			out = append(out, Change{Kind: "memory", Action: "added", Item: "node " + strconv.FormatUint(idx, 10), New: mib(m)})
		}
	}
	return out
}

func diskKey(d schema.StorageDisk) string {
	if s := strings.TrimSpace(d.Serial); s != "" {
		return "serial:" + s
	}
	return "name:" + d.ID
}

func diskItem(d schema.StorageDisk) string {
	if d.Serial != "" {
		return d.ID + " (" + d.Serial + ")"
	}
	return d.ID
}

// diskDrift compares the disks; it also gives the PCI addresses of the disks it named.
func diskDrift(before, after []schema.StorageDisk) ([]Change, map[string]bool) {
	named := map[string]bool{}
	keep := func(d schema.StorageDisk) bool {
		return d.Size > MinBlockDeviceSize && !d.Removable && d.Type != "cdrom"
	}
	bm := map[string]schema.StorageDisk{}
	for _, d := range before {
		if keep(d) {
			bm[diskKey(d)] = d
		}
	}
	am := map[string]schema.StorageDisk{}
	for _, d := range after {
		if keep(d) {
			am[diskKey(d)] = d
		}
	}
	var out []Change
	for k, b := range bm {
		a, ok := am[k]
		if !ok {
			out = append(out, Change{Kind: "disk", Action: "removed", Item: diskItem(b)})
			named[b.PCIAddress] = true
			continue
		}
		for _, f := range [...]struct{ name, old, new string }{
			{"size", strconv.FormatUint(b.Size, 10), strconv.FormatUint(a.Size, 10)},
			{"model", b.Model, a.Model},
			{"firmware", b.FirmwareVersion, a.FirmwareVersion},
		} {
			if f.old != f.new {
				out = append(out, changed("disk", diskItem(a), f.name, f.old, f.new))
			}
		}
	}
	for k, a := range am {
		if _, ok := bm[k]; !ok {
			out = append(out, Change{Kind: "disk", Action: "added", Item: diskItem(a)})
			named[a.PCIAddress] = true
		}
	}
	delete(named, "")
	return out, named
}

// nicDrift compares the physical interfaces by MAC; it also gives the PCI addresses of the
// cards whose ports it named as added or removed.
func nicDrift(before, after *schema.Document, fb, fa *Facts) ([]Change, map[string]bool) {
	named := map[string]bool{}
	cards := func(doc *schema.Document) map[string]string {
		out := map[string]string{}
		for _, c := range doc.Resources.Network.Cards {
			for _, p := range c.Ports {
				out[strings.ToLower(p.Address)] = c.PCIAddress
			}
		}
		return out
	}
	cb, ca := cards(before), cards(after)
	phys := func(f *Facts) map[string]Interface {
		out := map[string]Interface{}
		for _, i := range f.Interfaces {
			if i.Type == "physical" && i.MACAddress != "" {
				out[strings.ToLower(i.MACAddress)] = i
			}
		}
		return out
	}
	bm, am := phys(fb), phys(fa)
	item := func(i Interface) string { return i.Name + " (" + i.MACAddress + ")" }
	speed := func(v uint64) string { return strconv.FormatUint(v, 10) + " Mbit/s" }
	var out []Change
	for mac, b := range bm {
		a, ok := am[mac]
		if !ok {
			out = append(out, Change{Kind: "nic", Action: "removed", Item: item(b)})
			named[cb[mac]] = true
			continue
		}
		if b.FirmwareVersion != a.FirmwareVersion {
			out = append(out, changed("nic", item(a), "firmware", b.FirmwareVersion, a.FirmwareVersion))
		}
		// A link that came up slower than before, or slower than the interface can go
		// where it was not before: a bad cable, a port negotiated down.
		slower := a.LinkSpeed < b.LinkSpeed && a.LinkConnected
		below := a.InterfaceSpeed > 0 && a.LinkSpeed > 0 && a.LinkSpeed < a.InterfaceSpeed &&
			!(b.LinkSpeed > 0 && b.LinkSpeed < b.InterfaceSpeed)
		if slower || below {
			out = append(out, changed("nic", item(a), "link_speed", speed(b.LinkSpeed), speed(a.LinkSpeed)+" of "+speed(a.InterfaceSpeed)))
		}
		if a.InterfaceSpeed != b.InterfaceSpeed {
			out = append(out, changed("nic", item(a), "interface_speed", speed(b.InterfaceSpeed), speed(a.InterfaceSpeed)))
		}
	}
	for mac, a := range am {
		if _, ok := bm[mac]; !ok {
			out = append(out, Change{Kind: "nic", Action: "added", Item: item(a)})
			named[ca[mac]] = true
		}
	}
	delete(named, "")
	return out, named
}

func pciItem(d schema.PCIDevice) string {
	name := strings.TrimSpace(d.Vendor + " " + d.Product)
	if name == "" {
		name = d.VendorID + ":" + d.ProductID
	}
	return d.PCIAddress + " " + name
}

func pciDrift(before, after []schema.PCIDevice, named ...map[string]bool) []Change {
	skip := func(addr string) bool {
		for _, n := range named {
			if n[addr] {
				return true
			}
		}
		return false
	}
	key := func(d schema.PCIDevice) string { return d.PCIAddress + "|" + d.VendorID + ":" + d.ProductID }
	bm := map[string]schema.PCIDevice{}
	for _, d := range before {
		bm[key(d)] = d
	}
	am := map[string]schema.PCIDevice{}
	for _, d := range after {
		am[key(d)] = d
	}
	var out []Change
	for k, b := range bm {
		if _, ok := am[k]; !ok && !skip(b.PCIAddress) {
			out = append(out, Change{Kind: "pci", Action: "removed", Item: pciItem(b)})
		}
	}
	for k, a := range am {
		if _, ok := bm[k]; !ok && !skip(a.PCIAddress) {
			out = append(out, Change{Kind: "pci", Action: "added", Item: pciItem(a)})
		}
	}
	return out
}
