package store

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"maasgo/wire"
)

// ScriptSet is one commissioning, testing, installation or release run of a machine.
type ScriptSet struct {
	ID       int64
	NodeID   int64
	Type     wire.ResultType
	LastPing *time.Time
	Tags     []string
	Created  time.Time
}

// ScriptResult is one script's run inside a set: its status, exit status, output and the
// parameters it ran with.
type ScriptResult struct {
	ID              int64
	SetID           int64
	ScriptID        *int64
	ScriptVersionID *int64
	ScriptName      string
	Status          wire.ScriptStatus
	ExitStatus      *int
	Parameters      json.RawMessage // resolved parameters, as index.json carries them
	Output          []byte          // combined
	Stdout          []byte
	Stderr          []byte
	Result          []byte // the result YAML
	Started         *time.Time
	Ended           *time.Time
	Suppressed      bool
	InterfaceID     *int64
	BlockDeviceID   *int64
	// Link is the link state of the result's interface as the result left it, when the
	// result reported one (a network test's link_connected, link_speed, interface_speed).
	Link    *LinkReport
	Created time.Time
	Updated time.Time
	// HasOutput says whether the output columns were loaded.
	HasOutput bool
}

// LinkReport is an interface's link state as a network test found it.
type LinkReport struct {
	Connected      bool
	Speed          int64 // Mbit/s the link runs at; 0 when not connected or unknown
	InterfaceSpeed int64 // Mbit/s the interface can go at; 0 when unknown
}

// CreateScriptSet stores a set and sets its ID.
func (t *Tx) CreateScriptSet(s *ScriptSet) error {
	if s.Created.IsZero() {
		s.Created = time.Now()
	}
	tags, _ := json.Marshal(orEmptyList(s.Tags))
	id, err := t.insert(`INSERT INTO script_sets (node_id, result_type, last_ping, tags, created) VALUES (?, ?, ?, ?, ?)`,
		s.NodeID, int(s.Type), nullMicros(s.LastPing), string(tags), micros(s.Created))
	if err != nil {
		return fmt.Errorf("create script set: %w", err)
	}
	s.ID = id
	return nil
}

// TouchScriptSet records a heartbeat of the set's machine.
func (t *Tx) TouchScriptSet(id int64, at time.Time) error {
	if _, err := t.exec(`UPDATE script_sets SET last_ping = ? WHERE id = ?`, micros(at), id); err != nil {
		return fmt.Errorf("touch script set %d: %w", id, err)
	}
	return nil
}

const setSelect = `SELECT id, node_id, result_type, last_ping, tags, created FROM script_sets`

func scanSet(sc scanner) (*ScriptSet, error) {
	var s ScriptSet
	var typ int
	var ping sql.NullInt64
	var tags string
	var created int64
	if err := sc.Scan(&s.ID, &s.NodeID, &typ, &ping, &tags, &created); err != nil {
		return nil, err
	}
	s.Type, s.LastPing, s.Created = wire.ResultType(typ), fromNullMicros(ping), fromMicros(created)
	if err := json.Unmarshal([]byte(tags), &s.Tags); err != nil {
		return nil, fmt.Errorf("decode tags of script set %d: %w", s.ID, err)
	}
	return &s, nil
}

// ScriptSetByID reads one set.
func (t *Tx) ScriptSetByID(id int64) (*ScriptSet, error) {
	s, err := scanSet(t.queryRow(setSelect+` WHERE id = ?`, id))
	return s, notFound(err, fmt.Sprintf("script result %d", id))
}

// ScriptSets lists a machine's sets, newest first, optionally of one type.
func (t *Tx) ScriptSets(nodeID int64, typ *wire.ResultType) ([]ScriptSet, error) {
	q, args := setSelect+` WHERE node_id = ?`, []any{nodeID}
	if typ != nil {
		q += ` AND result_type = ?`
		args = append(args, int(*typ))
	}
	return queryAll(t, "script sets", scanSet, q+` ORDER BY id DESC`, args...)
}

// DeleteScriptSet removes a set with its results.
func (t *Tx) DeleteScriptSet(id int64) error {
	if _, err := t.exec(`DELETE FROM script_sets WHERE id = ?`, id); err != nil {
		return fmt.Errorf("delete script set %d: %w", id, err)
	}
	return nil
}

var resultColumns = []string{"script_set_id", "script_id", "script_version_id", "script_name", "status", "exit_status",
	"parameters", "started", "ended", "suppressed", "interface_id", "block_device_id", "link_connected", "link_speed",
	"interface_speed", "created", "updated"}

func (r *ScriptResult) values() []any {
	var exit sql.NullInt64
	if r.ExitStatus != nil {
		exit = sql.NullInt64{Int64: int64(*r.ExitStatus), Valid: true}
	}
	var connected sql.NullBool
	var speed, ifSpeed sql.NullInt64
	if l := r.Link; l != nil {
		connected = sql.NullBool{Bool: l.Connected, Valid: true}
		speed, ifSpeed = sql.NullInt64{Int64: l.Speed, Valid: true}, sql.NullInt64{Int64: l.InterfaceSpeed, Valid: true}
	}
	return []any{r.SetID, nullInt(r.ScriptID), nullInt(r.ScriptVersionID), r.ScriptName, int(r.Status), exit,
		rawOr(r.Parameters, "{}"), nullMicros(r.Started), nullMicros(r.Ended), r.Suppressed, nullInt(r.InterfaceID),
		nullInt(r.BlockDeviceID), connected, speed, ifSpeed, micros(r.Created), micros(r.Updated)}
}

// CreateScriptResult stores r (with its output, if any) and sets its ID.
func (t *Tx) CreateScriptResult(r *ScriptResult) error {
	now := time.Now()
	r.Created, r.Updated = now, now
	id, err := t.insertRow("script_results", resultColumns, r.values())
	if err != nil {
		return fmt.Errorf("create script result %s: %w", r.ScriptName, err)
	}
	r.ID = id
	if r.Output != nil || r.Stdout != nil || r.Stderr != nil || r.Result != nil {
		if err := t.putOutputs(r); err != nil {
			return fmt.Errorf("create script result %s: %w", r.ScriptName, err)
		}
	}
	return nil
}

// UpdateScriptResult writes r's fields; its output too when r.HasOutput.
func (t *Tx) UpdateScriptResult(r *ScriptResult) error {
	r.Updated = time.Now()
	if err := t.updateRow("script_results", r.ID, resultColumns, r.values()); err != nil {
		return fmt.Errorf("update script result %d: %w", r.ID, err)
	}
	if r.HasOutput {
		if err := t.putOutputs(r); err != nil {
			return fmt.Errorf("update script result %d: %w", r.ID, err)
		}
	}
	return nil
}

// putOutputs writes r's outputs, which live in a table of their own so that listing results
// does not read through them.
func (t *Tx) putOutputs(r *ScriptResult) error {
	_, err := t.exec(`INSERT INTO script_result_outputs (result_id, output, stdout, stderr, result) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (result_id) DO UPDATE SET output = excluded.output, stdout = excluded.stdout,
		stderr = excluded.stderr, result = excluded.result`, r.ID, r.Output, r.Stdout, r.Stderr, r.Result)
	if err != nil {
		return fmt.Errorf("store output: %w", err)
	}
	return nil
}

func resultSelect(output bool) string {
	if !output {
		return `SELECT id, ` + strings.Join(resultColumns, ", ") + ` FROM script_results`
	}
	return `SELECT id, ` + strings.Join(resultColumns, ", ") + `, o.output, o.stdout, o.stderr, o.result
		FROM script_results LEFT JOIN script_result_outputs o ON o.result_id = script_results.id`
}

func scanResult(sc scanner, output bool) (*ScriptResult, error) {
	var r ScriptResult
	var sid, svid, exit, started, ended, iface, bdev, speed, ifSpeed sql.NullInt64
	var connected sql.NullBool
	var status int
	var params string
	var created, updated int64
	dst := []any{&r.ID, &r.SetID, &sid, &svid, &r.ScriptName, &status, &exit, &params, &started, &ended,
		&r.Suppressed, &iface, &bdev, &connected, &speed, &ifSpeed, &created, &updated}
	if output {
		dst = append(dst, &r.Output, &r.Stdout, &r.Stderr, &r.Result)
	}
	if err := sc.Scan(dst...); err != nil {
		return nil, err
	}
	r.ScriptID, r.ScriptVersionID = fromNullInt(sid), fromNullInt(svid)
	r.Status, r.Parameters = wire.ScriptStatus(status), json.RawMessage(params)
	if exit.Valid {
		e := int(exit.Int64)
		r.ExitStatus = &e
	}
	r.Started, r.Ended = fromNullMicros(started), fromNullMicros(ended)
	r.InterfaceID, r.BlockDeviceID = fromNullInt(iface), fromNullInt(bdev)
	if connected.Valid {
		r.Link = &LinkReport{Connected: connected.Bool, Speed: speed.Int64, InterfaceSpeed: ifSpeed.Int64}
	}
	r.Created, r.Updated = fromMicros(created), fromMicros(updated)
	r.HasOutput = output
	return &r, nil
}

// ScriptResultByID reads one result, with its output when output is true.
func (t *Tx) ScriptResultByID(id int64, output bool) (*ScriptResult, error) {
	r, err := scanResult(t.queryRow(resultSelect(output)+` WHERE id = ?`, id), output)
	return r, notFound(err, fmt.Sprintf("script result %d", id))
}

// PreviousPassed is the newest passed result of the named script, with its output, in the
// machine's 20 newest sets of the same type older than beforeSet; ErrNotFound when there is
// none.
func (t *Tx) PreviousPassed(nodeID int64, typ wire.ResultType, script string, beforeSet int64) (*ScriptResult, error) {
	rows, err := t.query(`SELECT id FROM script_sets WHERE node_id = ? AND result_type = ? AND id < ? ORDER BY id DESC LIMIT 20`,
		nodeID, int(typ), beforeSet)
	if err != nil {
		return nil, fmt.Errorf("find an earlier passed %s: %w", script, err)
	}
	var sets []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, fmt.Errorf("find an earlier passed %s: %w", script, err)
		}
		sets = append(sets, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find an earlier passed %s: %w", script, err)
	}
	for _, set := range sets {
		r, err := scanResult(t.queryRow(resultSelect(true)+` WHERE script_set_id = ? AND script_name = ? AND status = ?
			ORDER BY script_results.id DESC LIMIT 1`, set, script, int(wire.ScriptPassed)), true)
		if err == nil || !errors.Is(err, sql.ErrNoRows) {
			return r, err
		}
	}
	return nil, fmt.Errorf("an earlier passed %s: %w", script, ErrNotFound)
}

// ScriptResults lists the results of the given sets, ordered by set then id; with output,
// their output too.
func (t *Tx) ScriptResults(setIDs []int64, output bool) ([]ScriptResult, error) {
	var out []ScriptResult
	err := t.inChunks("script results", resultSelect(output)+` WHERE script_set_id IN (…) ORDER BY script_set_id, id`, setIDs, func(rows *sql.Rows) error {
		r, err := scanResult(rows, output)
		if err == nil {
			out = append(out, *r)
		}
		return err
	})
	return out, err
}

// ResultTally counts the results of one set that share a status, the hardware type of their
// script (HardwareNode when the script is gone), suppression and whether they test an
// interface: what summaries of many machines need, without reading each result.
type ResultTally struct {
	SetID        int64
	HardwareType wire.HardwareType
	OnInterface  bool
	Status       wire.ScriptStatus
	Suppressed   bool
	Count        int
}

// ResultTallies tallies the results of the given sets, ordered by set. The results are read
// without a join or grouping, which SQLite does slower than a map here.
func (t *Tx) ResultTallies(setIDs []int64) ([]ResultTally, error) {
	type scriptHW struct {
		id int64
		hw wire.HardwareType
	}
	list, err := queryAll(t, "script hardware types", func(sc scanner) (*scriptHW, error) {
		var s scriptHW
		err := sc.Scan(&s.id, &s.hw)
		return &s, err
	}, `SELECT id, hardware_type FROM scripts`)
	if err != nil {
		return nil, err
	}
	hw := make(map[int64]wire.HardwareType, len(list))
	for _, s := range list {
		hw[s.id] = s.hw
	}
	var out []ResultTally
	index := map[ResultTally]int{} // a tally with Count 0 → its place in out
	err = t.inChunks("result tallies", `SELECT script_set_id, script_id, interface_id IS NOT NULL, status, suppressed
		FROM script_results WHERE script_set_id IN (…) ORDER BY script_set_id`, setIDs, func(rows *sql.Rows) error {
		var c ResultTally
		var sid sql.NullInt64
		var status int
		if err := rows.Scan(&c.SetID, &sid, &c.OnInterface, &status, &c.Suppressed); err != nil {
			return err
		}
		c.Status = wire.ScriptStatus(status)
		if sid.Valid {
			c.HardwareType = hw[sid.Int64] // HardwareNode when the script is gone
		}
		i, ok := index[c]
		if !ok {
			i = len(out)
			index[c] = i
			out = append(out, c)
		}
		out[i].Count++
		return nil
	})
	return out, err
}

// RunningResults lists every result in a running status (RUNNING, INSTALLING,
// APPLYING_NETCONF) across machines, without output.
func (t *Tx) RunningResults() ([]ScriptResult, error) {
	scan := func(sc scanner) (*ScriptResult, error) { return scanResult(sc, false) }
	return queryAll(t, "running results", scan, resultSelect(false)+` WHERE status IN (?, ?, ?) ORDER BY id`,
		int(wire.ScriptRunning), int(wire.ScriptInstalling), int(wire.ScriptApplyingNetconf))
}

// DeleteScriptResult removes one result.
func (t *Tx) DeleteScriptResult(id int64) error {
	if _, err := t.exec(`DELETE FROM script_results WHERE id = ?`, id); err != nil {
		return fmt.Errorf("delete script result %d: %w", id, err)
	}
	return nil
}

// RecordSignalKey remembers an idempotency key of a machine's signal. It reports false when
// the key was recorded before (the signal is a retry of one already stored).
func (t *Tx) RecordSignalKey(nodeID int64, key string, at time.Time) (bool, error) {
	r, err := t.exec(`INSERT INTO signal_keys (node_id, key, created) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`, nodeID, key, micros(at))
	if err != nil {
		return false, fmt.Errorf("record signal key: %w", err)
	}
	n, err := r.RowsAffected()
	return n == 1, err
}

// PruneSignalKeys forgets idempotency keys recorded before cutoff.
func (t *Tx) PruneSignalKeys(cutoff time.Time) error {
	if _, err := t.exec(`DELETE FROM signal_keys WHERE created < ?`, micros(cutoff)); err != nil {
		return fmt.Errorf("prune signal keys: %w", err)
	}
	return nil
}

// BlockDevice is a physical disk of a machine.
type BlockDevice struct {
	ID              int64
	NodeID          int64
	Name            string
	IDPath          string
	Model           string
	Serial          string
	Size            int64
	BlockSize       int
	FirmwareVersion string
	NUMANode        int
	Tags            []string
	Created         time.Time
	Updated         time.Time
}

var blockDeviceColumns = []string{"node_id", "name", "id_path", "model", "serial", "size", "block_size",
	"firmware_version", "numa_node", "tags", "created", "updated"}

func (b *BlockDevice) values() []any {
	tags, _ := json.Marshal(orEmptyList(b.Tags))
	return []any{b.NodeID, b.Name, b.IDPath, b.Model, b.Serial, b.Size, b.BlockSize, b.FirmwareVersion, b.NUMANode,
		string(tags), micros(b.Created), micros(b.Updated)}
}

// CreateBlockDevice stores b and sets its ID.
func (t *Tx) CreateBlockDevice(b *BlockDevice) error {
	now := time.Now()
	b.Created, b.Updated = now, now
	id, err := t.insertRow("block_devices", blockDeviceColumns, b.values())
	if err != nil {
		return fmt.Errorf("create block device %s: %w", b.Name, err)
	}
	b.ID = id
	return nil
}

// UpdateBlockDevice writes every field of b.
func (t *Tx) UpdateBlockDevice(b *BlockDevice) error {
	b.Updated = time.Now()
	if err := t.updateRow("block_devices", b.ID, blockDeviceColumns, b.values()); err != nil {
		return fmt.Errorf("update block device %d: %w", b.ID, err)
	}
	return nil
}

// DeleteBlockDevice removes a disk.
func (t *Tx) DeleteBlockDevice(id int64) error {
	if _, err := t.exec(`DELETE FROM block_devices WHERE id = ?`, id); err != nil {
		return fmt.Errorf("delete block device %d: %w", id, err)
	}
	return nil
}

// BlockDevices lists the disks of the given machines, keyed by machine id, ordered by id.
func (t *Tx) BlockDevices(nodeIDs ...int64) (map[int64][]BlockDevice, error) {
	out := map[int64][]BlockDevice{}
	err := t.inChunks("block devices", `SELECT id, `+strings.Join(blockDeviceColumns, ", ")+` FROM block_devices WHERE node_id IN (…) ORDER BY node_id, id`, nodeIDs, func(rows *sql.Rows) error {
		var b BlockDevice
		var tags string
		var created, updated int64
		if err := rows.Scan(&b.ID, &b.NodeID, &b.Name, &b.IDPath, &b.Model, &b.Serial, &b.Size, &b.BlockSize,
			&b.FirmwareVersion, &b.NUMANode, &tags, &created, &updated); err != nil {
			return err
		}
		b.Created, b.Updated = fromMicros(created), fromMicros(updated)
		if err := json.Unmarshal([]byte(tags), &b.Tags); err != nil {
			return fmt.Errorf("decode tags of block device %d: %w", b.ID, err)
		}
		out[b.NodeID] = append(out[b.NodeID], b)
		return nil
	})
	return out, err
}
