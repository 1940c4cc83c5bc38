package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"

	"minichat/server/store"
)

// db runs statements: a connection, a pool or a transaction of either
// driver. Statements are written once, with $1, $2 … placeholders (the
// SQLite driver binds $N positionally too) and a few {{markers}} that each
// dialect renders its own way (see marks).
type db interface {
	exec(ctx context.Context, q string, args ...any) (int64, error)
	query(ctx context.Context, q string, args ...any) (rows, error)
	queryRow(ctx context.Context, q string, args ...any) row
}

// rows is what both drivers' result sets offer.
type rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

type row interface{ Scan(dest ...any) error }

// marks are a dialect's renderings of the markers statements may hold:
// "{{name}}" becomes marks[name], and "{{name arg}}" marks[name] with arg in
// place of its %s (or nothing, when marks[name] is empty: "{{sqlite …}}"
// and "{{postgres …}}" keep their text for their own dialect only).
type marks map[string]string

// render returns q with its markers rendered. A statement without markers
// is returned as it is.
func (m marks) render(q string) string {
	if !strings.Contains(q, "{{") {
		return q
	}
	var b strings.Builder
	for {
		i := strings.Index(q, "{{")
		if i < 0 {
			b.WriteString(q)
			return b.String()
		}
		j := strings.Index(q[i:], "}}")
		if j < 0 {
			panic(fmt.Sprintf("sqlstore: unclosed marker in %q", q))
		}
		name, arg := q[i+2:i+j], ""
		if k := strings.IndexAny(name, " \t\n"); k >= 0 {
			name, arg = name[:k], name[k+1:]
		}
		r, ok := m[name]
		if !ok {
			panic(fmt.Sprintf("sqlstore: unknown marker %q", name))
		}
		if arg != "" && r != "" {
			r = fmt.Sprintf(r, arg)
		}
		b.WriteString(q[:i])
		b.WriteString(r)
		q = q[i+j+2:]
	}
}

// renderCache renders each statement once.
type renderCache struct {
	m    marks
	done sync.Map // raw statement → rendered
}

func (c *renderCache) render(q string) string {
	if !strings.Contains(q, "{{") {
		return q
	}
	if r, ok := c.done.Load(q); ok {
		return r.(string)
	}
	r := c.m.render(q)
	c.done.Store(q, r)
	return r
}

// noRows reports the "no row" error of either driver.
func noRows(err error) bool { return errors.Is(err, sql.ErrNoRows) || errors.Is(err, pgx.ErrNoRows) }

// notFound turns a missing row into store.ErrNotFound, naming what.
func notFound(err error, format string, args ...any) error {
	if noRows(err) {
		return fmt.Errorf(format+": %w", append(args, store.ErrNotFound)...)
	}
	return err
}

// queryRows runs q and returns every row, each read by scan; nil when
// there is none. Callers wrap the error once, with what they were doing.
func queryRows[T any](ctx context.Context, d db, q string, scan func(row) (T, error), args ...any) ([]T, error) {
	rs, err := d.query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var out []T
	for rs.Next() {
		v, err := scan(rs)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rs.Err()
}

// noExtra adapts a scanner that reads extra columns on request to one
// that reads its own columns only, as queryRows takes it.
func noExtra[T any](scan func(row, ...any) (T, error)) func(row) (T, error) {
	return func(r row) (T, error) { return scan(r) }
}

// queryStrings runs q and returns its single text column, every row.
func queryStrings(ctx context.Context, d db, q string, args ...any) ([]string, error) {
	return queryRows(ctx, d, q, scanString, args...)
}

func scanString(r row) (s string, err error) {
	err = r.Scan(&s)
	return s, err
}

// orEmpty is s, or an empty slice for nil: for the lists whose callers
// (and JSON encodings) expect [] rather than null.
func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// nullString is nil for "", so that an absent optional value is NULL.
func nullString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
