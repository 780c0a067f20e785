package store

import (
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"time"
)

// HardwareProfile is an expected hardware profile (YAML, inventory.Profile) of one machine
// (NodeID) or of the machines with a tag (Tag).
type HardwareProfile struct {
	NodeID  *int64
	Tag     string
	Profile string
	Updated time.Time
}

// SetHardwareProfile stores the profile of a machine (nodeID) or a tag; an empty profile
// removes it.
func (t *Tx) SetHardwareProfile(nodeID *int64, tag, profile string) error {
	col, key := "tag", any(tag)
	if nodeID != nil {
		col, key = "node_id", *nodeID
	}
	if _, err := t.exec(`DELETE FROM hardware_profiles WHERE `+col+` = ?`, key); err != nil {
		return fmt.Errorf("set hardware profile: %w", err)
	}
	if profile == "" {
		return nil
	}
	var node sql.NullInt64
	var tg sql.NullString
	if nodeID != nil {
		node = sql.NullInt64{Int64: *nodeID, Valid: true}
	} else {
		tg = sql.NullString{String: tag, Valid: true}
	}
	if _, err := t.exec(`INSERT INTO hardware_profiles (node_id, tag, profile, updated) VALUES (?, ?, ?, ?)`,
		node, tg, profile, micros(time.Now())); err != nil {
		return fmt.Errorf("set hardware profile: %w", err)
	}
	return nil
}

// HardwareProfileOf is the profile that applies to m: its own, else that of the first of
// its tags (in name order) that has one; nil when none does.
func (t *Tx) HardwareProfileOf(m *Machine) (*HardwareProfile, error) {
	p, err := scanProfile(t.queryRow(`SELECT node_id, tag, profile, updated FROM hardware_profiles WHERE node_id = ?`, m.ID))
	if err == nil || !errors.Is(err, sql.ErrNoRows) {
		return p, err
	}
	tags := append([]string(nil), m.Tags...)
	sort.Strings(tags)
	for _, tag := range tags {
		p, err := scanProfile(t.queryRow(`SELECT node_id, tag, profile, updated FROM hardware_profiles WHERE tag = ?`, tag))
		if err == nil || !errors.Is(err, sql.ErrNoRows) {
			return p, err
		}
	}
	return nil, nil
}

// TagHardwareProfiles lists the tags' profiles, by tag.
func (t *Tx) TagHardwareProfiles() ([]HardwareProfile, error) {
	rows, err := t.query(`SELECT node_id, tag, profile, updated FROM hardware_profiles WHERE tag IS NOT NULL ORDER BY tag`)
	if err != nil {
		return nil, fmt.Errorf("list hardware profiles: %w", err)
	}
	defer rows.Close()
	var out []HardwareProfile
	for rows.Next() {
		p, err := scanProfile(rows)
		if err != nil {
			return nil, fmt.Errorf("list hardware profiles: %w", err)
		}
		out = append(out, *p)
	}
	return out, rows.Err()
}

func scanProfile(sc scanner) (*HardwareProfile, error) {
	var p HardwareProfile
	var node sql.NullInt64
	var tag sql.NullString
	var updated int64
	if err := sc.Scan(&node, &tag, &p.Profile, &updated); err != nil {
		return nil, err
	}
	p.NodeID, p.Tag, p.Updated = fromNullInt(node), tag.String, fromMicros(updated)
	return &p, nil
}
