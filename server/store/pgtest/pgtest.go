// Package pgtest gives tests a PostgreSQL schema of their own on the server
// named by the MINICHAT_TEST_POSTGRES environment variable, e.g.
//
//	MINICHAT_TEST_POSTGRES=postgres://postgres@127.0.0.1:5432/test go test ./...
//
// Each call creates a schema with a random name and returns a URL whose
// search_path selects it, so parallel test runs on one server never see each
// other's tables; the schema is dropped when the test ends.
//
// Without the variable, tests that need Postgres are skipped with a message
// saying so. With it set, a server that cannot be reached fails the test:
// a run that asked for Postgres never passes without it.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Env is the variable naming the test server.
const Env = "MINICHAT_TEST_POSTGRES"

// SkipMessage is what a test without Env says when it skips.
const SkipMessage = Env + " is not set: the Postgres half of this test was NOT run " +
	"(set it to e.g. postgres://postgres@127.0.0.1:5432/test)"

// BaseURL returns the server URL of Env; it skips t when Env is unset.
func BaseURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv(Env)
	if base == "" {
		t.Skip(SkipMessage)
	}
	return base
}

// Schema creates a fresh schema and returns a URL that selects it (through
// search_path) together with the schema's name. The schema and everything
// in it are dropped when t ends.
func Schema(t testing.TB) (dbURL, schema string) {
	t.Helper()
	base := BaseURL(t)
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Fatalf("%s=%q: want a postgres:// URL", Env, base)
	}
	var b [6]byte
	rand.Read(b[:])
	schema = "mctest_" + hex.EncodeToString(b[:])

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("%s is set but the server does not answer: %v", Env, err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema %s: %v", schema, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), schema
}

// WithParams returns dbURL with extra query parameters set, e.g.
// pool_max_conns.
func WithParams(t testing.TB, dbURL string, kv ...string) string {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	for i := 0; i+1 < len(kv); i += 2 {
		q.Set(kv[i], kv[i+1])
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// Count returns SELECT COUNT(*) of a table in the schema of dbURL.
func Count(t testing.TB, dbURL, table string) int64 {
	t.Helper()
	var n int64
	on(t, dbURL, func(ctx context.Context, c *pgx.Conn) error {
		return c.QueryRow(ctx, fmt.Sprintf("SELECT COUNT(*) FROM %s", pgx.Identifier{table}.Sanitize())).Scan(&n)
	})
	return n
}

// Exec runs statements in the schema of dbURL.
func Exec(t testing.TB, dbURL, sql string, args ...any) {
	t.Helper()
	on(t, dbURL, func(ctx context.Context, c *pgx.Conn) error {
		_, err := c.Exec(ctx, sql, args...)
		return err
	})
}

// on runs fn on a connection to dbURL, failing t on any error.
func on(t testing.TB, dbURL string, fn func(context.Context, *pgx.Conn) error) {
	t.Helper()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	if err := fn(ctx, c); err != nil {
		t.Fatal(err)
	}
}
