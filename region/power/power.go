// Package power turns machines on and off through their power type's driver. The region ships
// the manual driver, for machines a person powers; BMC drivers (IPMI, Redfish, virsh) plug in
// through the Driver interface.
package power

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// States a driver reports.
const (
	On      = "on"
	Off     = "off"
	Unknown = "unknown"
)

// ManualType is the power type of machines a person powers.
const ManualType = "manual"

// Types are the power types the region accepts. Only ManualType has a driver here; the
// others are recorded and handled by hand until a driver is added.
var Types = []string{ManualType, "ipmi", "redfish", "virsh", "lxd", "webhook", "wedge", "moonshot"}

// CheckType checks a power type, with an error naming the known ones.
func CheckType(t string) error {
	if !slices.Contains(Types, t) {
		return fmt.Errorf("%q is not a known power type (one of %s)", t, strings.Join(Types, ", "))
	}
	return nil
}

// ErrByHand says the driver cannot act: a person must power the machine.
var ErrByHand = errors.New("power the machine by hand")

// Driver powers machines of one power type.
type Driver interface {
	// PowerOn and PowerOff change the machine's power, or return ErrByHand.
	PowerOn(ctx context.Context, params map[string]any) error
	PowerOff(ctx context.Context, params map[string]any) error
	// Query reports On, Off or Unknown.
	Query(ctx context.Context, params map[string]any) (string, error)
}

// Manual is the driver of machines without a BMC: every action is a person's.
type Manual struct{}

// PowerOn asks for a person.
func (Manual) PowerOn(context.Context, map[string]any) error { return ErrByHand }

// PowerOff asks for a person.
func (Manual) PowerOff(context.Context, map[string]any) error { return ErrByHand }

// Query cannot know.
func (Manual) Query(context.Context, map[string]any) (string, error) { return Unknown, nil }

// Drivers maps power types to drivers.
type Drivers map[string]Driver

// Default holds the drivers this region ships.
func Default() Drivers { return Drivers{ManualType: Manual{}} }

// For returns the driver of a power type; a type without a driver (a BMC type this region
// cannot drive yet) is handled by hand, and says so.
func (d Drivers) For(powerType string) (Driver, error) {
	if drv, ok := d[powerType]; ok {
		return drv, nil
	}
	return Manual{}, fmt.Errorf("power type %q has no driver in this region (drivers: %v): %w", powerType, d.names(), ErrByHand)
}

func (d Drivers) names() []string {
	out := make([]string, 0, len(d))
	for k := range d {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
