package store

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"maasgo/wire"
)

// Script is a commissioning, testing or release script of the library. Its body lives in
// versions; CurrentVersion names the one in use.
type Script struct {
	ID                        int64
	Name                      string
	Title                     string
	Description               string
	Tags                      []string
	Type                      wire.ScriptType
	HardwareType              wire.HardwareType
	Parallel                  wire.Parallel
	Timeout                   time.Duration
	Destructive               bool
	MayReboot                 bool
	Recommission              bool
	ApplyConfiguredNetworking bool
	// Packages, Results and Parameters are JSON in the API's shapes.
	Packages       json.RawMessage
	ForHardware    []string
	Results        json.RawMessage
	Parameters     json.RawMessage
	Default        bool
	CurrentVersion int64
	Created        time.Time
	Updated        time.Time
}

// ScriptVersion is one revision of a script's body.
type ScriptVersion struct {
	ID       int64
	ScriptID int64
	Data     []byte
	Comment  *string
	Created  time.Time
}

var scriptColumns = []string{"name", "title", "description", "tags", "script_type", "hardware_type", "parallel",
	"timeout_us", "destructive", "may_reboot", "recommission", "apply_configured_networking", "packages",
	"for_hardware", "results", "parameters", "is_default", "current_version", "created", "updated"}

func rawOr(b json.RawMessage, def string) string {
	if len(b) == 0 {
		return def
	}
	return string(b)
}

func (s *Script) values() []any {
	tags, _ := json.Marshal(orEmptyList(s.Tags))
	fh, _ := json.Marshal(orEmptyList(s.ForHardware))
	var cv sql.NullInt64
	if s.CurrentVersion != 0 {
		cv = sql.NullInt64{Int64: s.CurrentVersion, Valid: true}
	}
	return []any{s.Name, s.Title, s.Description, string(tags), int(s.Type), int(s.HardwareType), int(s.Parallel),
		s.Timeout.Microseconds(), s.Destructive, s.MayReboot, s.Recommission, s.ApplyConfiguredNetworking,
		rawOr(s.Packages, "{}"), string(fh), rawOr(s.Results, "{}"), rawOr(s.Parameters, "{}"), s.Default, cv,
		micros(s.Created), micros(s.Updated)}
}

const scriptSelect = `SELECT id, name, title, description, tags, script_type, hardware_type, parallel, timeout_us,
	destructive, may_reboot, recommission, apply_configured_networking, packages, for_hardware, results, parameters,
	is_default, current_version, created, updated FROM scripts`

func scanScript(sc scanner) (*Script, error) {
	var s Script
	var tags, fh, pk, res, params string
	var typ, hw, par int
	var timeout, created, updated int64
	var cv sql.NullInt64
	err := sc.Scan(&s.ID, &s.Name, &s.Title, &s.Description, &tags, &typ, &hw, &par, &timeout, &s.Destructive,
		&s.MayReboot, &s.Recommission, &s.ApplyConfiguredNetworking, &pk, &fh, &res, &params, &s.Default, &cv, &created, &updated)
	if err != nil {
		return nil, err
	}
	s.Type, s.HardwareType, s.Parallel = wire.ScriptType(typ), wire.HardwareType(hw), wire.Parallel(par)
	s.Timeout = time.Duration(timeout) * time.Microsecond
	s.Packages, s.Results, s.Parameters = json.RawMessage(pk), json.RawMessage(res), json.RawMessage(params)
	s.CurrentVersion = cv.Int64
	s.Created, s.Updated = fromMicros(created), fromMicros(updated)
	if err := json.Unmarshal([]byte(tags), &s.Tags); err != nil {
		return nil, fmt.Errorf("decode tags of script %s: %w", s.Name, err)
	}
	if err := json.Unmarshal([]byte(fh), &s.ForHardware); err != nil {
		return nil, fmt.Errorf("decode for_hardware of script %s: %w", s.Name, err)
	}
	return &s, nil
}

// CreateScript stores s with its first version (body data, comment) and sets both ids.
func (t *Tx) CreateScript(s *Script, data []byte, comment *string) error {
	now := time.Now()
	s.Created, s.Updated = now, now
	s.CurrentVersion = 0
	id, err := t.insertRow("scripts", scriptColumns, s.values())
	if err != nil {
		return fmt.Errorf("create script %s: %w", s.Name, err)
	}
	s.ID = id
	v := &ScriptVersion{ScriptID: id, Data: data, Comment: comment}
	if err := t.AddScriptVersion(v); err != nil {
		return err
	}
	s.CurrentVersion = v.ID
	return t.UpdateScript(s)
}

// UpdateScript writes every field of s (not its versions).
func (t *Tx) UpdateScript(s *Script) error {
	s.Updated = time.Now()
	if err := t.updateRow("scripts", s.ID, scriptColumns, s.values()); err != nil {
		return fmt.Errorf("update script %s: %w", s.Name, err)
	}
	return nil
}

// AddScriptVersion stores a new body of a script and sets v.ID. The caller points the script's
// CurrentVersion at it.
func (t *Tx) AddScriptVersion(v *ScriptVersion) error {
	if v.Created.IsZero() {
		v.Created = time.Now()
	}
	var comment sql.NullString
	if v.Comment != nil {
		comment = sql.NullString{String: *v.Comment, Valid: true}
	}
	id, err := t.insert(`INSERT INTO script_versions (script_id, data, comment, created) VALUES (?, ?, ?, ?)`,
		v.ScriptID, v.Data, comment, micros(v.Created))
	if err != nil {
		return fmt.Errorf("add version of script %d: %w", v.ScriptID, err)
	}
	v.ID = id
	return nil
}

// ScriptVersions lists a script's versions, newest first. Bodies are loaded only with data.
func (t *Tx) ScriptVersions(scriptID int64, data bool) ([]ScriptVersion, error) {
	cols := "id, script_id, comment, created"
	if data {
		cols += ", data"
	}
	rows, err := t.query(`SELECT `+cols+` FROM script_versions WHERE script_id = ? ORDER BY id DESC`, scriptID)
	if err != nil {
		return nil, fmt.Errorf("list versions of script %d: %w", scriptID, err)
	}
	defer rows.Close()
	var out []ScriptVersion
	for rows.Next() {
		var v ScriptVersion
		var comment sql.NullString
		var created int64
		dst := []any{&v.ID, &v.ScriptID, &comment, &created}
		if data {
			dst = append(dst, &v.Data)
		}
		if err := rows.Scan(dst...); err != nil {
			return nil, fmt.Errorf("list versions of script %d: %w", scriptID, err)
		}
		if comment.Valid {
			c := comment.String
			v.Comment = &c
		}
		v.Created = fromMicros(created)
		out = append(out, v)
	}
	return out, rows.Err()
}

// ScriptVersion reads one version with its body.
func (t *Tx) ScriptVersion(id int64) (*ScriptVersion, error) {
	var v ScriptVersion
	var comment sql.NullString
	var created int64
	err := t.queryRow(`SELECT id, script_id, comment, created, data FROM script_versions WHERE id = ?`, id).
		Scan(&v.ID, &v.ScriptID, &comment, &created, &v.Data)
	if err != nil {
		return nil, notFound(err, fmt.Sprintf("script version %d", id))
	}
	if comment.Valid {
		c := comment.String
		v.Comment = &c
	}
	v.Created = fromMicros(created)
	return &v, nil
}

// DeleteScriptVersionsAfter removes a script's versions newer than id (a revert drops them).
func (t *Tx) DeleteScriptVersionsAfter(scriptID, id int64) error {
	if _, err := t.exec(`DELETE FROM script_versions WHERE script_id = ? AND id > ?`, scriptID, id); err != nil {
		return fmt.Errorf("drop versions of script %d: %w", scriptID, err)
	}
	return nil
}

// ScriptByName finds a script by name.
func (t *Tx) ScriptByName(name string) (*Script, error) {
	s, err := scanScript(t.queryRow(scriptSelect+` WHERE name = ?`, name))
	return s, notFound(err, fmt.Sprintf("script %q", name))
}

// ScriptByID finds a script by id.
func (t *Tx) ScriptByID(id int64) (*Script, error) {
	s, err := scanScript(t.queryRow(scriptSelect+` WHERE id = ?`, id))
	return s, notFound(err, fmt.Sprintf("script %d", id))
}

// Scripts lists the library ordered by name, optionally of one type only.
func (t *Tx) Scripts(typ *wire.ScriptType) ([]Script, error) {
	q, args := scriptSelect, []any{}
	if typ != nil {
		q += ` WHERE script_type = ?`
		args = append(args, int(*typ))
	}
	return queryAll(t, "scripts", scanScript, q+` ORDER BY name`, args...)
}

// DeleteScript removes a script and its versions; results keep its name.
func (t *Tx) DeleteScript(id int64) error {
	if _, err := t.exec(`DELETE FROM scripts WHERE id = ?`, id); err != nil {
		return fmt.Errorf("delete script %d: %w", id, err)
	}
	return nil
}
