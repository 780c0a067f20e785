package lifecycle

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"maasgo/region/config"
	"maasgo/region/store"
	"maasgo/wire"
)

// EnlistmentSetting is the setting that allows machines the region does not know to enlist
// themselves without credentials (protocol.md §6.9).
const EnlistmentSetting = "enable_anonymous_enlistment"

// ErrEnlistmentDisabled is returned for an anonymous enlistment call while the setting
// forbids them.
var ErrEnlistmentDisabled = errors.New("anonymous enlistment is disabled (the enable_anonymous_enlistment setting)")

// EnlistmentAllowed reads the setting that allows anonymous enlistment.
func EnlistmentAllowed(tx *store.Tx) (bool, error) {
	return config.Bool(tx, EnlistmentSetting)
}

// EnlistScripts are the commissioning scripts an enlisting machine runs (upstream's
// anonymous maas-scripts): the default commissioning scripts when enlist_commissioning is
// set, otherwise only those tagged bmc-config; never those that apply the configured
// networking (an enlisting machine has none) or that are for particular hardware.
func EnlistScripts(tx *store.Tx) ([]store.Script, error) {
	all, err := selectCommissioning(tx, nil)
	if err != nil {
		return nil, err
	}
	full, err := config.Bool(tx, "enlist_commissioning")
	if err != nil {
		return nil, err
	}
	var out []store.Script
	for _, s := range all {
		if s.ApplyConfiguredNetworking || len(s.ForHardware) > 0 {
			continue
		}
		if !full && !slices.Contains(s.Tags, "bmc-config") {
			continue
		}
		out = append(out, s)
	}
	return out, nil
}

// AnonymousScripts is the maas-scripts tar of a machine the region does not know yet: the
// EnlistScripts with their default parameters, the entries without result ids, started,
// finished, default or tags (protocol.md §4.2, anonymous variant).
func AnonymousScripts(tx *store.Tx) (*Scripts, error) {
	list, err := EnlistScripts(tx)
	if err != nil {
		return nil, err
	}
	sc := &Scripts{Outputs: map[int64]*store.ScriptResult{}, Machine: &store.Machine{}}
	for i := range list {
		s := &list[i]
		rs, err := newResults(s, 0, nil, &devices{})
		if err != nil {
			return nil, err
		}
		v, err := tx.ScriptVersion(s.CurrentVersion)
		if err != nil {
			return nil, err
		}
		e := indexEntry(rs[0], s)
		e.ScriptResultID, e.HasStarted, e.HasFinished, e.Default, e.Tags = nil, nil, nil, nil, nil
		sc.Pending = append(sc.Pending, Pending{List: "commissioning_scripts", Result: *rs[0], Script: *s, Version: *v, Entry: e})
	}
	return sc, nil
}

// Enlist adds a machine that asked for itself without credentials (upstream's anonymous
// machines create with commission=True): it must give its architecture and MAC addresses,
// none of which another machine holds. The machine starts in Commissioning with a set of
// the EnlistScripts (the results the runner held are matched to them by name) and no tests,
// marked enlisting so that its OK makes it New rather than Ready. It is not powered on: it
// is running already.
func Enlist(tx *store.Tx, opts CreateOptions) (*store.Machine, error) {
	ok, err := EnlistmentAllowed(tx)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, &PermissionError{Msg: "Anonymous enlistment is disabled on this region (enable_anonymous_enlistment)."}
	}
	if len(opts.MACs) == 0 {
		return nil, fieldErrorf("mac_addresses", "This field is required to enlist a machine.")
	}
	if opts.Architecture == "" {
		return nil, fieldErrorf("architecture", "This field is required.")
	}
	opts.Enlisting, opts.Deployed, opts.Commission = true, false, false
	m, err := CreateMachine(tx, opts, nil)
	if err != nil {
		return nil, err
	}
	cs, err := EnlistScripts(tx)
	if err != nil {
		return nil, err
	}
	cset, err := newSet(tx, m, wire.ResultCommissioning, cs, nil, []string{"enlisting"})
	if err != nil {
		return nil, err
	}
	tset, err := newSet(tx, m, wire.ResultTesting, nil, nil, nil)
	if err != nil {
		return nil, err
	}
	if err := SetStatus(m, wire.NodeCommissioning); err != nil {
		return nil, err
	}
	m.CurrentCommissioningSet, m.CurrentTestingSet = &cset.ID, &tset.ID
	m.PowerState = "on"
	if err := tx.UpdateMachine(m); err != nil {
		return nil, err
	}
	desc := fmt.Sprintf("enlisted itself: %d commissioning scripts", len(cs))
	if err := tx.AddEvent(&store.Event{NodeID: m.ID, Type: "Enlisting", Description: desc}); err != nil {
		return nil, err
	}
	return m, nil
}

// EnlistPreseed returns the token of an enlisting machine for its preseed (upstream's
// anonymous get_preseed). Upstream gives any machine's token to anyone who names it; here
// only a machine that enlisted itself, is still commissioning, has not reported with the
// token yet and enlisted within node_timeout gets it. Any other machine is "not found", so
// the answer does not tell which system ids exist.
func EnlistPreseed(tx *store.Tx, systemID string, now time.Time) (*store.Machine, *store.Token, error) {
	ok, err := EnlistmentAllowed(tx)
	if err != nil {
		return nil, nil, err
	}
	if !ok {
		return nil, nil, &PermissionError{Msg: "Anonymous enlistment is disabled on this region (enable_anonymous_enlistment)."}
	}
	notFound := fmt.Errorf("no enlisting machine %s waits for its preseed: %w", systemID, store.ErrNotFound)
	m, err := tx.MachineBySystemID(systemID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, notFound
	} else if err != nil {
		return nil, nil, err
	}
	if !m.Enlisting || m.Status != wire.NodeCommissioning || m.CurrentCommissioningSet == nil {
		return nil, nil, notFound
	}
	set, err := tx.ScriptSetByID(*m.CurrentCommissioningSet)
	if err != nil {
		return nil, nil, err
	}
	timeout, err := config.NodeTimeout(tx)
	if err != nil {
		return nil, nil, err
	}
	if set.LastPing != nil || !slices.Contains(set.Tags, "enlisting") || now.Sub(set.Created) > timeout {
		return nil, nil, notFound
	}
	tok, err := tx.NodeToken(m.ID)
	if err != nil {
		return nil, nil, err
	}
	return m, tok, nil
}
