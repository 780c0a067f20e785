package lifecycle_test

import (
	"context"
	"testing"
	"time"

	"maasgo/region/config"
	"maasgo/region/library"
	"maasgo/region/lifecycle"
	"maasgo/region/store"
	"maasgo/region/store/storetest"
	"maasgo/wire"
)

func open(t *testing.T, e storetest.Engine) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), e.DSN, e.StateDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Update(context.Background(), func(tx *store.Tx) error {
		_, _, err := library.RegisterBuiltins(tx)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return st
}

func update(t *testing.T, st *store.Store, fn func(tx *store.Tx) error) {
	t.Helper()
	if err := st.Update(context.Background(), fn); err != nil {
		t.Fatal(err)
	}
}

// commissioning makes a machine that is commissioning, as op=commission leaves it.
func commissioning(t *testing.T, tx *store.Tx, host string) *store.Machine {
	t.Helper()
	admin := &store.User{Username: "admin-" + host, IsAdmin: true}
	if err := tx.CreateUser(admin); err != nil {
		t.Fatal(err)
	}
	m, err := lifecycle.CreateMachine(tx, lifecycle.CreateOptions{Hostname: host, Architecture: "amd64"}, admin)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ScriptByName("long-job"); err != nil {
		body := "#!/bin/sh\n# --- Start MAAS 1.0 script metadata ---\n# script_type: commissioning\n# --- End MAAS 1.0 script metadata ---\nsleep 86400\n"
		if _, err := library.Create(tx, library.Request{Body: []byte(body), Fields: map[string]string{"name": "long-job"}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := lifecycle.StartCommissioning(tx, m, lifecycle.CommissionOptions{CommissioningScripts: []string{"long-job"}, TestingScripts: []string{"none"}}, admin); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestNodeTimeout(t *testing.T) {
	for _, e := range storetest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			st := open(t, e)
			t0 := time.Now()
			var silent, talking *store.Machine
			update(t, st, func(tx *store.Tx) error {
				silent = commissioning(t, tx, "silent")
				talking = commissioning(t, tx, "talking")
				// The second machine booted and started a script.
				if err := tx.TouchScriptSet(*talking.CurrentCommissioningSet, t0); err != nil {
					return err
				}
				rs, err := tx.ScriptResults([]int64{*talking.CurrentCommissioningSet}, false)
				if err != nil {
					return err
				}
				for i := range rs {
					if rs[i].ScriptName == "long-job" { // no timeout: only node_timeout applies
						rs[i].Status, rs[i].Started = wire.ScriptRunning, &t0
						return tx.UpdateScriptResult(&rs[i])
					}
				}
				t.Fatal("long-job not in the commissioning set")
				return nil
			})
			check := func(at time.Duration, want ...string) {
				t.Helper()
				update(t, st, func(tx *store.Tx) error {
					failed, err := lifecycle.CheckTimeouts(tx, t0.Add(at), lifecycle.ScriptTimeoutGrace)
					if err != nil {
						return err
					}
					if len(failed) != len(want) {
						t.Errorf("at +%v failed %v; want %v", at, failed, want)
					}
					return nil
				})
			}
			check(10 * time.Minute)
			check(29 * time.Minute)
			// Past node_timeout (30 minutes): both fail, the silent one because it never reported.
			check(31*time.Minute, silent.SystemID, talking.SystemID)
			check(40 * time.Minute) // failed machines are not failed twice
			st.View(context.Background(), func(tx *store.Tx) error {
				for _, m := range []*store.Machine{silent, talking} {
					got, _ := tx.MachineByID(m.ID)
					if got.Status != wire.NodeFailedCommissioning || got.ErrorDescription == "" {
						t.Errorf("%s: %v %q", got.Hostname, got.Status, got.ErrorDescription)
					}
				}
				rs, _ := tx.ScriptResults([]int64{*talking.CurrentCommissioningSet}, false)
				counts := map[wire.ScriptStatus]int{}
				for _, r := range rs {
					counts[r.Status]++
				}
				if counts[wire.ScriptTimedOut] != 1 || counts[wire.ScriptAborted] != len(rs)-1 {
					t.Errorf("results after the timeout: %v", counts)
				}
				return nil
			})
		})
	}
}

func TestNodeTimeoutFollowsConfigAndMayReboot(t *testing.T) {
	st := open(t, storetest.SQLite(t))
	t0 := time.Now()
	var m *store.Machine
	update(t, st, func(tx *store.Tx) error {
		if err := config.Set(tx, "node-timeout", "5"); err != nil {
			return err
		}
		s, err := library.Create(tx, library.Request{Body: []byte("#!/bin/sh\n# --- Start MAAS 1.0 script metadata ---\n# may_reboot: true\n# script_type: commissioning\n# --- End MAAS 1.0 script metadata ---\nreboot\n"),
			Fields: map[string]string{"name": "firmware-update"}})
		if err != nil {
			return err
		}
		admin := &store.User{Username: "admin", IsAdmin: true}
		if err := tx.CreateUser(admin); err != nil {
			return err
		}
		m, err = lifecycle.CreateMachine(tx, lifecycle.CreateOptions{Hostname: "rebooting", Architecture: "amd64"}, admin)
		if err != nil {
			return err
		}
		if err := lifecycle.StartCommissioning(tx, m, lifecycle.CommissionOptions{CommissioningScripts: []string{s.Name}, TestingScripts: []string{"none"}}, admin); err != nil {
			return err
		}
		if err := tx.TouchScriptSet(*m.CurrentCommissioningSet, t0); err != nil {
			return err
		}
		rs, err := tx.ScriptResults([]int64{*m.CurrentCommissioningSet}, false)
		if err != nil {
			return err
		}
		for i := range rs {
			if rs[i].ScriptName == s.Name {
				rs[i].Status, rs[i].Started = wire.ScriptRunning, &t0
				if err := tx.UpdateScriptResult(&rs[i]); err != nil {
					return err
				}
			}
		}
		return nil
	})
	update(t, st, func(tx *store.Tx) error {
		failed, err := lifecycle.CheckTimeouts(tx, t0.Add(6*time.Minute), lifecycle.ScriptTimeoutGrace)
		if len(failed) != 0 {
			t.Errorf("a machine running a may_reboot script failed: %v", failed)
		}
		return err
	})
	// Without the may_reboot script running, five minutes of silence fail it.
	update(t, st, func(tx *store.Tx) error {
		rs, _ := tx.ScriptResults([]int64{*m.CurrentCommissioningSet}, false)
		for i := range rs {
			if rs[i].Status == wire.ScriptRunning {
				rs[i].Status = wire.ScriptPassed
				tx.UpdateScriptResult(&rs[i])
			}
		}
		failed, err := lifecycle.CheckTimeouts(tx, t0.Add(6*time.Minute), lifecycle.ScriptTimeoutGrace)
		if len(failed) != 1 {
			t.Errorf("node_timeout of 5 minutes not applied: %v", failed)
		}
		return err
	})
}
