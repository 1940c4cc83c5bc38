package sqlstore_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"minichat/server/protocol"
	"minichat/server/store"
	"minichat/server/store/pgtest"
	"minichat/server/store/sqlstore"
)

// pushNodes opens n stores on one database: one SQLite file, or one
// Postgres schema (as the nodes of a cluster).
func pushNodes(t *testing.T, db string, n int) []*sqlstore.Store {
	t.Helper()
	var out []*sqlstore.Store
	var dbURL string
	if db == "postgres" {
		dbURL, _ = pgtest.Schema(t)
	}
	path := filepath.Join(t.TempDir(), "push.db")
	for range n {
		var s *sqlstore.Store
		var err error
		if db == "postgres" {
			s, err = sqlstore.OpenPostgres(t.Context(), dbURL, store.Options{})
		} else {
			s, err = sqlstore.OpenSQLite(path, store.Options{})
		}
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		out = append(out, s)
	}
	return out
}

func pushUser(t *testing.T, s *sqlstore.Store, name string) protocol.User {
	t.Helper()
	var u protocol.User
	err := s.Write(t.Context(), nil, func(tx store.Tx) ([]store.Event, error) {
		var err error
		u, err = tx.CreateUser(store.NewUser{Name: name, Role: protocol.RoleMember, PasswordHash: "x"})
		return nil, err
	})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func forEachDB(t *testing.T, fn func(t *testing.T, db string)) {
	for _, db := range []string{"sqlite", "postgres"} {
		t.Run(db, func(t *testing.T) { fn(t, db) })
	}
}

// TestPushKeyFirstWriterWins: nodes starting at once each make a key; the
// first stored is everyone's.
func TestPushKeyFirstWriterWins(t *testing.T) {
	forEachDB(t, func(t *testing.T, db string) {
		nodes := pushNodes(t, db, 3)
		keys := make([]string, len(nodes))
		var wg sync.WaitGroup
		for i, s := range nodes {
			wg.Go(func() {
				k, err := s.PushKey(context.Background(), func() (string, error) { return fmt.Sprintf("key-of-node-%d", i), nil })
				if err != nil {
					t.Error(err)
				}
				keys[i] = k
			})
		}
		wg.Wait()
		for i, k := range keys {
			if k != keys[0] || k == "" {
				t.Fatalf("node %d has key %q, node 0 %q", i, k, keys[0])
			}
		}
		again, _ := nodes[1].PushKey(t.Context(), func() (string, error) { return "another", nil })
		if again != keys[0] {
			t.Fatalf("a later start made a new key %q", again)
		}
	})
}

func TestPushSubscriptionsStore(t *testing.T) {
	forEachDB(t, func(t *testing.T, db string) {
		s := pushNodes(t, db, 1)[0]
		alice, bob := pushUser(t, s, "alice"), pushUser(t, s, "bob")
		allow := func(int) error { return nil }
		sub := store.PushSubscription{UserID: alice.ID, Endpoint: "https://push.example.com/a", P256DH: "k", Auth: "s", Label: "phone"}
		a, created, err := s.AddPushSubscription(t.Context(), sub, allow)
		if err != nil || !created {
			t.Fatalf("add: %v %v", created, err)
		}
		sub.Label, sub.Auth = "", "s2"
		again, created, err := s.AddPushSubscription(t.Context(), sub, allow)
		if err != nil || created || again.ID != a.ID || again.Label != "phone" || again.Auth != "s2" {
			t.Fatalf("again: %+v %v %v", again, created, err)
		}
		// The same browser, now bob's: moves to bob.
		sub.UserID = bob.ID
		moved, created, err := s.AddPushSubscription(t.Context(), sub, allow)
		if err != nil || !created || moved.ID == a.ID {
			t.Fatalf("moved: %+v %v %v", moved, created, err)
		}
		if subs, _ := s.PushSubscriptions(t.Context(), alice.ID); len(subs) != 0 {
			t.Fatalf("alice keeps %+v", subs)
		}
		// allow sees the count and its error stores nothing.
		refuse := fmt.Errorf("full")
		_, _, err = s.AddPushSubscription(t.Context(), store.PushSubscription{UserID: bob.ID, Endpoint: "https://push.example.com/b", P256DH: "k", Auth: "s"},
			func(n int) error {
				if n != 1 {
					t.Errorf("count %d, want 1", n)
				}
				return refuse
			})
		if err != refuse {
			t.Fatalf("refused add: %v", err)
		}
		if err := s.DeletePushSubscription(t.Context(), alice.ID, moved.ID); err == nil {
			t.Fatal("alice deleted bob's subscription")
		}
		if err := s.DeletePushSubscription(t.Context(), bob.ID, moved.ID); err != nil {
			t.Fatal(err)
		}
	})
}

// TestPushClaimsOnce: nodes claiming the outbox at once each take
// different jobs, every job once; a job whose owner vanished is due again
// after its lease.
func TestPushClaimsOnce(t *testing.T) {
	forEachDB(t, func(t *testing.T, db string) {
		nodes := pushNodes(t, db, 3)
		u := pushUser(t, nodes[0], "bob")
		var subs []string
		for i := range 5 {
			sub, _, err := nodes[0].AddPushSubscription(t.Context(), store.PushSubscription{UserID: u.ID,
				Endpoint: fmt.Sprintf("https://push.example.com/%d", i), P256DH: "k", Auth: "s"}, func(int) error { return nil })
			if err != nil {
				t.Fatal(err)
			}
			subs = append(subs, sub.ID)
		}
		var jobs []store.PushJob
		for m := range 40 {
			for _, s := range subs {
				jobs = append(jobs, store.PushJob{Key: fmt.Sprintf("m_%d", m), SubscriptionID: s, Payload: []byte("{}"), Urgency: "normal", Topic: "t", TTL: time.Hour})
			}
		}
		// Queued twice (two nodes planning the same message): stored once.
		for _, n := range nodes[:2] {
			if err := n.QueuePush(t.Context(), jobs); err != nil {
				t.Fatal(err)
			}
		}
		var mu sync.Mutex
		seen := map[string]int{}
		var wg sync.WaitGroup
		for i, n := range nodes {
			wg.Go(func() {
				owner := fmt.Sprintf("node%d", i)
				for {
					got, err := n.ClaimPushJobs(context.Background(), owner, time.Minute, 7)
					if err != nil {
						t.Error(err)
						return
					}
					if len(got) == 0 {
						return
					}
					for _, j := range got {
						mu.Lock()
						seen[j.Key+"/"+j.SubscriptionID]++
						mu.Unlock()
						if err := n.FinishPush(context.Background(), owner, j, store.PushDelivered, time.Time{}); err != nil {
							t.Error(err)
						}
					}
				}
			})
		}
		wg.Wait()
		if len(seen) != len(jobs) {
			t.Fatalf("%d jobs claimed, want %d", len(seen), len(jobs))
		}
		for k, n := range seen {
			if n != 1 {
				t.Fatalf("job %s claimed %d times", k, n)
			}
		}
		if due, _ := nodes[0].PushDue(t.Context()); due {
			t.Fatal("jobs left after all were delivered")
		}

		// A node that dies holding a job: the others wait for its lease.
		if err := nodes[0].QueuePush(t.Context(), jobs[:1]); err != nil {
			t.Fatal(err)
		}
		if got, _ := nodes[0].ClaimPushJobs(t.Context(), "dead", 300*time.Millisecond, 10); len(got) != 1 {
			t.Fatalf("claimed %d", len(got))
		}
		if got, _ := nodes[1].ClaimPushJobs(t.Context(), "alive", time.Minute, 10); len(got) != 0 {
			t.Fatal("a held job was claimed again")
		}
		time.Sleep(400 * time.Millisecond)
		got, _ := nodes[1].ClaimPushJobs(t.Context(), "alive", time.Minute, 10)
		if len(got) != 1 {
			t.Fatalf("after the lease: claimed %d, want the orphan", len(got))
		}
		// The dead owner's late outcome changes nothing; a retry is due
		// later; a gone subscription takes its jobs along.
		_ = nodes[0].FinishPush(t.Context(), "dead", got[0], store.PushDelivered, time.Time{})
		if err := nodes[1].FinishPush(t.Context(), "alive", got[0], store.PushRetry, time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if due, _ := nodes[1].PushDue(t.Context()); due {
			t.Fatal("a retry an hour away is due")
		}
		if err := nodes[1].FinishPush(t.Context(), "alive", got[0], store.PushGone, time.Time{}); err != nil {
			t.Fatal(err)
		}
		if left, _ := nodes[1].PushSubscriptions(t.Context(), u.ID); len(left) != 4 {
			t.Fatalf("%d subscriptions left, want 4", len(left))
		}
	})
}
