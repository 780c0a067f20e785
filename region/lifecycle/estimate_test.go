package lifecycle_test

import (
	"fmt"
	"math"
	"testing"
	"time"

	"maasgo/region/library"
	"maasgo/region/lifecycle"
	"maasgo/region/store"
	"maasgo/region/store/storetest"
	"maasgo/wire"
)

func TestRemaining(t *testing.T) {
	now := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	ago := func(d time.Duration) *time.Time { t := now.Add(-d); return &t }
	s := time.Second
	for _, tc := range []struct {
		name string
		run  []lifecycle.RunScript
		want time.Duration
	}{
		{"serial scripts add up", []lifecycle.RunScript{
			{Name: "a", Expected: 10 * s}, {Name: "b", Expected: 20 * s}}, 30 * s},
		{"finished scripts count nothing", []lifecycle.RunScript{
			{Name: "a", Status: wire.ScriptPassed, Expected: 10 * s}, {Name: "b", Status: wire.ScriptFailed, Expected: 20 * s}, {Name: "c", Expected: 5 * s}}, 5 * s},
		{"a running script has what is left of it", []lifecycle.RunScript{
			{Name: "a", Status: wire.ScriptRunning, Started: ago(4 * s), Expected: 10 * s}}, 6 * s},
		{"an overrunning script has nothing left", []lifecycle.RunScript{
			{Name: "a", Status: wire.ScriptRunning, Started: ago(40 * s), Expected: 10 * s}, {Name: "b", Expected: 3 * s}}, 3 * s},
		{"the any pool lasts as long as its longest", []lifecycle.RunScript{
			{Name: "a", Parallel: wire.ParallelAny, Expected: 10 * s}, {Name: "b", Parallel: wire.ParallelAny, Expected: 25 * s},
			{Name: "c", Parallel: wire.ParallelAny, Netconf: true, Expected: 7 * s}}, 32 * s},
		{"an instance group together, groups one after another", []lifecycle.RunScript{
			{Name: "disk", Parallel: wire.ParallelInstance, Expected: 30 * s}, {Name: "disk", Parallel: wire.ParallelInstance, Expected: 33 * s},
			{Name: "nic", Parallel: wire.ParallelInstance, Expected: 5 * s}, {Name: "serial", Expected: 2 * s}}, 40 * s},
	} {
		if got := lifecycle.Remaining(tc.run, now); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestRunETA: a machine tested once with recorded runtimes is tested again, the scripts taking
// up to 10 % more or less; at every point of the second run the estimated end is within 10 % of
// the run's length of the actual end. A machine never tested is estimated from a machine like
// it, and without any history from the scripts' timeouts.
func TestRunETA(t *testing.T) {
	for _, e := range storetest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			st := open(t, e)
			// Four scripts: two serial, two in the any pool.
			recorded := map[string]time.Duration{"est-a": 20 * time.Second, "est-b": 40 * time.Second, "est-c": 60 * time.Second, "est-d": 30 * time.Second}
			second := map[string]time.Duration{"est-a": 22 * time.Second, "est-b": 36 * time.Second, "est-c": 63 * time.Second, "est-d": 33 * time.Second}
			parallel := map[string]string{"est-a": "disabled", "est-b": "disabled", "est-c": "any", "est-d": "any"}
			var m, twin *store.Machine
			admin := &store.User{Username: "admin", IsAdmin: true}
			update(t, st, func(tx *store.Tx) error {
				if err := tx.CreateUser(admin); err != nil {
					return err
				}
				for _, n := range []string{"est-a", "est-b", "est-c", "est-d"} {
					body := fmt.Sprintf("#!/bin/sh\n# --- Start MAAS 1.0 script metadata ---\n# script_type: testing\n# parallel: %s\n# timeout: 00:05:00\n# --- End MAAS 1.0 script metadata ---\nsleep 1\n", parallel[n])
					if _, err := library.Create(tx, library.Request{Body: []byte(body), Fields: map[string]string{"name": n, "tags": "est"}}); err != nil {
						return err
					}
				}
				var err error
				for _, host := range []string{"tested", "twin"} {
					mm, err2 := lifecycle.CreateMachine(tx, lifecycle.CreateOptions{Hostname: host, Architecture: "amd64"}, admin)
					if err2 != nil {
						return err2
					}
					mm.Status, mm.CPUCount, mm.Memory = wire.NodeReady, 8, 16384
					if err = tx.UpdateMachine(mm); err != nil {
						return err
					}
					if host == "tested" {
						m = mm
					} else {
						twin = mm
					}
				}
				return nil
			})
			// runTest starts a test run on mm and plays it by durations, calling at with the
			// run's start, each time point and the machine then; it gives the run's end.
			start := time.Date(2026, 12, 6, 1, 0, 0, 0, time.UTC)
			runTest := func(mm *store.Machine, durations map[string]time.Duration, check func(now time.Time, tx *store.Tx, mm *store.Machine)) time.Time {
				var end time.Time
				update(t, st, func(tx *store.Tx) error {
					now, err := tx.MachineByID(mm.ID)
					if err != nil {
						return err
					}
					if err := lifecycle.StartTesting(tx, now, []string{"est"}, nil, false, admin); err != nil {
						return err
					}
					fresh, err := tx.MachineByID(mm.ID)
					if err != nil {
						return err
					}
					rs, err := tx.ScriptResults([]int64{*fresh.CurrentTestingSet}, false)
					if err != nil {
						return err
					}
					byName := map[string]*store.ScriptResult{}
					for i := range rs {
						byName[rs[i].ScriptName] = &rs[i]
					}
					// The runner's order: est-a, est-b, then est-c and est-d together.
					type span struct {
						name     string
						from, to time.Time
					}
					a := start.Add(durations["est-a"])
					b := a.Add(durations["est-b"])
					spans := []span{{"est-a", start, a}, {"est-b", a, b}, {"est-c", b, b.Add(durations["est-c"])}, {"est-d", b, b.Add(durations["est-d"])}}
					end = b.Add(max(durations["est-c"], durations["est-d"]))
					for now := start; !now.After(end); now = now.Add(5 * time.Second) {
						for _, sp := range spans {
							r := byName[sp.name]
							switch {
							case !now.Before(sp.to):
								from, to := sp.from, sp.to
								r.Status, r.Started, r.Ended = wire.ScriptPassed, &from, &to
							case !now.Before(sp.from):
								from := sp.from
								r.Status, r.Started = wire.ScriptRunning, &from
							}
							if err := tx.UpdateScriptResult(r); err != nil {
								return err
							}
						}
						if check != nil {
							check(now, tx, fresh)
						}
					}
					fresh.Status = wire.NodeReady
					return tx.UpdateMachine(fresh)
				})
				return end
			}
			// Never tested, no machine like it with history: each script is its timeout.
			update(t, st, func(tx *store.Tx) error {
				if err := lifecycle.StartTesting(tx, m, []string{"est"}, nil, false, admin); err != nil {
					return err
				}
				fresh, _ := tx.MachineByID(m.ID)
				eta, err := (&lifecycle.Runtimes{}).RunETA(tx, fresh, start)
				if err != nil || eta == nil || !eta.Equal(start.Add(15*time.Minute)) {
					t.Errorf("estimate from the timeouts: %v %v, want %v", eta, err, start.Add(15*time.Minute))
				}
				return lifecycle.Abort(tx, fresh, admin, "")
			})

			runTest(m, recorded, nil)
			length := 20*time.Second + 40*time.Second + 60*time.Second
			var worst time.Duration
			end := runTest(m, second, func(now time.Time, tx *store.Tx, mm *store.Machine) {
				if now.Equal(start.Add(second["est-a"]+second["est-b"]+second["est-c"])) || now.After(start.Add(second["est-a"]+second["est-b"]+second["est-c"])) {
					return // finished: the machine is about to be Ready
				}
				eta, err := (&lifecycle.Runtimes{}).RunETA(tx, mm, now)
				if err != nil || eta == nil {
					t.Fatalf("estimate at %v: %v %v", now.Sub(start), eta, err)
				}
				actual := start.Add(second["est-a"] + second["est-b"] + second["est-c"])
				worst = max(worst, time.Duration(math.Abs(float64(eta.Sub(actual)))))
			})
			_ = end
			if worst > length/10 {
				t.Errorf("the estimate was up to %v off the actual end, more than 10 %% of the run's %v", worst, length)
			}
			t.Logf("largest estimate error over the run: %v of %v", worst, length)

			// The twin, never tested itself, is estimated from the tested machine's runs.
			update(t, st, func(tx *store.Tx) error {
				if err := lifecycle.StartTesting(tx, twin, []string{"est"}, nil, false, admin); err != nil {
					return err
				}
				fresh, _ := tx.MachineByID(twin.ID)
				eta, err := (&lifecycle.Runtimes{}).RunETA(tx, fresh, start)
				if err != nil || eta == nil {
					t.Fatalf("estimate of the twin: %v %v", eta, err)
				}
				if got := eta.Sub(start); got < 110*time.Second || got > 130*time.Second {
					t.Errorf("estimate of the twin: %v from its peers, want about 2 minutes", got)
				}
				return nil
			})
		})
	}
}
