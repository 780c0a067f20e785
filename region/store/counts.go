package store

import (
	"fmt"
	"time"

	"maasgo/wire"
)

// TxObserver is told how long transactions took: kind is "read" (a View), "write" (an
// Update, from its call to its commit, waiting for its group included) or "commit" (one
// write transaction of the database, begin to commit, shared by a group of Updates).
type TxObserver func(kind string, d time.Duration)

// ObserveTransactions makes the store report its transactions' durations to fn. Call it
// before the store is in use.
func (s *Store) ObserveTransactions(fn TxObserver) { s.observe = fn }

func (s *Store) observed(kind string, start time.Time) {
	if s.observe != nil {
		s.observe(kind, time.Since(start))
	}
}

// MachinesByStatus counts the machines in each status.
func (t *Tx) MachinesByStatus() (map[wire.NodeStatus]int64, error) {
	out := map[wire.NodeStatus]int64{}
	if err := t.countBy(`SELECT status, COUNT(*) FROM machines GROUP BY status`, func(k int, n int64) {
		out[wire.NodeStatus(k)] = n
	}); err != nil {
		return nil, fmt.Errorf("count machines by status: %w", err)
	}
	return out, nil
}

// ResultsByStatus counts the script results in each status.
func (t *Tx) ResultsByStatus() (map[wire.ScriptStatus]int64, error) {
	out := map[wire.ScriptStatus]int64{}
	if err := t.countBy(`SELECT status, COUNT(*) FROM script_results GROUP BY status`, func(k int, n int64) {
		out[wire.ScriptStatus(k)] = n
	}); err != nil {
		return nil, fmt.Errorf("count script results by status: %w", err)
	}
	return out, nil
}

func (t *Tx) countBy(q string, add func(k int, n int64)) error {
	rows, err := t.query(q)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var k int
		var n int64
		if err := rows.Scan(&k, &n); err != nil {
			return err
		}
		add(k, n)
	}
	return rows.Err()
}
