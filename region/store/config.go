package store

import (
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Config reads a configuration value stored as text; ok is false when it was never set.
func (t *Tx) Config(name string) (value string, ok bool, err error) {
	err = t.queryRow(`SELECT value FROM config WHERE name = ?`, name).Scan(&value)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("read config %s: %w", name, err)
	}
	return value, true, nil
}

// SetConfig stores a configuration value.
func (t *Tx) SetConfig(name, value string) error {
	_, err := t.exec(`INSERT INTO config (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value`, name, value)
	if err != nil {
		return fmt.Errorf("set config %s: %w", name, err)
	}
	return nil
}

// AcquireLease takes or renews the named lease for holder until now+ttl. It reports false when
// another holder has it and its lease has not run out. Leases let background jobs run in one
// region process at a time, whichever engine is in use.
func (t *Tx) AcquireLease(name, holder string, now time.Time, ttl time.Duration) (bool, error) {
	r, err := t.exec(`INSERT INTO locks (name, holder, expires) VALUES (?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires = excluded.expires
		WHERE locks.holder = excluded.holder OR locks.expires < ?`,
		name, holder, micros(now.Add(ttl)), micros(now))
	if err != nil {
		return false, fmt.Errorf("acquire lease %s: %w", name, err)
	}
	n, err := r.RowsAffected()
	return n == 1, err
}

// ReleaseLease gives up the named lease if holder has it.
func (t *Tx) ReleaseLease(name, holder string) error {
	if _, err := t.exec(`DELETE FROM locks WHERE name = ? AND holder = ?`, name, holder); err != nil {
		return fmt.Errorf("release lease %s: %w", name, err)
	}
	return nil
}
