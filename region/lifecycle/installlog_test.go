package lifecycle_test

import (
	"context"
	"testing"

	"maasgo/region/lifecycle"
	"maasgo/region/store"
	"maasgo/region/store/storetest"
	"maasgo/wire"
)

// TestInstallationLogResult: a deployment starts with a pending /tmp/install.log result, as
// upstream's; the log the machine uploads with its final report is stored in it and passes.
func TestInstallationLogResult(t *testing.T) {
	for _, e := range storetest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			st := open(t, e)
			var m *store.Machine
			update(t, st, func(tx *store.Tx) (err error) {
				admin := &store.User{Username: "admin-inst", IsAdmin: true}
				if err := tx.CreateUser(admin); err != nil {
					return err
				}
				m, err = lifecycle.CreateMachine(tx, lifecycle.CreateOptions{Hostname: "inst", Architecture: "amd64", Deployed: true,
					MACs: []string{"02:00:00:00:1e:00"}}, admin)
				if err != nil {
					return err
				}
				if err := lifecycle.Release(tx, m, admin, ""); err != nil {
					return err
				}
				return lifecycle.Deploy(tx, m, admin, lifecycle.DeployOptions{OSystem: "ubuntu", DistroSeries: "noble"})
			})
			results := func() []store.ScriptResult {
				t.Helper()
				var rs []store.ScriptResult
				st.View(context.Background(), func(tx *store.Tx) (err error) {
					fresh, err := tx.MachineByID(m.ID)
					if err != nil || fresh.CurrentInstallationSet == nil {
						t.Fatalf("installation set: %v", err)
					}
					rs, err = tx.ScriptResults([]int64{*fresh.CurrentInstallationSet}, true)
					return err
				})
				return rs
			}
			if rs := results(); len(rs) != 1 || rs[0].ScriptName != lifecycle.InstallLog || rs[0].Status != wire.ScriptPending {
				t.Fatalf("installation results when deploying: %+v; want one pending %s", rs, lifecycle.InstallLog)
			}
			m = signal(t, st, m, wire.Signal{Status: wire.SignalOK, Files: []wire.SignalFile{{Name: lifecycle.InstallLog, Data: []byte("installed\n")}}})
			if m.Status != wire.NodeDeployed {
				t.Fatalf("after the report: %s; want Deployed", m.Status.Label())
			}
			if rs := results(); len(rs) != 1 || rs[0].Status != wire.ScriptPassed || string(rs[0].Output) != "installed\n" {
				t.Errorf("installation results after the report: %+v; want the log, passed", rs)
			}
		})
	}
}
