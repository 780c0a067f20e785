// Package store keeps the region's state in a SQL database: SQLite (embedded, the default) or
// PostgreSQL (shared by several region processes). Both engines run the same SQL through one
// Store; they differ only in their driver, DDL types and error codes (engine.go).
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"
)

// Sentinel errors callers test with errors.Is.
var (
	// ErrNotFound is returned when a row asked for does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict is returned when a write breaks a uniqueness rule.
	ErrConflict = errors.New("already exists")
)

// Store is an open database with its schema migrated.
type Store struct {
	eng engine
	rdb *sql.DB // reads
	wdb *sql.DB // writes: one connection on SQLite, the same pool as rdb on PostgreSQL
	// batch groups concurrent Updates into one transaction (batch.go).
	batch *committer
	// writing lets one write transaction of this process run at a time: a batch's or an
	// Update's alone. On SQLite the single write connection does so anyway; on PostgreSQL,
	// SERIALIZABLE transactions of one process that ran side by side would mostly abort one
	// another (a fleet's signals read and write the same tables), so only other processes'
	// transactions conflict with ours.
	writing chan struct{}
	// updates counts the Updates that committed, commits the write transactions committed.
	updates, commits atomic.Int64
	// observe, when set, is told how long transactions took (counts.go).
	observe TxObserver
}

// WriteStats are the store's write counters since it was opened.
type WriteStats struct {
	Updates int64 // Updates that committed
	Commits int64 // write transactions committed: fewer than Updates when they were grouped
}

// WriteStats reads the write counters.
func (s *Store) WriteStats() WriteStats {
	return WriteStats{Updates: s.updates.Load(), Commits: s.commits.Load()}
}

// Open opens the database named by dsn, creating and migrating it as needed.
// An empty dsn, "sqlite://PATH" or "file:PATH" selects SQLite (by default
// stateDir/maas.db); "postgres://…" or "postgresql://…" selects PostgreSQL.
func Open(ctx context.Context, dsn, stateDir string) (*Store, error) {
	var eng engine
	switch {
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		eng = &postgresEngine{dsn: dsn}
	case dsn == "":
		eng = &sqliteEngine{path: filepath.Join(stateDir, "maas.db")}
	case strings.HasPrefix(dsn, "sqlite://"):
		eng = &sqliteEngine{path: strings.TrimPrefix(dsn, "sqlite://")}
	case strings.HasPrefix(dsn, "file:"):
		eng = &sqliteEngine{path: strings.TrimPrefix(dsn, "file:")}
	default:
		return nil, fmt.Errorf("open database: unsupported url %q (want postgres://… or sqlite://PATH)", redact(dsn))
	}
	rdb, wdb, err := eng.open()
	if err != nil {
		return nil, fmt.Errorf("open %s database: %w", eng.name(), err)
	}
	s := &Store{eng: eng, rdb: rdb, wdb: wdb, writing: make(chan struct{}, 1)}
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	s.batch = newCommitter(s)
	return s, nil
}

// Engine names the database engine: "sqlite" or "postgres".
func (s *Store) Engine() string { return s.eng.name() }

// Close closes the database.
func (s *Store) Close() error {
	if s.batch != nil {
		s.batch.stop()
	}
	err := s.rdb.Close()
	if s.wdb != s.rdb {
		if werr := s.wdb.Close(); err == nil {
			err = werr
		}
	}
	return err
}

// View runs fn in a read-only transaction.
func (s *Store) View(ctx context.Context, fn func(*Tx) error) error {
	defer s.observed("read", time.Now())
	tx, err := s.rdb.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("begin read transaction: %w", err)
	}
	defer tx.Rollback()
	return fn(&Tx{tx: tx, eng: s.eng})
}

// Update runs fn in a read-write transaction and commits it when fn returns nil. Writers are
// serialized: within a process by Store.writing, across the
// processes sharing a PostgreSQL database by SERIALIZABLE isolation, retrying fn when the
// database reports a serialization failure. Updates that wait together share one
// transaction and one commit, each in its own savepoint (batch.go); each returns only once
// its changes are committed. fn may therefore run more than once and must not have effects
// outside the transaction.
func (s *Store) Update(ctx context.Context, fn func(*Tx) error) error {
	defer s.observed("write", time.Now())
	if s.batch != nil {
		if err := s.batch.submit(ctx, fn); err != errAlone {
			if p, isPanic := err.(panicked); isPanic {
				panic(p.v)
			}
			return err
		}
	}
	for attempt := 0; ; attempt++ {
		select {
		case s.writing <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
		err := s.update(ctx, fn)
		<-s.writing
		if err == nil || !s.eng.retryable(err) || attempt >= 20 {
			return err
		}
		// Another process's transaction won: back off a random while, longer each time.
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(1+rand.IntN(5<<min(attempt, 6))) * time.Millisecond):
		}
	}
}

func (s *Store) update(ctx context.Context, fn func(*Tx) error) error {
	defer s.observed("commit", time.Now())
	tx, err := s.wdb.BeginTx(ctx, s.eng.writeTxOptions())
	if err != nil {
		return fmt.Errorf("begin write transaction: %w", err)
	}
	defer tx.Rollback()
	if err := fn(&Tx{tx: tx, eng: s.eng}); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", s.eng.mapError(err))
	}
	s.updates.Add(1)
	s.commits.Add(1)
	return nil
}

// Tx is one transaction. Its methods are the store's data operations.
type Tx struct {
	tx  *sql.Tx
	eng engine
}

func (t *Tx) exec(q string, args ...any) (sql.Result, error) {
	r, err := t.tx.Exec(t.eng.rebind(q), args...)
	return r, t.eng.mapError(err)
}

func (t *Tx) query(q string, args ...any) (*sql.Rows, error) {
	r, err := t.tx.Query(t.eng.rebind(q), args...)
	return r, t.eng.mapError(err)
}

func (t *Tx) queryRow(q string, args ...any) *sql.Row {
	return t.tx.QueryRow(t.eng.rebind(q), args...)
}

// insert runs an INSERT … RETURNING id and gives the new id.
func (t *Tx) insert(q string, args ...any) (int64, error) {
	var id int64
	err := t.tx.QueryRow(t.eng.rebind(q+" RETURNING id"), args...).Scan(&id)
	return id, t.eng.mapError(err)
}

// insertRow inserts one row of table with the named columns and gives its id.
func (t *Tx) insertRow(table string, cols []string, vals []any) (int64, error) {
	return t.insert(`INSERT INTO `+table+` (`+strings.Join(cols, ", ")+`) VALUES (`+placeholders(len(cols))+`)`, vals...)
}

// updateRow sets the named columns of the row of table with id; ErrNotFound when there is
// none.
func (t *Tx) updateRow(table string, id int64, cols []string, vals []any) error {
	set := make([]string, len(cols))
	for i, c := range cols {
		set[i] = c + " = ?"
	}
	r, err := t.exec(`UPDATE `+table+` SET `+strings.Join(set, ", ")+` WHERE id = ?`, append(vals, id)...)
	if err != nil {
		return err
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

func notFound(err error, what string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s: %w", what, ErrNotFound)
	}
	return err
}

// micros and fromMicros store times as microseconds since the epoch, the same on both engines.
func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(v int64) time.Time { return time.UnixMicro(v).UTC() }

func nullMicros(t *time.Time) sql.NullInt64 {
	if t == nil || t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMicro(), Valid: true}
}

func fromNullMicros(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromMicros(v.Int64)
	return &t
}

func nullInt(p *int64) sql.NullInt64 {
	if p == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: *p, Valid: true}
}

func fromNullInt(v sql.NullInt64) *int64 {
	if !v.Valid {
		return nil
	}
	x := v.Int64
	return &x
}

func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

// scanner is a row to scan: *sql.Row or *sql.Rows.
type scanner interface{ Scan(...any) error }

// queryAll runs a query and scans every row with scan; what names the rows in errors.
func queryAll[T any](t *Tx, what string, scan func(scanner) (*T, error), q string, args ...any) ([]T, error) {
	rows, err := t.query(q, args...)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", what, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", what, err)
		}
		out = append(out, *v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list %s: %w", what, err)
	}
	return out, nil
}

// inChunks runs query once per chunk of ids (at most 500 placeholders each, well inside
// both engines' limits), with "IN (…)" holding the chunk's placeholders, and hands each row
// to scan.
func (t *Tx) inChunks(what, query string, ids []int64, scan func(*sql.Rows) error) error {
	for len(ids) > 0 {
		chunk := ids[:min(len(ids), 500)]
		ids = ids[len(chunk):]
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		rows, err := t.query(strings.Replace(query, "IN (…)", "IN ("+placeholders(len(chunk))+")", 1), args...)
		if err != nil {
			return fmt.Errorf("list %s: %w", what, err)
		}
		for rows.Next() {
			if err := scan(rows); err != nil {
				rows.Close()
				return fmt.Errorf("list %s: %w", what, err)
			}
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return fmt.Errorf("list %s: %w", what, err)
		}
	}
	return nil
}

// placeholders returns "?, ?, ?" for n arguments.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

func redact(dsn string) string {
	if i := strings.Index(dsn, "@"); i > 0 {
		if j := strings.Index(dsn, "://"); j > 0 && j < i {
			return dsn[:j+3] + "…" + dsn[i:]
		}
	}
	return dsn
}
