package lifecycle_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"maasgo/region/config"
	"maasgo/region/lifecycle"
	"maasgo/region/store"
	"maasgo/region/store/storetest"
	"maasgo/wire"
)

// deployedFor makes a deployed machine owned by a new administrator.
func deployedFor(t *testing.T, st *store.Store, host string) (*store.Machine, *store.User) {
	t.Helper()
	var m *store.Machine
	admin := &store.User{Username: "admin-" + host, IsAdmin: true}
	update(t, st, func(tx *store.Tx) (err error) {
		if err := tx.CreateUser(admin); err != nil {
			return err
		}
		m, err = lifecycle.CreateMachine(tx, lifecycle.CreateOptions{Hostname: host, Architecture: "amd64", Deployed: true}, admin)
		return err
	})
	return m, admin
}

func release(t *testing.T, st *store.Store, m *store.Machine, by *store.User, opts lifecycle.ReleaseOptions) (*store.Machine, error) {
	t.Helper()
	var out *store.Machine
	err := st.Update(context.Background(), func(tx *store.Tx) error {
		fresh, err := tx.MachineByID(m.ID)
		if err != nil {
			return err
		}
		out = fresh
		return lifecycle.ReleaseWith(tx, fresh, by, opts)
	})
	return out, err
}

// releaseResults are the results of m's current release set.
func releaseResults(t *testing.T, st *store.Store, m *store.Machine) []store.ScriptResult {
	t.Helper()
	if m.CurrentReleaseSet == nil {
		t.Fatal("no release set")
	}
	var rs []store.ScriptResult
	st.View(context.Background(), func(tx *store.Tx) (err error) {
		rs, err = tx.ScriptResults([]int64{*m.CurrentReleaseSet}, false)
		return err
	})
	return rs
}

// erasePrams are the secure_erase and quick_erase values of a wipe-disks result.
func eraseParams(t *testing.T, r store.ScriptResult) (secure, quick any) {
	t.Helper()
	var p map[string]wire.ResolvedParam
	if err := json.Unmarshal(r.Parameters, &p); err != nil {
		t.Fatal(err)
	}
	return p["secure_erase"].Value, p["quick_erase"].Value
}

func ptrTo[T any](v T) *T { return &v }

func TestReleaseWithErase(t *testing.T) {
	for _, e := range storetest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			st := open(t, e)
			m, admin := deployedFor(t, st, "erase-ok")
			m, err := release(t, st, m, admin, lifecycle.ReleaseOptions{Erase: ptrTo(true), QuickErase: ptrTo(true), Comment: "wipe it"})
			if err != nil {
				t.Fatal(err)
			}
			if m.Status != wire.NodeDiskErasing || m.OwnerID == nil {
				t.Fatalf("after release erase: %s, owner %v; want Disk erasing, still owned", m.Status.Label(), m.OwnerID)
			}
			rs := releaseResults(t, st, m)
			if len(rs) != 1 || rs[0].ScriptName != lifecycle.WipeDisks || rs[0].Status != wire.ScriptPending {
				t.Fatalf("release set = %+v; want one pending wipe-disks", rs)
			}
			if s, q := eraseParams(t, rs[0]); s != "false" || q != "true" {
				t.Errorf("parameters secure_erase=%v quick_erase=%v; want false, true", s, q)
			}
			// The ephemeral environment downloads the release scripts.
			st.View(context.Background(), func(tx *store.Tx) error {
				p, err := lifecycle.PendingScripts(tx, m)
				if err != nil || len(p) != 1 || p[0].List != "release_scripts" || p[0].Entry.Path != "release/wipe-disks" {
					t.Errorf("pending = %+v, %v; want release/wipe-disks in release_scripts", p, err)
				}
				return nil
			})
			if ev := events(t, st, m, "Disk erasing"); len(ev) != 1 {
				t.Errorf("Disk erasing events = %v", ev)
			}
			// The runner signals RELEASING, the script's result, then OK.
			m = signal(t, st, m, wire.Signal{Status: wire.SignalReleasing})
			if m.Status != wire.NodeDiskErasing {
				t.Fatalf("after RELEASING: %s", m.Status.Label())
			}
			m = signal(t, st, m, finished(lifecycle.WipeDisks, &rs[0].ID, 0, map[string]string{"": "Erased 1 disks.\n"}))
			m = signal(t, st, m, wire.Signal{Status: wire.SignalOK})
			if m.Status != wire.NodeReady || m.OwnerID != nil || m.Owner != "" || m.OSystem != "" {
				t.Errorf("after OK: %s, owner %v %q, os %q; want Ready and released", m.Status.Label(), m.OwnerID, m.Owner, m.OSystem)
			}
			if ev := events(t, st, m, "Released"); len(ev) != 1 {
				t.Errorf("Released events = %v", ev)
			}
		})
	}
}

func TestDiskErasingFails(t *testing.T) {
	for _, e := range storetest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			st := open(t, e)
			t.Run("FAILED signal", func(t *testing.T) {
				m, admin := deployedFor(t, st, "erase-failed")
				m, err := release(t, st, m, admin, lifecycle.ReleaseOptions{Erase: ptrTo(true)})
				if err != nil {
					t.Fatal(err)
				}
				m = signal(t, st, m, wire.Signal{Status: wire.SignalFailed, Error: "1 release scripts failed to run"})
				if m.Status != wire.NodeFailedDiskErasing || m.OwnerID == nil || m.ErrorDescription == "" {
					t.Errorf("after FAILED: %s owner %v error %q; want Failed disk erasing, owned", m.Status.Label(), m.OwnerID, m.ErrorDescription)
				}
				// A plain release then frees it.
				if m, err = release(t, st, m, admin, lifecycle.ReleaseOptions{Erase: ptrTo(false)}); err != nil || m.Status != wire.NodeReady {
					t.Errorf("release after a failed erasing: %v, %s", err, m.Status.Label())
				}
			})
			t.Run("OK with a failed result", func(t *testing.T) {
				m, admin := deployedFor(t, st, "erase-failed-result")
				m, err := release(t, st, m, admin, lifecycle.ReleaseOptions{Erase: ptrTo(true)})
				if err != nil {
					t.Fatal(err)
				}
				rs := releaseResults(t, st, m)
				m = signal(t, st, m, finished(lifecycle.WipeDisks, &rs[0].ID, 1, map[string]string{"": "sda: open: device or resource busy\n"}))
				m = signal(t, st, m, wire.Signal{Status: wire.SignalOK})
				if m.Status != wire.NodeFailedDiskErasing {
					t.Errorf("after OK with a failed wipe-disks: %s; want Failed disk erasing", m.Status.Label())
				}
			})
			t.Run("abort", func(t *testing.T) {
				m, admin := deployedFor(t, st, "erase-abort")
				m, err := release(t, st, m, admin, lifecycle.ReleaseOptions{Erase: ptrTo(true)})
				if err != nil {
					t.Fatal(err)
				}
				update(t, st, func(tx *store.Tx) error { return lifecycle.Abort(tx, m, admin, "stop") })
				if m.Status != wire.NodeFailedDiskErasing {
					t.Errorf("after abort: %s; want Failed disk erasing", m.Status.Label())
				}
				if rs := releaseResults(t, st, m); rs[0].Status != wire.ScriptAborted {
					t.Errorf("wipe-disks after abort: %v", rs[0].Status)
				}
			})
			t.Run("silent past node_timeout", func(t *testing.T) {
				m, admin := deployedFor(t, st, "erase-silent")
				m, err := release(t, st, m, admin, lifecycle.ReleaseOptions{Erase: ptrTo(true)})
				if err != nil {
					t.Fatal(err)
				}
				update(t, st, func(tx *store.Tx) error {
					failed, err := lifecycle.CheckTimeouts(tx, time.Now().Add(31*time.Minute), lifecycle.ScriptTimeoutGrace)
					if len(failed) != 1 || failed[0] != m.SystemID {
						t.Errorf("failed = %v; want the silent erasing machine %s", failed, m.SystemID)
					}
					return err
				})
				update(t, st, func(tx *store.Tx) (err error) { m, err = tx.MachineByID(m.ID); return err })
				if m.Status != wire.NodeFailedDiskErasing {
					t.Errorf("after node_timeout: %s; want Failed disk erasing", m.Status.Label())
				}
				if rs := releaseResults(t, st, m); rs[0].Status != wire.ScriptAborted {
					t.Errorf("wipe-disks after the timeout: %v; want aborted", rs[0].Status)
				}
			})
			t.Run("not from Ready or by another user", func(t *testing.T) {
				m, admin := deployedFor(t, st, "erase-refused")
				other := &store.User{Username: "erase-other"}
				update(t, st, func(tx *store.Tx) error { return tx.CreateUser(other) })
				_, err := release(t, st, m, other, lifecycle.ReleaseOptions{Erase: ptrTo(true)})
				var pe *lifecycle.PermissionError
				if !errors.As(err, &pe) {
					t.Errorf("erase by another user: %v; want a PermissionError", err)
				}
				if m, err = release(t, st, m, admin, lifecycle.ReleaseOptions{}); err != nil || m.Status != wire.NodeReady {
					t.Fatalf("release: %v", err)
				}
				update(t, st, func(tx *store.Tx) error {
					err := lifecycle.StartDiskErasing(tx, m, admin, lifecycle.ReleaseOptions{})
					var se *lifecycle.StateError
					if !errors.As(err, &se) {
						t.Errorf("erasing a Ready machine: %v; want a StateError", err)
					}
					return nil
				})
			})
		})
	}
}

func TestEraseSettings(t *testing.T) {
	for _, e := range storetest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			st := open(t, e)
			update(t, st, func(tx *store.Tx) error {
				for k, v := range map[string]string{"enable_disk_erasing_on_release": "true", "disk_erase_with_secure_erase": "true"} {
					if err := config.Set(tx, k, v); err != nil {
						return err
					}
				}
				return nil
			})
			// The setting makes a plain release erase, with the secure erase setting.
			m, admin := deployedFor(t, st, "erase-setting")
			m, err := release(t, st, m, admin, lifecycle.ReleaseOptions{})
			if err != nil || m.Status != wire.NodeDiskErasing {
				t.Fatalf("release with the setting on: %v, %s; want Disk erasing", err, m.Status.Label())
			}
			if s, q := eraseParams(t, releaseResults(t, st, m)[0]); s != "true" || q != "false" {
				t.Errorf("parameters secure_erase=%v quick_erase=%v; want true, false", s, q)
			}
			// The request overrides the settings.
			m2, admin2 := deployedFor(t, st, "erase-override")
			m2, err = release(t, st, m2, admin2, lifecycle.ReleaseOptions{SecureErase: ptrTo(false), QuickErase: ptrTo(true)})
			if err != nil {
				t.Fatal(err)
			}
			if s, q := eraseParams(t, releaseResults(t, st, m2)[0]); s != "false" || q != "true" {
				t.Errorf("overridden parameters secure_erase=%v quick_erase=%v; want false, true", s, q)
			}
			m3, admin3 := deployedFor(t, st, "erase-declined")
			if m3, err = release(t, st, m3, admin3, lifecycle.ReleaseOptions{Erase: ptrTo(false)}); err != nil || m3.Status != wire.NodeReady {
				t.Errorf("release erase=false with the setting on: %v, %s; want Ready", err, m3.Status.Label())
			}
		})
	}
}
