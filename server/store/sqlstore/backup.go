package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
)

// Backup writes a consistent copy of the database at path to dest, while
// a server may be using it. The copy is one read transaction's snapshot
// (SQLite's VACUUM INTO on a read-only connection): it holds every write
// committed before the backup began, and nothing half-written; writers go on
// meanwhile. The copy is written under a temporary name beside dest, synced,
// and renamed to dest only when complete, so dest is never a partial file;
// an existing dest is replaced. The copy is a self-contained database file
// (no -wal file) that Open accepts as it is.
func Backup(ctx context.Context, path, dest string) (err error) {
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	dest, err = filepath.Abs(dest)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(dest), "."+filepath.Base(dest)+".tmp-*")
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	tmpName := tmp.Name()
	tmp.Close()
	// VACUUM INTO refuses to write over a file, even an empty one.
	if err := os.Remove(tmpName); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer func() {
		if err != nil {
			os.Remove(tmpName)
		}
	}()

	// mode=ro: the backup never writes to the live database, and opening
	// it creates nothing when the path is wrong.
	q := url.Values{}
	q.Add("mode", "ro")
	q.Add("_pragma", "busy_timeout(10000)")
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+"?"+q.Encode())
	if err != nil {
		return fmt.Errorf("backup: open %s: %w", path, err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "VACUUM INTO ?", tmpName); err != nil {
		return fmt.Errorf("backup: copy %s: %w", path, err)
	}
	if err := db.Close(); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if err := syncFile(tmpName); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if err := os.Rename(tmpName, dest); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	// The rename is durable once the directory is synced (Windows cannot
	// sync a directory; NTFS journals the rename itself).
	if runtime.GOOS != "windows" {
		if err := syncFile(filepath.Dir(dest)); err != nil {
			return fmt.Errorf("backup: %w", err)
		}
	}
	return nil
}

func syncFile(name string) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}
