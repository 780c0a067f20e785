package store

import (
	"fmt"
	"time"
)

// Tag is a tag an administrator made; machines carry tags by name.
type Tag struct {
	Name    string
	Comment string
	Created time.Time
}

// CreateTag stores a tag; ErrConflict when the name is taken.
func (t *Tx) CreateTag(tag *Tag) error {
	tag.Created = time.Now()
	if _, err := t.exec(`INSERT INTO tags (name, comment, created) VALUES (?, ?, ?)`, tag.Name, tag.Comment, micros(tag.Created)); err != nil {
		return fmt.Errorf("create tag %s: %w", tag.Name, err)
	}
	return nil
}

// TagByName reads a tag.
func (t *Tx) TagByName(name string) (*Tag, error) {
	var tag Tag
	var created int64
	err := t.queryRow(`SELECT name, comment, created FROM tags WHERE name = ?`, name).Scan(&tag.Name, &tag.Comment, &created)
	if err != nil {
		return nil, notFound(err, "tag "+name)
	}
	tag.Created = fromMicros(created)
	return &tag, nil
}

// Tags lists the tags by name.
func (t *Tx) Tags() ([]Tag, error) {
	rows, err := t.query(`SELECT name, comment, created FROM tags ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list tags: %w", err)
	}
	defer rows.Close()
	var out []Tag
	for rows.Next() {
		var tag Tag
		var created int64
		if err := rows.Scan(&tag.Name, &tag.Comment, &created); err != nil {
			return nil, fmt.Errorf("list tags: %w", err)
		}
		tag.Created = fromMicros(created)
		out = append(out, tag)
	}
	return out, rows.Err()
}

// DeleteTag removes a tag and its hardware profile; the caller takes it off machines.
func (t *Tx) DeleteTag(name string) error {
	if _, err := t.exec(`DELETE FROM hardware_profiles WHERE tag = ?`, name); err != nil {
		return fmt.Errorf("delete tag %s: %w", name, err)
	}
	r, err := t.exec(`DELETE FROM tags WHERE name = ?`, name)
	if err != nil {
		return fmt.Errorf("delete tag %s: %w", name, err)
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return fmt.Errorf("tag %s: %w", name, ErrNotFound)
	}
	return nil
}
