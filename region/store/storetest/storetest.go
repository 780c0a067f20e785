// Package storetest gives tests a fresh database on every engine the machine offers: SQLite in
// a temporary directory always, and PostgreSQL when MAAS_TEST_POSTGRES_URL names a server.
// Each PostgreSQL database is a new schema, dropped when the test ends.
package storetest

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver
)

// EnvPostgres names the server the PostgreSQL half of the suites runs against.
const EnvPostgres = "MAAS_TEST_POSTGRES_URL"

// EnvRequirePostgres, when set, turns a missing server into a failure instead of a skip (CI).
const EnvRequirePostgres = "MAAS_TEST_REQUIRE_POSTGRES"

// Engine is a database a test can open.
type Engine struct {
	Name string // "sqlite" or "postgres"
	// DSN is what store.Open (and maas-region --database) takes; "" means the SQLite file
	// under StateDir.
	DSN      string
	StateDir string
}

// Engines returns a fresh database of each engine. Call it once per test and run the test body
// for each element with t.Run(e.Name, …).
func Engines(t testing.TB) []Engine {
	t.Helper()
	out := []Engine{SQLite(t)}
	if e, ok := postgres(t); ok {
		out = append(out, e)
	}
	return out
}

// SQLite returns a fresh SQLite database under a temporary state directory.
func SQLite(t testing.TB) Engine {
	dir := t.TempDir()
	return Engine{Name: "sqlite", DSN: "sqlite://" + filepath.Join(dir, "maas.db"), StateDir: dir}
}

// Postgres returns a fresh PostgreSQL database, or skips the test (fails it when
// MAAS_TEST_REQUIRE_POSTGRES is set) when no server is configured.
func Postgres(t testing.TB) Engine {
	t.Helper()
	e, ok := postgres(t)
	if !ok {
		t.Skipf("PostgreSQL half skipped: set %s=postgres://user:pass@host/db to run it", EnvPostgres)
	}
	return e
}

var schemaSeq atomic.Int64

func postgres(t testing.TB) (Engine, bool) {
	t.Helper()
	base := os.Getenv(EnvPostgres)
	if base == "" {
		if os.Getenv(EnvRequirePostgres) != "" {
			t.Fatalf("%s is set but %s is empty: the PostgreSQL half cannot run", EnvRequirePostgres, EnvPostgres)
		}
		t.Logf("PostgreSQL half skipped: set %s=postgres://user:pass@host/db to run it", EnvPostgres)
		return Engine{}, false
	}
	schema := fmt.Sprintf("t%d_%d_%d", os.Getpid(), time.Now().UnixNano()%1e9, schemaSeq.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	db, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("open %s: %v", EnvPostgres, err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create test schema on %s: %v", EnvPostgres, err)
	}
	t.Cleanup(func() {
		db, err := sql.Open("pgx", base)
		if err != nil {
			return
		}
		defer db.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		db.ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE")
	})
	return Engine{Name: "postgres", DSN: withSearchPath(base, schema), StateDir: t.TempDir()}, true
}

func withSearchPath(dsn, schema string) string {
	u, err := url.Parse(dsn)
	if err != nil || !strings.Contains(dsn, "://") {
		return dsn + " search_path=" + schema
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
