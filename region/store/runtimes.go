package store

import (
	"database/sql"
	"errors"
	"fmt"
	"time"

	"maasgo/wire"
)

// LastRuntimes gives, for each named script, how long its newest finished run on the machine
// took, among sets older than beforeSet; scripts that never finished there are absent.
func (t *Tx) LastRuntimes(nodeID int64, names []string, beforeSet int64) (map[string]time.Duration, error) {
	out := map[string]time.Duration{}
	if len(names) == 0 {
		return out, nil
	}
	args := []any{nodeID, beforeSet, int(wire.ScriptPassed), int(wire.ScriptFailed), int(wire.ScriptDegraded)}
	for _, n := range names {
		args = append(args, n)
	}
	rows, err := t.query(`SELECT r.script_name, r.started, r.ended FROM script_results r
		JOIN script_sets s ON s.id = r.script_set_id
		WHERE s.node_id = ? AND s.id < ? AND r.status IN (?, ?, ?) AND r.started IS NOT NULL AND r.ended IS NOT NULL
		AND r.script_name IN (`+placeholders(len(names))+`)
		ORDER BY r.script_set_id DESC, r.id DESC LIMIT 1000`, args...)
	if err != nil {
		return nil, fmt.Errorf("read the last runtimes of machine %d: %w", nodeID, err)
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		var started, ended int64
		if err := rows.Scan(&name, &started, &ended); err != nil {
			return nil, fmt.Errorf("read the last runtimes of machine %d: %w", nodeID, err)
		}
		if _, ok := out[name]; !ok {
			out[name] = fromMicros(ended).Sub(fromMicros(started))
		}
	}
	return out, rows.Err()
}

// PeerRuntimes gives the recent runtimes (up to 200 in all, newest first) of the named
// scripts on other machines with m's architecture, CPU count and memory.
func (t *Tx) PeerRuntimes(m *Machine, names []string) (map[string][]time.Duration, error) {
	out := map[string][]time.Duration{}
	if len(names) == 0 {
		return out, nil
	}
	args := []any{m.ID, m.Architecture, m.CPUCount, m.Memory, int(wire.ScriptPassed), int(wire.ScriptDegraded)}
	for _, n := range names {
		args = append(args, n)
	}
	rows, err := t.query(`SELECT r.script_name, r.started, r.ended FROM script_results r
		JOIN script_sets s ON s.id = r.script_set_id
		JOIN machines m ON m.id = s.node_id
		WHERE m.id != ? AND m.architecture = ? AND m.cpu_count = ? AND m.memory = ?
		AND r.status IN (?, ?) AND r.started IS NOT NULL AND r.ended IS NOT NULL
		AND r.script_name IN (`+placeholders(len(names))+`)
		ORDER BY r.id DESC LIMIT 200`, args...)
	if err != nil {
		return nil, fmt.Errorf("read the runtimes of machines like %s: %w", m.SystemID, err)
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		var started, ended sql.NullInt64
		if err := rows.Scan(&name, &started, &ended); err != nil {
			return nil, fmt.Errorf("read the runtimes of machines like %s: %w", m.SystemID, err)
		}
		out[name] = append(out[name], fromMicros(ended.Int64).Sub(fromMicros(started.Int64)))
	}
	return out, rows.Err()
}

// PutReparsedInventory keeps the inventory derived again from a commissioning's hardware
// snapshot, standing in for the inventory result resultID sent.
func (t *Tx) PutReparsedInventory(resultID int64, doc []byte, at time.Time) error {
	_, err := t.exec(`INSERT INTO reparsed_inventories (result_id, document, parsed) VALUES (?, ?, ?)
		ON CONFLICT (result_id) DO UPDATE SET document = excluded.document, parsed = excluded.parsed`, resultID, doc, micros(at))
	if err != nil {
		return fmt.Errorf("keep the re-parsed inventory of result %d: %w", resultID, err)
	}
	return nil
}

// ReparsedInventory is the inventory kept for the inventory result resultID by
// PutReparsedInventory; ok is false when there is none.
func (t *Tx) ReparsedInventory(resultID int64) (doc []byte, ok bool, err error) {
	err = t.queryRow(`SELECT document FROM reparsed_inventories WHERE result_id = ?`, resultID).Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read the re-parsed inventory of result %d: %w", resultID, err)
	}
	return doc, true, nil
}
