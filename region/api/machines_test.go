package api

import (
	"context"
	"fmt"
	"testing"

	"maasgo/region/lifecycle"
	"maasgo/region/store"
	"maasgo/region/store/storetest"
	"maasgo/wire"
)

// The listing's test summaries come from tallies of the results; they must say what the
// results themselves say: by hardware type, interface tests apart, suppressed results ignored,
// a script deleted since counted as a node test.
func TestDetailsTestStatuses(t *testing.T) {
	for _, e := range storetest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) { testDetailsTestStatuses(t, e) })
	}
}

func testDetailsTestStatuses(t *testing.T, e storetest.Engine) {
	st, err := store.Open(context.Background(), e.DSN, e.StateDir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	type res struct {
		hw         wire.HardwareType
		status     wire.ScriptStatus
		suppressed bool
		iface      bool
		orphan     bool // its script deleted
	}
	testing1 := []res{
		{hw: wire.HardwareCPU, status: wire.ScriptPassed},
		{hw: wire.HardwareCPU, status: wire.ScriptFailed, suppressed: true},
		{hw: wire.HardwareMemory, status: wire.ScriptPassed},
		{hw: wire.HardwareMemory, status: wire.ScriptDegraded},
		{hw: wire.HardwareStorage, status: wire.ScriptRunning},
		{hw: wire.HardwareStorage, status: wire.ScriptFailed},
		{hw: wire.HardwareNetwork, status: wire.ScriptPassed},
		{hw: wire.HardwareNetwork, status: wire.ScriptTimedOut, iface: true},
		{hw: wire.HardwareNode, status: wire.ScriptPending, orphan: true},
	}
	want := map[string]int{
		"commissioning":  int(wire.ScriptAborted),
		"testing":        int(wire.ScriptRunning),
		"cpu_test":       int(wire.ScriptPassed),
		"memory_test":    int(wire.ScriptDegraded),
		"storage_test":   int(wire.ScriptRunning),
		"network_test":   int(wire.ScriptFailed),
		"interface_test": int(wire.ScriptFailed),
		"other_test":     int(wire.ScriptPending),
	}
	var ms []store.Machine
	err = st.Update(context.Background(), func(tx *store.Tx) error {
		u := &store.User{Username: "admin", IsAdmin: true}
		if err := tx.CreateUser(u); err != nil {
			return err
		}
		m, err := lifecycle.CreateMachine(tx, lifecycle.CreateOptions{Hostname: "tally", Deployed: true, Architecture: "amd64",
			MACs: []string{"02:00:00:00:00:01"}}, u)
		if err != nil {
			return err
		}
		iface := &store.Interface{NodeID: m.ID, Name: "eth9", MACAddress: "02:00:00:00:01:09"}
		if err := tx.CreateInterface(iface); err != nil {
			return err
		}
		com := &store.ScriptSet{NodeID: m.ID, Type: wire.ResultCommissioning}
		tst := &store.ScriptSet{NodeID: m.ID, Type: wire.ResultTesting}
		for _, s := range []*store.ScriptSet{com, tst} {
			if err := tx.CreateScriptSet(s); err != nil {
				return err
			}
		}
		m.CurrentCommissioningSet, m.CurrentTestingSet = &com.ID, &tst.ID
		if err := tx.UpdateMachine(m); err != nil {
			return err
		}
		for i, s := range []wire.ScriptStatus{wire.ScriptPassed, wire.ScriptAborted} {
			if err := tx.CreateScriptResult(&store.ScriptResult{SetID: com.ID, ScriptName: fmt.Sprintf("c%d", i), Status: s}); err != nil {
				return err
			}
		}
		for i, r := range testing1 {
			sc := &store.Script{Name: fmt.Sprintf("t%d", i), Type: wire.ScriptTypeTesting, HardwareType: r.hw}
			if err := tx.CreateScript(sc, []byte("#!/bin/sh\n"), nil); err != nil {
				return err
			}
			sr := &store.ScriptResult{SetID: tst.ID, ScriptID: &sc.ID, ScriptName: sc.Name, Status: r.status, Suppressed: r.suppressed}
			if r.iface {
				sr.InterfaceID = &iface.ID
			}
			if err := tx.CreateScriptResult(sr); err != nil {
				return err
			}
			if r.orphan {
				if err := tx.DeleteScript(sc.ID); err != nil {
					return err
				}
			}
		}
		got, err := tx.MachineByID(m.ID)
		ms = append(ms, *got)
		return err
	})
	if err != nil {
		t.Fatalf("store fixture: %v", err)
	}
	err = st.View(context.Background(), func(tx *store.Tx) error {
		det, err := details(tx, ms)
		if err != nil {
			return err
		}
		got := det[ms[0].ID].Statuses
		for k, w := range want {
			if got[k] != w {
				t.Errorf("%s status %d; want %d", k, got[k], w)
			}
		}
		if len(got) != len(want) {
			t.Errorf("statuses %v; want %v", got, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
