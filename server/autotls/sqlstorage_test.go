package autotls

import (
	"context"
	"errors"
	"io/fs"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"minichat/server/store"
	"minichat/server/store/pgtest"
	"minichat/server/store/sqlstore"
)

// dbs runs fn on SQLite and on Postgres (skipped, saying so, without
// MINICHAT_TEST_POSTGRES), each with two stores on one database: two nodes.
func dbs(t *testing.T, fn func(t *testing.T, a, b *sqlstore.Store)) {
	t.Run("sqlite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "minichat.db")
		a, err := sqlstore.OpenSQLite(path, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { a.Close() })
		fn(t, a, a)
	})
	t.Run("postgres", func(t *testing.T) {
		url, _ := pgtest.Schema(t)
		var nodes [2]*sqlstore.Store
		for i := range nodes {
			s, err := sqlstore.OpenPostgres(t.Context(), url, store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			nodes[i] = s
		}
		fn(t, nodes[0], nodes[1])
	})
}

func TestSQLStorageFiles(t *testing.T) {
	dbs(t, func(t *testing.T, a, b *sqlstore.Store) {
		ctx := t.Context()
		s, other := NewSQLStorage(a), NewSQLStorage(b)
		if _, err := s.Load(ctx, "certificates/x/a.crt"); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("load of nothing: %v, want fs.ErrNotExist", err)
		}
		files := map[string]string{
			"acme/ca/users/me/me.json":              "account",
			"certificates/ca/chat.a.b/chat.a.b.crt": "cert",
			"certificates/ca/chat.a.b/chat.a.b.key": "key",
			"certificates/ca/x.a.b/x.a.b.crt":       "other",
			"certificates/ca_x/y.crt":               "a sibling with a longer name",
		}
		for k, v := range files {
			if err := s.Store(ctx, k, []byte(v)); err != nil {
				t.Fatal(err)
			}
		}
		// Another node sees them.
		got, err := other.Load(ctx, "certificates/ca/chat.a.b/chat.a.b.key")
		if err != nil || string(got) != "key" {
			t.Fatalf("other node's load: %q, %v", got, err)
		}
		if err := s.Store(ctx, "certificates/ca/chat.a.b/chat.a.b.key", []byte("key 2")); err != nil {
			t.Fatal(err)
		}
		if got, _ := other.Load(ctx, "certificates/ca/chat.a.b/chat.a.b.key"); string(got) != "key 2" {
			t.Fatalf("overwritten value: %q", got)
		}
		list, err := s.List(ctx, "certificates/ca", false)
		if want := []string{"certificates/ca/chat.a.b", "certificates/ca/x.a.b"}; err != nil || !slices.Equal(list, want) {
			t.Fatalf("list: %q, %v; want %q", list, err, want)
		}
		list, _ = s.List(ctx, "certificates", true)
		want := []string{"certificates/ca", "certificates/ca/chat.a.b", "certificates/ca/chat.a.b/chat.a.b.crt",
			"certificates/ca/chat.a.b/chat.a.b.key", "certificates/ca/x.a.b", "certificates/ca/x.a.b/x.a.b.crt",
			"certificates/ca_x", "certificates/ca_x/y.crt"}
		if !slices.Equal(list, want) {
			t.Fatalf("recursive list:\n%q\nwant\n%q", list, want)
		}
		if _, err := s.List(ctx, "nothing", true); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("list of nothing: %v", err)
		}
		info, err := s.Stat(ctx, "certificates/ca/chat.a.b/chat.a.b.crt")
		if err != nil || !info.IsTerminal || info.Size != 4 || time.Since(info.Modified) > time.Minute {
			t.Fatalf("stat of a file: %+v, %v", info, err)
		}
		if info, err := s.Stat(ctx, "certificates/ca"); err != nil || info.IsTerminal {
			t.Fatalf("stat of a directory: %+v, %v", info, err)
		}
		if !s.Exists(ctx, "certificates/ca") || !s.Exists(ctx, "acme/ca/users/me/me.json") || s.Exists(ctx, "certificates/c") {
			t.Fatal("exists is wrong")
		}
		// Deleting a directory deletes what is under it, and only that.
		if err := other.Delete(ctx, "certificates/ca"); err != nil {
			t.Fatal(err)
		}
		if s.Exists(ctx, "certificates/ca") || !s.Exists(ctx, "certificates/ca_x/y.crt") || !s.Exists(ctx, "acme") {
			t.Fatal("delete of a directory removed the wrong files")
		}
		if err := s.Delete(ctx, "certificates/ca"); err != nil {
			t.Fatalf("delete of nothing: %v", err)
		}
	})
}

// One lock holder at a time, across nodes; a holder that dies without
// unlocking blocks the others only until its lock expires.
func TestSQLStorageLocks(t *testing.T) {
	dbs(t, func(t *testing.T, a, b *sqlstore.Store) {
		ctx := t.Context()
		nodes := []*SQLStorage{NewSQLStorage(a), NewSQLStorage(b), NewSQLStorage(a)}
		for _, n := range nodes {
			n.Poll = 10 * time.Millisecond
		}
		var inside, most, total atomic.Int32
		var wg sync.WaitGroup
		for i := range 9 {
			n := nodes[i%len(nodes)]
			wg.Go(func() {
				if err := n.Lock(ctx, "issue_cert_chat.a.b"); err != nil {
					t.Error(err)
					return
				}
				now := inside.Add(1)
				for {
					m := most.Load()
					if now <= m || most.CompareAndSwap(m, now) {
						break
					}
				}
				time.Sleep(5 * time.Millisecond) // hold it a while: the others must wait
				inside.Add(-1)
				total.Add(1)
				if err := n.Unlock(ctx, "issue_cert_chat.a.b"); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if most.Load() != 1 || total.Load() != 9 {
			t.Fatalf("%d holders at once (want 1), %d holdings (want 9)", most.Load(), total.Load())
		}

		// A dead node's lock: taken directly, never refreshed nor released.
		if ok, err := a.TryCertLock(ctx, "renew_cert_chat.a.b", "dead node", 300*time.Millisecond); !ok || err != nil {
			t.Fatalf("take: %v %v", ok, err)
		}
		if ok, _ := b.TryCertLock(ctx, "renew_cert_chat.a.b", "another", time.Minute); ok {
			t.Fatal("a held lock was taken")
		}
		lctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := nodes[1].Lock(lctx, "renew_cert_chat.a.b"); err != nil {
			t.Fatalf("the expired lock was not taken over: %v", err)
		}
		if err := nodes[1].Unlock(ctx, "renew_cert_chat.a.b"); err != nil {
			t.Fatal(err)
		}
		// Lock honours its context.
		if err := nodes[0].Lock(ctx, "held"); err != nil {
			t.Fatal(err)
		}
		cctx, cancel2 := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel2()
		if err := nodes[1].Lock(cctx, "held"); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("lock of a held name with a deadline: %v", err)
		}
		if err := nodes[0].Unlock(ctx, "held"); err != nil {
			t.Fatal(err)
		}
	})
}

// A holder keeps its lock past the time to live while it works.
func TestSQLStorageLockKeepAlive(t *testing.T) {
	dbs(t, func(t *testing.T, a, b *sqlstore.Store) {
		ctx := t.Context()
		holder := NewSQLStorage(a)
		holder.LockTTL = time.Second
		if err := holder.Lock(ctx, "issue_cert_x"); err != nil {
			t.Fatal(err)
		}
		// For two and a half times the lifetime of an unrefreshed lock,
		// nobody else gets it.
		deadline := time.Now().Add(2500 * time.Millisecond)
		for time.Now().Before(deadline) {
			if ok, err := b.TryCertLock(ctx, "issue_cert_x", "intruder", time.Minute); ok || err != nil {
				t.Fatalf("a kept-alive lock was taken: %v %v", ok, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
		if err := holder.Unlock(ctx, "issue_cert_x"); err != nil {
			t.Fatal(err)
		}
		if ok, err := b.TryCertLock(ctx, "issue_cert_x", "next", time.Minute); !ok || err != nil {
			t.Fatalf("a released lock was not taken: %v %v", ok, err)
		}
	})
}

// The expiry of a lock, by the store's clock: a refreshed lock outlives
// its first expiry, an unrefreshed one is taken once expired, and only
// its owner refreshes or releases it.
func TestCertLockExpiryByClock(t *testing.T) {
	var mu sync.Mutex
	now := time.Unix(1_800_000_000, 0)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	s, err := sqlstore.OpenSQLite(filepath.Join(t.TempDir(), "minichat.db"), store.Options{Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := t.Context()
	must := func(ok bool, err error) bool {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !must(s.TryCertLock(ctx, "l", "a", time.Minute)) {
		t.Fatal("a free lock was not taken")
	}
	if must(s.TryCertLock(ctx, "l", "a", time.Minute)) || must(s.TryCertLock(ctx, "l", "b", time.Minute)) {
		t.Fatal("a held lock was taken again")
	}
	advance(50 * time.Second)
	if !must(s.RefreshCertLock(ctx, "l", "a", time.Minute)) || must(s.RefreshCertLock(ctx, "l", "b", time.Minute)) {
		t.Fatal("refresh: only the owner refreshes")
	}
	advance(50 * time.Second) // past the first expiry, before the refreshed one
	if must(s.TryCertLock(ctx, "l", "b", time.Minute)) {
		t.Fatal("a refreshed lock was taken at its first expiry")
	}
	if err := s.CertUnlock(ctx, "l", "b"); err != nil {
		t.Fatal(err)
	}
	advance(11 * time.Second) // past the refreshed expiry: the holder is dead
	if !must(s.TryCertLock(ctx, "l", "b", time.Minute)) {
		t.Fatal("an expired lock was not taken")
	}
	if must(s.RefreshCertLock(ctx, "l", "a", time.Minute)) {
		t.Fatal("the previous holder refreshed a lock it lost")
	}
	if err := s.CertUnlock(ctx, "l", "a"); err != nil {
		t.Fatal(err)
	}
	if must(s.TryCertLock(ctx, "l", "c", time.Minute)) {
		t.Fatal("the previous holder's unlock released another's lock")
	}
	if err := s.CertUnlock(ctx, "l", "b"); err != nil {
		t.Fatal(err)
	}
	if !must(s.TryCertLock(ctx, "l", "c", time.Minute)) {
		t.Fatal("a released lock was not taken")
	}
}
