package api

import (
	"errors"
	"fmt"

	"maasgo/region/power"
	"maasgo/region/store"
)

// powerMachine answers power_on and power_off. The driver acts outside the database
// transaction; a manual machine's request is recorded for the person who powers it.
func powerMachine(on bool) func(*request) (any, error) {
	return func(req *request) (any, error) {
		m, err := readMachineOf(req)
		if err != nil {
			return nil, err
		}
		if on && m.OwnerID == nil {
			// As upstream: only an allocated machine is powered on through the API.
			return nil, conflict("Can't start node: it hasn't been allocated.")
		}
		drv, derr := req.s.opts.Power.For(m.PowerType)
		if derr == nil {
			if on {
				derr = drv.PowerOn(req.ctx, m.PowerParameters)
			} else {
				derr = drv.PowerOff(req.ctx, m.PowerParameters)
			}
		}
		state, verb := power.Off, "off"
		if on {
			state, verb = power.On, "on"
		}
		desc := fmt.Sprintf("power %s requested by %s", verb, req.user.Username)
		switch {
		case errors.Is(derr, power.ErrByHand):
			state = power.Unknown
			desc += fmt.Sprintf(" (%s: power the machine %s by hand)", m.PowerType, verb)
		case derr != nil:
			return nil, errorf(503, "Power %s of %s failed: %v", verb, m.Hostname, derr)
		}
		if c := req.params.Get("comment"); c != "" {
			desc += ": " + c
		}
		var out *machineJSON
		err = req.s.store.Update(req.ctx, func(tx *store.Tx) error {
			m, err := loadMachine(tx, req)
			if err != nil {
				return err
			}
			m.PowerState = state
			if err := tx.UpdateMachine(m); err != nil {
				return err
			}
			if err := tx.AddEvent(&store.Event{NodeID: m.ID, Type: "Power " + verb, Description: desc, Username: req.user.Username}); err != nil {
				return err
			}
			out, err = viewMachine(tx, m)
			return err
		})
		return out, err
	}
}

// readMachineOf reads the machine the request names in a transaction of its own, so that the
// power driver acts outside any transaction.
func readMachineOf(req *request) (*store.Machine, error) {
	var m *store.Machine
	err := req.s.store.View(req.ctx, func(tx *store.Tx) (err error) {
		m, err = loadMachine(tx, req)
		return err
	})
	return m, err
}

func queryPower(req *request) (any, error) {
	m, err := readMachineOf(req)
	if err != nil {
		return nil, err
	}
	drv, err := req.s.opts.Power.For(m.PowerType)
	if err != nil && !errors.Is(err, power.ErrByHand) {
		return nil, err
	}
	state, err := drv.Query(req.ctx, m.PowerParameters)
	if err != nil {
		return nil, errorf(503, "Power query of %s failed: %v", m.Hostname, err)
	}
	if state == power.Unknown && m.PowerState != "" {
		state = m.PowerState // what was last requested or reported
	}
	return map[string]any{"state": state}, nil
}
