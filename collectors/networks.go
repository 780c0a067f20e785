package collectors

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"maasgo/collectors/schema"
)

// networksCollector fills the top-level networks map: per interface its addresses, type,
// admin state (IFF_UP, as upstream reports it; carrier is in resources.network), MTU,
// current MAC, counters and bond/bridge/VLAN relations.
//
// Reads: the Netlink seam (links, addresses, VLAN ids), /proc/net/dev,
// /sys/class/net/*/{bonding/*,bridge/*,brif}.
type networksCollector struct{}

func (networksCollector) Name() string { return "networks" }

func (networksCollector) Collect(_ context.Context, env *Env, doc *schema.Document) error {
	f := env.FS
	links, err := env.Links()
	if err != nil {
		return fmt.Errorf("links: %w", err)
	}
	addrs, err := env.Seams.Netlink.Addrs()
	if err != nil {
		return fmt.Errorf("addresses: %w", err)
	}
	counters := map[string]schema.NetworkCounters{}
	if data, err := f.ReadFile("/proc/net/dev"); err == nil {
		counters = parseNetDev(string(data))
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	names := map[int]string{}
	for _, l := range links {
		names[l.Index] = l.Name
	}
	out := map[string]schema.NetworkState{}
	for _, l := range links {
		st := schema.NetworkState{
			Addresses: []schema.NetworkAddress{},
			Counters:  counters[l.Name],
			Hwaddr:    l.HardwareAddr,
			Mtu:       l.MTU,
			State:     "down",
			Type:      "unknown",
		}
		if l.Flags&unix.IFF_BROADCAST != 0 {
			st.Type = "broadcast"
		}
		if l.Flags&unix.IFF_POINTOPOINT != 0 {
			st.Type = "point-to-point"
		}
		if l.Flags&unix.IFF_LOOPBACK != 0 {
			st.Type = "loopback"
		}
		if l.Flags&unix.IFF_UP != 0 {
			st.State = "up"
		}
		for _, a := range addrs {
			if a.LinkIndex != l.Index {
				continue
			}
			ip := net.ParseIP(a.IP)
			if ip == nil {
				continue
			}
			fam := "inet"
			if ip.To4() == nil {
				fam = "inet6"
			}
			st.Addresses = append(st.Addresses, schema.NetworkAddress{
				Family: fam, Address: ip.String(), Netmask: strconv.Itoa(a.PrefixLen), Scope: ipScope(ip),
			})
		}
		if st.Bond, err = readBond(f, l.Name); err != nil {
			return err
		}
		if st.Bridge, err = readBridge(f, l.Name); err != nil {
			return err
		}
		if l.Kind == "vlan" {
			st.VLAN = &schema.NetworkVLAN{LowerDevice: names[l.ParentIndex], VID: uint64(l.VlanID)}
		}
		st.Link = portlessLink(env, l, st)
		out[l.Name] = st
	}
	doc.Networks = out
	return nil
}

// portlessLink reads the carrier and speed of an Ethernet interface that no card port will
// describe (it has no device: a veth, for example), which the region models as a physical
// interface: without them it could only guess that the interface is connected. Nil for
// anything else, when the carrier cannot be read, and when the interface is down (it is not
// connected then, whatever its carrier).
func portlessLink(env *Env, l Link, st schema.NetworkState) *schema.NetworkLink {
	if st.Type != "broadcast" || st.State != "up" || st.Bond != nil || st.Bridge != nil || st.VLAN != nil || l.HardwareAddr == "" ||
		env.FS.Exists(sysClassNet+"/"+l.Name+"/device") {
		return nil
	}
	seams := env.Seams
	seams.Netlink = nil // the addresses are not needed
	p, err := ReadPortState(env.FS, seams, l.Name)
	if err != nil || !p.CarrierKnown {
		return nil
	}
	return &schema.NetworkLink{LinkDetected: p.Carrier, LinkSpeed: p.LinkSpeed}
}

// ipScope classifies an address the way LXD does: loopback "local", link-local "link",
// anything else "global".
func ipScope(ip net.IP) string {
	switch {
	case ip.IsLoopback():
		return "local"
	case ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast():
		return "link"
	}
	return "global"
}

func readBond(f *FS, name string) (*schema.NetworkBond, error) {
	dir := sysClassNet + "/" + name + "/bonding"
	if !f.IsDir(dir) {
		return nil, nil
	}
	b := &schema.NetworkBond{LowerDevices: []string{}}
	first := func(file string) (string, error) {
		s, err := readOptString(f, dir+"/"+file)
		if err != nil {
			return "", err
		}
		fields := strings.Fields(s)
		if len(fields) == 0 {
			return "", nil
		}
		return fields[0], nil
	}
	var err error
	if b.Mode, err = first("mode"); err != nil {
		return nil, err
	}
	if b.TransmitPolicy, err = first("xmit_hash_policy"); err != nil {
		return nil, err
	}
	if b.UpDelay, _, err = readUint(f, dir+"/updelay"); err != nil {
		return nil, err
	}
	if b.DownDelay, _, err = readUint(f, dir+"/downdelay"); err != nil {
		return nil, err
	}
	if b.MIIFrequency, _, err = readUint(f, dir+"/miimon"); err != nil {
		return nil, err
	}
	if b.MIIState, err = readOptString(f, dir+"/mii_status"); err != nil {
		return nil, err
	}
	slaves, err := readOptString(f, dir+"/slaves")
	if err != nil {
		return nil, err
	}
	b.LowerDevices = append(b.LowerDevices, strings.Fields(slaves)...)
	return b, nil
}

func readBridge(f *FS, name string) (*schema.NetworkBridge, error) {
	dir := sysClassNet + "/" + name + "/bridge"
	if !f.IsDir(dir) {
		return nil, nil
	}
	b := &schema.NetworkBridge{UpperDevices: []string{}}
	var err error
	if b.ID, err = readOptString(f, dir+"/bridge_id"); err != nil {
		return nil, err
	}
	stp, _, err := readUint(f, dir+"/stp_state")
	if err != nil {
		return nil, err
	}
	b.STP = stp == 1
	if b.ForwardDelay, _, err = readUint(f, dir+"/forward_delay"); err != nil {
		return nil, err
	}
	if b.VLANDefault, _, err = readUint(f, dir+"/default_pvid"); err != nil {
		return nil, err
	}
	vf, _, err := readUint(f, dir+"/vlan_filtering")
	if err != nil {
		return nil, err
	}
	b.VLANFiltering = vf == 1
	ports, err := f.ReadDir(sysClassNet + "/" + name + "/brif")
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	for _, p := range ports {
		b.UpperDevices = append(b.UpperDevices, p.Name)
	}
	return b, nil
}

// parseNetDev parses /proc/net/dev into byte and packet counters per interface. It copes
// with counters that run into the colon ("eth0:123456").
func parseNetDev(s string) map[string]schema.NetworkCounters {
	out := map[string]schema.NetworkCounters{}
	for _, line := range strings.Split(s, "\n") {
		name, rest, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		name = strings.TrimSpace(name)
		fields := strings.Fields(rest)
		if name == "" || len(fields) < 16 {
			continue
		}
		var v [16]uint64
		bad := false
		for i := range v {
			n, err := strconv.ParseUint(fields[i], 10, 64)
			if err != nil {
				bad = true
				break
			}
			v[i] = n
		}
		if bad {
			continue
		}
		out[name] = schema.NetworkCounters{
			BytesReceived: v[0], PacketsReceived: v[1], BytesSent: v[8], PacketsSent: v[9],
		}
	}
	return out
}
