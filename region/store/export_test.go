package store

// NestedSameQuery reads the machines' ids and, for each row while the rows are open, reads
// them again with the same query text; it gives the rows read by each level.
func NestedSameQuery(tx *Tx) (outer, inner int, err error) {
	const q = `SELECT id FROM machines ORDER BY id`
	rows, err := tx.query(q)
	if err != nil {
		return 0, 0, err
	}
	defer rows.Close()
	for rows.Next() && outer < 100 { // a reset statement would start the rows again without end
		outer++
		r2, err := tx.query(q)
		if err != nil {
			return 0, 0, err
		}
		for r2.Next() {
			inner++
		}
		if err := r2.Close(); err != nil {
			return 0, 0, err
		}
	}
	return outer, inner, rows.Err()
}

// QueuedUpdates counts the Updates waiting for the committer to take them.
func QueuedUpdates(s *Store) int64 { return s.batch.queued.Load() }
