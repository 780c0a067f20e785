package lifecycle

// This file keeps interfaces' link state: what network tests report in their result YAML
// (link_connected, link_speed, interface_speed), what commissioning's inventory finds, the
// warning for a link slower than its interface, and the events when either changes.

import (
	"errors"
	"fmt"

	"maasgo/region/store"
	"maasgo/wire"
)

// SlowLinkWarning is the warning for a connected link that runs slower than its interface
// can go (upstream's UI says "Link connected to slow interface."), or "" when the link is
// down, as fast as the interface, or a speed is unknown (0).
func SlowLinkWarning(connected bool, linkSpeed, interfaceSpeed int64) string {
	if !connected || linkSpeed <= 0 || interfaceSpeed <= linkSpeed {
		return ""
	}
	return fmt.Sprintf("Link connected to slow interface: the link runs at %s, the interface can go at %s.",
		mbits(linkSpeed), mbits(interfaceSpeed))
}

// InterfaceWarning is SlowLinkWarning for an interface as stored.
func InterfaceWarning(i *store.Interface) string {
	return SlowLinkWarning(i.LinkConnected, i.LinkSpeed, i.InterfaceSpeed)
}

// mbits writes a speed in Mbit/s as people say it: 100 Mbit/s, 1 Gbit/s, 2.5 Gbit/s.
func mbits(n int64) string {
	if n >= 1000 && n%100 == 0 {
		if n%1000 == 0 {
			return fmt.Sprintf("%d Gbit/s", n/1000)
		}
		return fmt.Sprintf("%.1f Gbit/s", float64(n)/1000)
	}
	return fmt.Sprintf("%d Mbit/s", n)
}

// applyLinkReport stores what a network result reported of its interface's link: the state
// and the speeds (a reported 0 speed means unknown and keeps the stored one; a link that is
// down has no speed), and records the interface's link as the result left it on the result.
// The caller checked that the result has an interface.
func applyLinkReport(tx *store.Tx, m *store.Machine, r *store.ScriptResult, res *wire.Result) error {
	if res.LinkConnected == nil && res.LinkSpeed == nil && res.InterfaceSpeed == nil {
		return nil
	}
	iface, err := tx.InterfaceByID(m.ID, *r.InterfaceID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	} else if err != nil {
		return err
	}
	before := *iface
	if res.LinkConnected != nil {
		iface.LinkConnected = *res.LinkConnected
	}
	if res.LinkSpeed != nil && *res.LinkSpeed > 0 {
		iface.LinkSpeed = *res.LinkSpeed
	}
	if res.InterfaceSpeed != nil && *res.InterfaceSpeed > 0 {
		iface.InterfaceSpeed = *res.InterfaceSpeed
	}
	if !iface.LinkConnected {
		iface.LinkSpeed = 0
	}
	r.Link = &store.LinkReport{Connected: iface.LinkConnected, Speed: iface.LinkSpeed, InterfaceSpeed: iface.InterfaceSpeed}
	if iface.LinkConnected == before.LinkConnected && iface.LinkSpeed == before.LinkSpeed && iface.InterfaceSpeed == before.InterfaceSpeed {
		return nil
	}
	if err := tx.UpdateInterface(iface); err != nil {
		return err
	}
	return noteLinkChange(tx, m, &before, iface, r.ScriptName)
}

// noteLinkChange records an event when an interface's link went down, or became slower than
// the interface, as source (a script) found it. before is nil for an interface just found.
func noteLinkChange(tx *store.Tx, m *store.Machine, before, after *store.Interface, source string) error {
	if before != nil && before.LinkConnected && !after.LinkConnected {
		if err := tx.AddEvent(&store.Event{NodeID: m.ID, Type: "Link disconnected", Level: "WARNING",
			Description: fmt.Sprintf("%s: %s found no link (is the cable plugged in?)", after.Name, source)}); err != nil {
			return err
		}
	}
	warn := InterfaceWarning(after)
	if warn == "" || (before != nil && InterfaceWarning(before) == warn) {
		return nil
	}
	return tx.AddEvent(&store.Event{NodeID: m.ID, Type: "Slow link", Level: "WARNING",
		Description: fmt.Sprintf("%s: %s (found by %s)", after.Name, warn, source)})
}
