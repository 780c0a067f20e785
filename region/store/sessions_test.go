package store

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"maasgo/region/store/storetest"
)

// TestPasswordsMigration upgrades a database with a user from schema 9: the user keeps
// their row and has no password; sessions work after the upgrade, on both engines.
func TestPasswordsMigration(t *testing.T) {
	for _, e := range storetest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			ctx := context.Background()
			full := migrations
			migrations = full[:9]
			s, err := Open(ctx, e.DSN, e.StateDir)
			migrations = full
			if err != nil {
				t.Fatal(err)
			}
			u := &User{Username: "old", IsAdmin: true}
			if err := s.Update(ctx, func(tx *Tx) error { return tx.CreateUser(u) }); err != nil {
				t.Fatal(err)
			}
			s.Close()
			if s, err = Open(ctx, e.DSN, e.StateDir); err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if v, _ := s.AppliedVersion(ctx); v != SchemaVersion() {
				t.Errorf("schema version %d after the upgrade, want %d", v, SchemaVersion())
			}
			s.View(ctx, func(tx *Tx) error {
				if h, err := tx.PasswordHash(u.ID); err != nil || h != "" {
					t.Errorf("password hash of an upgraded user: %q, %v; want none", h, err)
				}
				return nil
			})
		})
	}
}

func TestPasswords(t *testing.T) {
	h, err := HashPassword("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("hash %q is not argon2id in PHC form", h)
	}
	h2, _ := HashPassword("correct horse")
	if h == h2 {
		t.Error("two hashes of one password are equal: the salt is not random")
	}
	if !CheckPassword(h, "correct horse") {
		t.Error("the right password does not match")
	}
	for _, bad := range []string{"correct hors", "Correct horse", "", strings.Repeat("x", MaxPasswordLength+1)} {
		if CheckPassword(h, bad) {
			t.Errorf("wrong password %.20q matches", bad)
		}
	}
	for _, hash := range []string{"", "plain", "$argon2id$v=19$m=0,t=2,p=1$AAAA$AAAA", "$argon2id$v=19$m=19456,t=2,p=1$AAAA$"} {
		if CheckPassword(hash, "correct horse") {
			t.Errorf("hash %q matches a password", hash)
		}
	}
	for _, pw := range []string{"", strings.Repeat("x", MaxPasswordLength+1)} {
		if _, err := HashPassword(pw); !errors.Is(err, ErrBadPassword) {
			t.Errorf("HashPassword(%d bytes): %v, want ErrBadPassword", len(pw), err)
		}
	}
}

func TestSessions(t *testing.T) {
	for _, e := range storetest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			ctx := context.Background()
			s, err := Open(ctx, e.DSN, e.StateDir)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			u := &User{Username: "alice"}
			now := time.Now().Truncate(time.Microsecond).UTC()
			live := &Session{IDHash: HashSessionID("live"), CSRF: "tok", Created: now, Expires: now.Add(time.Hour)}
			old := &Session{IDHash: HashSessionID("old"), CSRF: "tok2", Created: now.Add(-2 * time.Hour), Expires: now.Add(-time.Hour)}
			err = s.Update(ctx, func(tx *Tx) error {
				if err := tx.CreateUser(u); err != nil {
					return err
				}
				h, _ := HashPassword("password1")
				if err := tx.SetPasswordHash(u.ID, h); err != nil {
					return err
				}
				live.UserID, old.UserID = u.ID, u.ID
				if err := tx.CreateSession(live); err != nil {
					return err
				}
				return tx.CreateSession(old)
			})
			if err != nil {
				t.Fatal(err)
			}
			s.View(ctx, func(tx *Tx) error {
				got, err := tx.SessionByHash(HashSessionID("live"))
				if err != nil || got.UserID != u.ID || got.CSRF != "tok" || !got.Expires.Equal(live.Expires) {
					t.Errorf("session read back: %+v, %v", got, err)
				}
				if _, err := tx.SessionByHash("live"); !errors.Is(err, ErrNotFound) {
					t.Errorf("a session found by its raw id: %v", err)
				}
				h, err := tx.PasswordHash(u.ID)
				if err != nil || !CheckPassword(h, "password1") {
					t.Errorf("password hash read back: %q, %v", h, err)
				}
				return nil
			})
			var pruned int64
			s.Update(ctx, func(tx *Tx) (err error) { pruned, err = tx.PruneSessions(now); return err })
			if pruned != 1 {
				t.Errorf("pruned %d sessions, want the 1 expired", pruned)
			}
			s.Update(ctx, func(tx *Tx) error { return tx.DeleteUser(u.ID) })
			s.View(ctx, func(tx *Tx) error {
				if _, err := tx.SessionByHash(HashSessionID("live")); !errors.Is(err, ErrNotFound) {
					t.Errorf("session outlived its user: %v", err)
				}
				return nil
			})
		})
	}
}
