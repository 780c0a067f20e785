package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"maasgo/region/store"
	"maasgo/region/store/storetest"
)

const maxBatch = 128 // store's maxBatch

// TestGroupCommit: concurrent Updates on SQLite share commits, each fn's changes commit or
// roll back on its own, a panic reaches its own caller only, and what Update acknowledged is
// in the database once it is opened again.
func TestGroupCommit(t *testing.T) {
	e := storetest.SQLite(t)
	s, err := store.Open(context.Background(), e.DSN, e.StateDir)
	if err != nil {
		t.Fatal(err)
	}
	const n = 300
	before := s.WriteStats()
	// A first Update holds the write transaction until the n others wait behind it, so that
	// they meet whatever the scheduler does.
	gate, gated, holding := make(chan struct{}), make(chan error, 1), make(chan struct{})
	go func() {
		gated <- s.Update(context.Background(), func(tx *store.Tx) error {
			close(holding)
			<-gate
			return tx.CreateUser(&store.User{Username: "gate"})
		})
	}()
	<-holding
	var wg sync.WaitGroup
	errs := make([]error, n)
	panics := make([]any, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { panics[i] = recover() }()
			errs[i] = s.Update(context.Background(), func(tx *store.Tx) error {
				if err := tx.CreateUser(&store.User{Username: fmt.Sprintf("u%03d", i)}); err != nil {
					return err
				}
				switch {
				case i%10 == 3: // fails after writing: its user must not stay
					return errors.New("refused")
				case i == 7:
					panic("boom")
				}
				return nil
			})
		}()
	}
	for deadline := time.Now().Add(10 * time.Second); store.QueuedUpdates(s) < n; {
		if time.Now().After(deadline) {
			t.Fatalf("%d updates queued behind the first; want %d", store.QueuedUpdates(s), n)
		}
		time.Sleep(time.Millisecond)
	}
	close(gate)
	wg.Wait()
	if err := <-gated; err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		switch {
		case i == 7:
			if panics[i] != "boom" {
				t.Errorf("update %d: panic %v; want its own panic back", i, panics[i])
			}
		case i%10 == 3:
			if errs[i] == nil || errs[i].Error() != "refused" || panics[i] != nil {
				t.Errorf("update %d: %v %v; want its own error", i, errs[i], panics[i])
			}
		default:
			if errs[i] != nil || panics[i] != nil {
				t.Errorf("update %d: %v %v", i, errs[i], panics[i])
			}
		}
	}
	ws := s.WriteStats()
	ws.Updates -= before.Updates
	ws.Commits -= before.Commits
	want := int64(1 + n - n/10 - 1)
	if ws.Updates != want {
		t.Errorf("%d updates committed; want %d", ws.Updates, want)
	}
	// At most 128 share a transaction: 1 (the first) + 3 batches, and the batch with the panic
	// runs again one by one (up to 127 commits more).
	if ws.Commits > 1+3+maxBatch {
		t.Errorf("%d commits for %d concurrent updates: want at most %d", ws.Commits, ws.Updates, 1+3+maxBatch)
	}
	t.Logf("%d updates in %d commits", ws.Updates, ws.Commits)
	s.Close()

	s, err = store.Open(context.Background(), e.DSN, e.StateDir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.View(context.Background(), func(tx *store.Tx) error {
		us, err := tx.Users()
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]bool{}
		for _, u := range us {
			got[u.Username] = true
		}
		for i := 0; i < n; i++ {
			name := fmt.Sprintf("u%03d", i)
			if want := i%10 != 3 && i != 7; got[name] != want {
				t.Errorf("user %s stored: %v; want %v", name, got[name], want)
			}
		}
		return nil
	})
}
