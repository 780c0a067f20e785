package store_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"maasgo/region/store"
	"maasgo/region/store/storetest"
	"maasgo/wire"
)

// forEachEngine runs body against a fresh database of every engine.
func forEachEngine(t *testing.T, body func(t *testing.T, s *store.Store)) {
	for _, e := range storetest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			s, err := store.Open(context.Background(), e.DSN, e.StateDir)
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			defer s.Close()
			body(t, s)
		})
	}
}

func update(t *testing.T, s *store.Store, fn func(tx *store.Tx) error) {
	t.Helper()
	if err := s.Update(context.Background(), fn); err != nil {
		t.Fatal(err)
	}
}

func TestMigrationsIdempotent(t *testing.T) {
	for _, e := range storetest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			for i := 0; i < 2; i++ {
				s, err := store.Open(context.Background(), e.DSN, e.StateDir)
				if err != nil {
					t.Fatalf("open #%d: %v", i, err)
				}
				v, err := s.AppliedVersion(context.Background())
				s.Close()
				if err != nil || v != store.SchemaVersion() {
					t.Fatalf("open #%d: version %d, %v; want %d", i, v, err, store.SchemaVersion())
				}
			}
		})
	}
}

func TestOpenRejectsUnknownURL(t *testing.T) {
	_, err := store.Open(context.Background(), "mysql://user:secret@host/db", t.TempDir())
	if err == nil {
		t.Fatal("mysql url accepted")
	}
	if got := err.Error(); !strings.Contains(got, "unsupported") || strings.Contains(got, "secret") {
		t.Errorf("error %q should say unsupported and hide the password", got)
	}
}

func TestUsersAndTokens(t *testing.T) {
	forEachEngine(t, func(t *testing.T, s *store.Store) {
		var admin store.User
		update(t, s, func(tx *store.Tx) error {
			admin = store.User{Username: "admin", Email: "a@example.com", IsAdmin: true}
			if err := tx.CreateUser(&admin); err != nil {
				return err
			}
			tok := store.NewToken(store.TokenUser)
			tok.UserID = &admin.ID
			return tx.CreateToken(tok)
		})
		err := s.Update(context.Background(), func(tx *store.Tx) error {
			return tx.CreateUser(&store.User{Username: "admin"})
		})
		if !errors.Is(err, store.ErrConflict) {
			t.Fatalf("duplicate username: %v; want ErrConflict", err)
		}
		s.View(context.Background(), func(tx *store.Tx) error {
			u, err := tx.UserByName("admin")
			if err != nil || !u.IsAdmin || u.Email != "a@example.com" {
				t.Fatalf("UserByName = %+v, %v", u, err)
			}
			toks, err := tx.UserTokens(u.ID)
			if err != nil || len(toks) != 1 {
				t.Fatalf("UserTokens = %v, %v", toks, err)
			}
			k := toks[0]
			if len(k.ConsumerKey) != 18 || len(k.TokenKey) != 18 || len(k.TokenSecret) != 32 {
				t.Errorf("key sizes %d:%d:%d; want 18:18:32", len(k.ConsumerKey), len(k.TokenKey), len(k.TokenSecret))
			}
			got, err := tx.TokenByKey(k.TokenKey)
			if err != nil || got.TokenSecret != k.TokenSecret || *got.UserID != u.ID || got.Kind != store.TokenUser {
				t.Errorf("TokenByKey = %+v, %v", got, err)
			}
			if _, err := tx.TokenByKey("nope"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("unknown token: %v; want ErrNotFound", err)
			}
			if _, err := tx.UserByName("nobody"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("unknown user: %v; want ErrNotFound", err)
			}
			return nil
		})
	})
}

func TestNonces(t *testing.T) {
	forEachEngine(t, func(t *testing.T, s *store.Store) {
		now := time.Now()
		update(t, s, func(tx *store.Tx) error {
			for i, want := range []bool{true, false} {
				ok, err := tx.UseNonce("tk", "n1", now)
				if err != nil || ok != want {
					t.Errorf("UseNonce #%d = %v, %v; want %v", i, ok, err, want)
				}
			}
			if ok, _ := tx.UseNonce("other", "n1", now); !ok {
				t.Error("same nonce on another token refused")
			}
			n, err := tx.PruneNonces(now.Add(time.Second))
			if err != nil || n != 2 {
				t.Errorf("PruneNonces = %d, %v; want 2", n, err)
			}
			if ok, _ := tx.UseNonce("tk", "n1", now); !ok {
				t.Error("pruned nonce still refused")
			}
			return nil
		})
	})
}

func newMachine(hostname string) *store.Machine {
	return &store.Machine{SystemID: "s" + hostname, Hostname: hostname, Domain: "maas", Architecture: "amd64/generic",
		PowerType: "manual", Status: wire.NodeReady, PowerParameters: map[string]any{"power_address": "10.0.0.1"}}
}

func TestMachines(t *testing.T) {
	forEachEngine(t, func(t *testing.T, s *store.Store) {
		var m *store.Machine
		update(t, s, func(tx *store.Tx) error {
			m = newMachine("alpha")
			m.Tags = []string{"virtual"}
			m.HardwareInfo = map[string]string{"system_vendor": "QEMU"}
			m.UserData = []byte("#!/bin/sh\n")
			if err := tx.CreateMachine(m); err != nil {
				return err
			}
			for _, h := range []string{"beta", "gamma"} {
				o := newMachine(h)
				o.Status = wire.NodeNew
				if err := tx.CreateMachine(o); err != nil {
					return err
				}
			}
			return tx.CreateInterface(&store.Interface{NodeID: m.ID, Name: "eth0", MACAddress: "52:54:00:00:00:01", LinkConnected: true})
		})
		if err := s.Update(context.Background(), func(tx *store.Tx) error { return tx.CreateMachine(newMachine("alpha")) }); !errors.Is(err, store.ErrConflict) {
			t.Errorf("duplicate hostname: %v; want ErrConflict", err)
		}
		err := s.Update(context.Background(), func(tx *store.Tx) error {
			return tx.CreateInterface(&store.Interface{NodeID: m.ID, Name: "eth1", MACAddress: "52:54:00:00:00:01"})
		})
		if !errors.Is(err, store.ErrConflict) {
			t.Errorf("duplicate physical MAC: %v; want ErrConflict", err)
		}
		s.View(context.Background(), func(tx *store.Tx) error {
			got, err := tx.MachineBySystemID("salpha")
			if err != nil {
				t.Fatal(err)
			}
			if got.Hostname != "alpha" || got.Status != wire.NodeReady || got.Tags[0] != "virtual" ||
				got.HardwareInfo["system_vendor"] != "QEMU" || string(got.UserData) != "#!/bin/sh\n" ||
				got.PowerParameters["power_address"] != "10.0.0.1" || got.OwnerID != nil || got.Owner != "" {
				t.Errorf("round trip: %+v", got)
			}
			ready, err := tx.Machines(store.MachineFilter{Statuses: []wire.NodeStatus{wire.NodeReady}})
			if err != nil || len(ready) != 1 || ready[0].Hostname != "alpha" {
				t.Errorf("filter by status: %v, %v", ready, err)
			}
			two, _ := tx.Machines(store.MachineFilter{Hostnames: []string{"beta", "gamma", "zeta"}})
			if len(two) != 2 {
				t.Errorf("filter by hostnames: %d machines; want 2", len(two))
			}
			byMAC, err := tx.Machines(store.MachineFilter{MACs: []string{"52:54:00:00:00:01", "52:54:00:00:00:99"}})
			if err != nil || len(byMAC) != 1 || byMAC[0].Hostname != "alpha" {
				t.Errorf("filter by MAC: %v, %v", byMAC, err)
			}
			for _, f := range []store.MachineFilter{{Domains: []string{"nosuch"}}, {MinCPUs: 1 << 20}, {MinMemory: 1 << 40}} {
				if none, err := tx.Machines(f); err != nil || len(none) != 0 {
					t.Errorf("filter %+v: %d machines, %v; want none", f, len(none), err)
				}
			}
			if all, err := tx.Machines(store.MachineFilter{Domains: []string{got.Domain}, MinCPUs: got.CPUCount, MinMemory: got.Memory}); err != nil || len(all) == 0 {
				t.Errorf("filter by alpha's own domain, CPUs and memory: %d machines, %v", len(all), err)
			}
			ifs, err := tx.Interfaces(m.ID)
			if err != nil || len(ifs[m.ID]) != 1 || ifs[m.ID][0].MTU != 1500 || ifs[m.ID][0].Type != "physical" {
				t.Errorf("interfaces: %+v, %v", ifs, err)
			}
			if _, err := tx.InterfaceByMAC("52:54:00:00:00:01"); err != nil {
				t.Errorf("InterfaceByMAC: %v", err)
			}
			return nil
		})
		// Owner names come with the machine; deleting the machine takes its interfaces along.
		update(t, s, func(tx *store.Tx) error {
			u := store.User{Username: "bob"}
			if err := tx.CreateUser(&u); err != nil {
				return err
			}
			m.OwnerID = &u.ID
			m.Status = wire.NodeAllocated
			if err := tx.UpdateMachine(m); err != nil {
				return err
			}
			got, err := tx.MachineByID(m.ID)
			if err != nil || got.Owner != "bob" || got.Status != wire.NodeAllocated {
				t.Errorf("after update: %+v, %v", got, err)
			}
			if err := tx.AddEvent(&store.Event{NodeID: m.ID, Type: "Allocated", Description: "to bob"}); err != nil {
				return err
			}
			got, _ = tx.MachineByID(m.ID)
			if got.StatusMessage != "Allocated - to bob" {
				t.Errorf("status message %q", got.StatusMessage)
			}
			return tx.DeleteMachine(m.ID)
		})
		s.View(context.Background(), func(tx *store.Tx) error {
			if _, err := tx.MachineByID(m.ID); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("deleted machine: %v", err)
			}
			if _, err := tx.InterfaceByMAC("52:54:00:00:00:01"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("interface of deleted machine: %v", err)
			}
			return nil
		})
	})
}

func TestConfigAndLeases(t *testing.T) {
	forEachEngine(t, func(t *testing.T, s *store.Store) {
		now := time.Now()
		update(t, s, func(tx *store.Tx) error {
			if _, ok, _ := tx.Config("node_timeout"); ok {
				t.Error("unset config reported set")
			}
			tx.SetConfig("node_timeout", "30")
			tx.SetConfig("node_timeout", "45")
			if v, ok, err := tx.Config("node_timeout"); v != "45" || !ok || err != nil {
				t.Errorf("config = %q, %v, %v", v, ok, err)
			}
			for _, tc := range []struct {
				holder string
				at     time.Time
				want   bool
			}{
				{"a", now, true},
				{"b", now, false},
				{"a", now.Add(time.Second), true},
				{"b", now.Add(2 * time.Minute), true},
				{"a", now.Add(2 * time.Minute), false},
			} {
				ok, err := tx.AcquireLease("monitor", tc.holder, tc.at, time.Minute)
				if err != nil || ok != tc.want {
					t.Errorf("AcquireLease(%s at +%v) = %v, %v; want %v", tc.holder, tc.at.Sub(now), ok, err, tc.want)
				}
			}
			return nil
		})
	})
}

// Concurrent read-modify-write transactions must not lose updates: the allocation pattern.
// As many writers as a fleet of machines signalling at once, each reading what the others
// write (a table scan and a row they all change, the pattern PostgreSQL's SERIALIZABLE
// isolation aborts most): every Update commits, none gives up, none is lost.
func TestUpdateManyContendingWriters(t *testing.T) {
	forEachEngine(t, func(t *testing.T, s *store.Store) {
		const workers, rounds = 100, 3
		var wg sync.WaitGroup
		for i := 0; i < workers; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for r := 0; r < rounds; r++ {
					err := s.Update(context.Background(), func(tx *store.Tx) error {
						if _, err := tx.Machines(store.MachineFilter{}); err != nil {
							return err
						}
						if err := tx.CreateMachine(newMachine(fmt.Sprintf("w%d-%d", i, r))); err != nil {
							return err
						}
						v, _, err := tx.Config("counter")
						if err != nil {
							return err
						}
						n, _ := strconv.Atoi(v)
						return tx.SetConfig("counter", strconv.Itoa(n+1))
					})
					if err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		s.View(context.Background(), func(tx *store.Tx) error {
			if v, _, _ := tx.Config("counter"); v != strconv.Itoa(workers*rounds) {
				t.Errorf("counter = %s after %d increments", v, workers*rounds)
			}
			return nil
		})
	})
}
