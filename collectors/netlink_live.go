package collectors

import (
	"fmt"
	"net"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// liveNetlink reads links and addresses from the kernel over rtnetlink.
type liveNetlink struct{}

func (liveNetlink) Links() ([]Link, error) {
	links, err := netlink.LinkList()
	if err != nil {
		return nil, fmt.Errorf("list links: %w", err)
	}
	out := make([]Link, 0, len(links))
	for _, l := range links {
		a := l.Attrs()
		nl := Link{
			Index:        a.Index,
			Name:         a.Name,
			MTU:          a.MTU,
			Flags:        a.RawFlags,
			HardwareAddr: macString(a.HardwareAddr),
			PermAddr:     macString(a.PermHWAddr),
			OperState:    a.OperState.String(),
			ParentIndex:  a.ParentIndex,
			MasterIndex:  a.MasterIndex,
		}
		switch t := l.Type(); t {
		case "device":
		default:
			nl.Kind = t
		}
		if v, ok := l.(*netlink.Vlan); ok {
			nl.VlanID = v.VlanId
		}
		out = append(out, nl)
	}
	return out, nil
}

func (liveNetlink) Addrs() ([]Addr, error) {
	addrs, err := netlink.AddrList(nil, unix.AF_UNSPEC)
	if err != nil {
		return nil, fmt.Errorf("list addresses: %w", err)
	}
	out := make([]Addr, 0, len(addrs))
	for _, a := range addrs {
		if a.IPNet == nil {
			continue
		}
		ones, _ := a.Mask.Size()
		out = append(out, Addr{LinkIndex: a.LinkIndex, IP: a.IP.String(), PrefixLen: ones})
	}
	return out, nil
}

// macString formats a hardware address, or "" when it is empty or all zeros (the way Go's
// net package reports the loopback device).
func macString(hw net.HardwareAddr) string {
	for _, b := range hw {
		if b != 0 {
			return hw.String()
		}
	}
	return ""
}

type liveHost struct{}

// HostUname asks the running kernel for uname(2) and the host name (uname -m is Machine).
func HostUname() (Uname, error) { return liveHost{}.Uname() }

func (liveHost) Uname() (Uname, error) {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return Uname{}, fmt.Errorf("uname: %w", err)
	}
	return Uname{
		Sysname:  unix.ByteSliceToString(u.Sysname[:]),
		Release:  unix.ByteSliceToString(u.Release[:]),
		Machine:  unix.ByteSliceToString(u.Machine[:]),
		Hostname: unix.ByteSliceToString(u.Nodename[:]),
	}, nil
}

// LiveSeams returns the seams that ask the running kernel. Close the returned closer when
// done.
func LiveSeams() (Seams, func(), error) {
	et, err := newLiveEthtool()
	if err != nil {
		return Seams{}, nil, err
	}
	return Seams{Netlink: liveNetlink{}, Ethtool: et, Host: liveHost{}}, et.close, nil
}
