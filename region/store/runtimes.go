package store

import (
	"database/sql"
	"errors"
	"fmt"
	"time"

	"maasgo/wire"
)

// LastRuntimes gives, for each named script, how long its newest finished run on the machine
// took, among its 20 newest sets older than beforeSet; scripts that did not finish there are
// absent.
func (t *Tx) LastRuntimes(nodeID int64, names []string, beforeSet int64) (map[string]time.Duration, error) {
	out := map[string]time.Duration{}
	if len(names) == 0 {
		return out, nil
	}
	rows, err := t.query(`SELECT id FROM script_sets WHERE node_id = ? AND id < ? ORDER BY id DESC LIMIT 20`, nodeID, beforeSet)
	if err != nil {
		return nil, fmt.Errorf("read the last runtimes of machine %d: %w", nodeID, err)
	}
	var sets []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read the last runtimes of machine %d: %w", nodeID, err)
		}
		sets = append(sets, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(sets) == 0 {
		return out, err
	}
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	rs, err := t.ScriptResults(sets, false)
	if err != nil {
		return nil, err
	}
	// Newest set first: the first runtime seen of a name is its last.
	for i := len(rs) - 1; i >= 0; i-- {
		r := rs[i]
		if !want[r.ScriptName] || r.Started == nil || r.Ended == nil {
			continue
		}
		if r.Status != wire.ScriptPassed && r.Status != wire.ScriptFailed && r.Status != wire.ScriptDegraded {
			continue
		}
		if _, ok := out[r.ScriptName]; !ok {
			out[r.ScriptName] = r.Ended.Sub(*r.Started)
		}
	}
	return out, nil
}

// PeerRuntimes gives recent runtimes (up to 20 each) of the named scripts on other machines
// with m's architecture, CPU count and memory, among the newest 200 passed runs of each.
func (t *Tx) PeerRuntimes(m *Machine, names []string) (map[string][]time.Duration, error) {
	out := map[string][]time.Duration{}
	for _, name := range names {
		rows, err := t.query(`SELECT r.started, r.ended, n.id, n.architecture, n.cpu_count, n.memory
			FROM (SELECT script_set_id, started, ended, id FROM script_results
				WHERE script_name = ? AND status = ? AND started IS NOT NULL AND ended IS NOT NULL
				ORDER BY id DESC LIMIT 200) r
			JOIN script_sets s ON s.id = r.script_set_id JOIN machines n ON n.id = s.node_id
			ORDER BY r.id DESC`, name, int(wire.ScriptPassed))
		if err != nil {
			return nil, fmt.Errorf("read the runtimes of machines like %s: %w", m.SystemID, err)
		}
		for rows.Next() {
			var start, end, node, mem int64
			var arch string
			var cpus int
			if err := rows.Scan(&start, &end, &node, &arch, &cpus, &mem); err != nil {
				rows.Close()
				return nil, fmt.Errorf("read the runtimes of machines like %s: %w", m.SystemID, err)
			}
			if node != m.ID && arch == m.Architecture && cpus == m.CPUCount && mem == m.Memory && len(out[name]) < 20 {
				out[name] = append(out[name], fromMicros(end).Sub(fromMicros(start)))
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("read the runtimes of machines like %s: %w", m.SystemID, err)
		}
	}
	return out, nil
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
