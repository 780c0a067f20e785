package lldp

import (
	"errors"
	"fmt"
	"io/fs"
	"sort"

	"golang.org/x/sys/unix"

	"maasgo/collectors"
)

// Interfaces lists the interfaces to listen on when none is named: the physical Ethernet
// interfaces (those under /sys/class/net with a device, of type 1) that are up with a
// carrier (IFF_UP and IFF_LOWER_UP), sorted by name. Bond and bridge members count: the
// switch port is theirs. A veth counts as physical too: it is a container's or a network
// namespace's NIC, whose peer may be a switch port (the region models it as a physical
// interface, and LLDP agents listen on it). No interface is brought up or down.
//
// Reads: /sys/class/net/*/{device,type} and the netlink link list.
func Interfaces(f *collectors.FS, nl collectors.Netlinker) ([]string, error) {
	links, err := nl.Links()
	if err != nil {
		return nil, fmt.Errorf("list links: %w", err)
	}
	var out []string
	for _, l := range links {
		const up = unix.IFF_UP | unix.IFF_LOWER_UP
		if l.Flags&up != up {
			continue
		}
		dir := "/sys/class/net/" + l.Name
		if l.Kind != "veth" && !f.Exists(dir+"/device") {
			continue
		}
		typ, err := f.ReadString(dir + "/type")
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("type of %s: %w", l.Name, err)
		}
		if typ == "1" {
			out = append(out, l.Name)
		}
	}
	sort.Strings(out)
	return out, nil
}
