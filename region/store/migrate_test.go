package store

import (
	"context"
	"testing"

	"maasgo/region/store/storetest"
)

// TestOutputsMoveOut upgrades a database whose results kept their outputs inline (schema 8)
// and reads each result back with its outputs, on both engines.
func TestOutputsMoveOut(t *testing.T) {
	for _, e := range storetest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			ctx := context.Background()
			full := migrations
			migrations = full[:8]
			s, err := Open(ctx, e.DSN, e.StateDir)
			migrations = full
			if err != nil {
				t.Fatal(err)
			}
			var withOut, without int64
			err = s.Update(ctx, func(tx *Tx) error {
				if _, err := tx.exec(`INSERT INTO machines (system_id, hostname, domain, architecture, power_type, status, created, updated)
					VALUES ('old', 'old', 'maas', 'amd64/generic', 'manual', 4, 0, 0)`); err != nil {
					return err
				}
				set, err := tx.insert(`INSERT INTO script_sets (node_id, result_type, last_ping, created) SELECT id, 0, 0, 0 FROM machines`)
				if err != nil {
					return err
				}
				if withOut, err = tx.insert(`INSERT INTO script_results (script_set_id, script_name, status, output, stdout, stderr, result, created, updated)
					VALUES (?, 'with', 2, ?, ?, ?, ?, 0, 0)`, set, []byte("both\n"), []byte("out\n"), []byte("err\n"), []byte("status: passed\n")); err != nil {
					return err
				}
				without, err = tx.insert(`INSERT INTO script_results (script_set_id, script_name, status, created, updated) VALUES (?, 'without', 0, 0, 0)`, set)
				return err
			})
			s.Close()
			if err != nil {
				t.Fatal(err)
			}
			s, err = Open(ctx, e.DSN, e.StateDir)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			s.View(ctx, func(tx *Tx) error {
				r, err := tx.ScriptResultByID(withOut, true)
				if err != nil || string(r.Output) != "both\n" || string(r.Stdout) != "out\n" || string(r.Stderr) != "err\n" || string(r.Result) != "status: passed\n" {
					t.Errorf("result with outputs after the upgrade: %+v, %v", r, err)
				}
				r, err = tx.ScriptResultByID(without, true)
				if err != nil || r.Output != nil || r.Stdout != nil || r.Result != nil || r.ScriptName != "without" {
					t.Errorf("result without outputs after the upgrade: %+v, %v", r, err)
				}
				return nil
			})
		})
	}
}
