package store_test

import (
	"context"
	"fmt"
	"testing"

	"maasgo/region/store"
)

// TestHardwareUUIDTaken finds another machine with the same hardware UUID whatever its case,
// and never the machine itself.
func TestHardwareUUIDTaken(t *testing.T) {
	forEachEngine(t, func(t *testing.T, s *store.Store) {
		a, b := newMachine("uuid-a"), newMachine("uuid-b")
		a.HardwareUUID = "4C4C4544-0042-3510-8052-B3C04F4E4E32"
		update(t, s, func(tx *store.Tx) error {
			if err := tx.CreateMachine(a); err != nil {
				return err
			}
			return tx.CreateMachine(b)
		})
		for _, tc := range []struct {
			uuid   string
			except int64
			want   bool
		}{
			{"4c4c4544-0042-3510-8052-b3c04f4e4e32", b.ID, true},
			{"4C4C4544-0042-3510-8052-B3C04F4E4E32", b.ID, true},
			{"4c4c4544-0042-3510-8052-b3c04f4e4e32", a.ID, false},
			{"00000000-0000-0000-0000-000000000000", b.ID, false},
		} {
			s.View(context.Background(), func(tx *store.Tx) error {
				got, err := tx.HardwareUUIDTaken(tc.uuid, tc.except)
				if err != nil || got != tc.want {
					t.Errorf("HardwareUUIDTaken(%s, %d) = %v, %v; want %v", tc.uuid, tc.except, got, err, tc.want)
				}
				return nil
			})
		}
	})
}

// TestStatementReuse runs one query text again and again, also while the rows of an earlier
// run of it are still being read: the compiled statement the connection keeps must not be
// reset under the open rows (SQLite only: a PostgreSQL connection reads one query at a time,
// so the store never nests queries there).
func TestStatementReuse(t *testing.T) {
	forEachEngine(t, func(t *testing.T, s *store.Store) {
		update(t, s, func(tx *store.Tx) error {
			for i := range 5 {
				if err := tx.CreateMachine(newMachine(fmt.Sprintf("reuse-%d", i))); err != nil {
					return err
				}
			}
			return nil
		})
		err := s.View(context.Background(), func(tx *store.Tx) error {
			if s.Engine() != "sqlite" {
				return nil
			}
			outer, inner, err := store.NestedSameQuery(tx)
			if err != nil {
				return err
			}
			if outer != 5 || inner != 25 {
				t.Errorf("nested runs of one query read %d and %d rows; want 5 and 25", outer, inner)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 50 {
			s.View(context.Background(), func(tx *store.Tx) error {
				ms, err := tx.Machines(store.MachineFilter{Hostnames: []string{"reuse-3"}})
				if err != nil || len(ms) != 1 || ms[0].Hostname != "reuse-3" {
					t.Fatalf("run %d: %v, %v", i, ms, err)
				}
				return nil
			})
		}
	})
}
