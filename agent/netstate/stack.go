// Package netstate changes a Linux network namespace for the runner and puts it back: it takes
// a snapshot of the links, their memberships, addresses and routes (State), applies a netplan
// document through rtnetlink when netplan is not installed (Apply, with a minimal DHCPv4
// client), takes an aggregate's members in and out, and restores a snapshot exactly
// (Restore). Bonds are changed through their sysfs files, behind the Bonding seam.
package netstate

import (
	"errors"
	"fmt"

	"github.com/vishvananda/netlink"
)

// Stack is the network namespace the calls act on: the caller's, or, in tests, one that Do
// enters. Every call opens its own rtnetlink sockets inside Do, so a Stack may be used from
// any goroutine.
type Stack struct {
	// Do runs f where the namespace's sockets are opened; nil runs it directly (the caller's
	// namespace).
	Do func(f func() error) error
	// Bonding changes bonds' members; nil: SysfsBonding under /sys.
	Bonding Bonding
}

// run calls f with a fresh rtnetlink handle opened in the stack's namespace.
func (s *Stack) run(f func(h *netlink.Handle) error) error {
	body := func() error {
		h, err := netlink.NewHandle()
		if err != nil {
			return fmt.Errorf("open rtnetlink: %w", err)
		}
		defer h.Close()
		return f(h)
	}
	if s.Do == nil {
		return body()
	}
	return s.Do(body)
}

// socket runs f in the stack's namespace (f opens sockets there).
func (s *Stack) socket(f func() error) error {
	if s.Do == nil {
		return f()
	}
	return s.Do(f)
}

func (s *Stack) bonding() Bonding {
	if s.Bonding != nil {
		return s.Bonding
	}
	return SysfsBonding{Sys: "/sys"}
}

// dumpRetries bounds the retries of a dump the kernel interrupted because the table changed.
const dumpRetries = 10

// retryDump calls f again while the kernel reports an interrupted dump.
func retryDump(f func() error) error {
	var err error
	for try := 0; try < dumpRetries; try++ {
		if err = f(); !errors.Is(err, netlink.ErrDumpInterrupted) {
			return err
		}
	}
	return err
}

// linksByName lists the links, keyed by name.
func linksByName(h *netlink.Handle) (map[string]netlink.Link, error) {
	var links []netlink.Link
	err := retryDump(func() error {
		var err error
		links, err = h.LinkList()
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list links: %w", err)
	}
	out := make(map[string]netlink.Link, len(links))
	for _, l := range links {
		out[l.Attrs().Name] = l
	}
	return out, nil
}

// SetLinkUp brings link name up or down.
func (s *Stack) SetLinkUp(name string, up bool) error {
	return s.run(func(h *netlink.Handle) error {
		l, err := h.LinkByName(name)
		if err != nil {
			return fmt.Errorf("find link %s: %w", name, err)
		}
		if up {
			err = h.LinkSetUp(l)
		} else {
			err = h.LinkSetDown(l)
		}
		if err != nil {
			return fmt.Errorf("set link %s up=%v: %w", name, up, err)
		}
		return nil
	})
}

// BondSlaves lists a bond's members in the bond's order.
func (s *Stack) BondSlaves(bond string) ([]string, error) { return s.bonding().Slaves(bond) }

// ReleaseSlave takes slave out of bond.
func (s *Stack) ReleaseSlave(bond, slave string) error { return s.bonding().Release(bond, slave) }

// EnslaveSlave puts slave back into bond; the slave is taken down first, as the bonding
// driver of older kernels requires, and the driver brings it up.
func (s *Stack) EnslaveSlave(bond, slave string) error {
	if err := s.SetLinkUp(slave, false); err != nil {
		return err
	}
	return s.bonding().Enslave(bond, slave)
}
