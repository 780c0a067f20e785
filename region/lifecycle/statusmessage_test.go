package lifecycle_test

import (
	"context"
	"testing"

	"maasgo/region/store"
	"maasgo/region/store/storetest"
	"maasgo/wire"
)

// TestStatusMessageFollowsEvents: after each step of a testing run (started, a result, the
// run's end in Failed testing) the machine's status_message is its newest event at INFO or
// above, as upstream, never a message an older copy of the machine carried.
func TestStatusMessageFollowsEvents(t *testing.T) {
	for _, e := range storetest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			st := open(t, e)
			m, _ := netMachine(t, st, "msg-e1", "e1", wire.NodeReady)
			check := func(step string) {
				t.Helper()
				st.View(context.Background(), func(tx *store.Tx) error {
					fresh, err := tx.MachineByID(m.ID)
					if err != nil {
						t.Fatal(err)
					}
					evs, err := tx.Events(store.EventFilter{NodeIDs: []int64{m.ID}, Level: "INFO", Limit: 1})
					if err != nil || len(evs) == 0 {
						t.Fatalf("%s: events: %v %v", step, evs, err)
					}
					want := evs[0].Type
					if evs[0].Description != "" {
						want += " - " + evs[0].Description
					}
					if fresh.StatusMessage != want {
						t.Errorf("%s: status_message %q; want the newest event's %q", step, fresh.StatusMessage, want)
					}
					return nil
				})
			}
			check("testing started")
			m = signal(t, st, m, wire.Signal{Status: wire.SignalWorking, Error: "Starting net-check"})
			check("a script started")
			m = signal(t, st, m, wire.Signal{Status: wire.SignalFailed, Error: "net-check failed"})
			if m.Status != wire.NodeFailedTesting {
				t.Fatalf("after the run: %s; want Failed testing", m.Status.Label())
			}
			check("failed testing")
		})
	}
}
