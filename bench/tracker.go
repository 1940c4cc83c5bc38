package bench

// maxMissing bounds the set of missing seqs one tracker remembers; a larger
// gap is still counted, only its seqs are not kept for a late fill.
const maxMissing = 100_000

// tracker checks the continuity of one room's log as seen by one client
// (across its reconnects). Frames of a room arrive in seq order on one
// connection, so a seq above last+1 is a gap, and a seq at or below last is a
// repeat — unless it fills a remembered gap, or the client's own ack brought
// it first (the sending connection learns its message from the ack).
//
// A tracker is used by one goroutine at a time (the connection's reader);
// it is not safe for concurrent use.
type tracker struct {
	last     int64              // highest seq seen; every seq ≤ last is seen or in missing
	missing  map[int64]struct{} // gaps not filled yet (nil while there is none)
	overflow int64              // missing seqs not remembered (beyond maxMissing)
	ahead    map[int64]struct{} // seqs > last already seen through an ack
}

// Outcomes of tracker.seen.
const (
	seqNew   = iota // first sight of this seq
	seqAcked        // already brought by the client's own ack: not new, not a repeat
	seqDup          // a repeat
)

func newTracker(base int64) *tracker { return &tracker{last: base} }

// seen records a message or update frame with seq s and tells whether s is
// new to this client, was brought by its ack already, or is a repeat.
func (t *tracker) seen(s int64) int {
	switch {
	case s == t.last+1:
		t.last = s
		return t.aheadOutcome(s)
	case s > t.last+1:
		for m := t.last + 1; m < s; m++ {
			if t.takeAhead(m) {
				continue
			}
			if len(t.missing) >= maxMissing {
				t.overflow += s - m - int64(countAhead(t.ahead, m, s))
				break
			}
			if t.missing == nil {
				t.missing = map[int64]struct{}{}
			}
			t.missing[m] = struct{}{}
		}
		t.last = s
		return t.aheadOutcome(s)
	default:
		if _, ok := t.missing[s]; ok {
			delete(t.missing, s)
			return seqNew
		}
		return seqDup
	}
}

func (t *tracker) aheadOutcome(s int64) int {
	if t.takeAhead(s) {
		return seqAcked
	}
	return seqNew
}

// acked records the seq of the client's own message, learnt from its ack.
// It reports whether s is new to this client.
func (t *tracker) acked(s int64) bool {
	if s > t.last {
		if t.ahead == nil {
			t.ahead = map[int64]struct{}{}
		}
		if _, ok := t.ahead[s]; ok {
			return false
		}
		t.ahead[s] = struct{}{}
		return true
	}
	if _, ok := t.missing[s]; ok {
		delete(t.missing, s)
		return true
	}
	return false // the message frame came first
}

func (t *tracker) takeAhead(s int64) bool {
	if _, ok := t.ahead[s]; ok {
		delete(t.ahead, s)
		return true
	}
	return false
}

func countAhead(ahead map[int64]struct{}, from, to int64) int {
	n := 0
	for s := range ahead {
		if s >= from && s < to {
			n++
		}
	}
	return n
}

// skip records that the server left the seqs from..to out of a capped
// replay (synced.skipped): they are neither lost nor expected any more. It
// returns how many of them this client had not seen.
func (t *tracker) skip(from, to int64) int64 {
	n := int64(0)
	for s := from; s <= to; s++ {
		switch {
		case s > t.last:
			if !t.takeAhead(s) {
				n++
			}
		default:
			if _, ok := t.missing[s]; ok {
				delete(t.missing, s)
				n++
			}
		}
	}
	t.last = max(t.last, to)
	return n
}

// lost returns the number of seqs up to final that this client never saw.
func (t *tracker) lost(final int64) int64 { return t.gaps() + t.tail(final) }

// gaps returns the seqs skipped over: a later seq arrived, these never did.
func (t *tracker) gaps() int64 { return int64(len(t.missing)) + t.overflow }

// tail returns the seqs after the last one seen, up to final: not arrived
// (yet) rather than skipped.
func (t *tracker) tail(final int64) int64 {
	if final <= t.last {
		return 0
	}
	return final - t.last - int64(countAhead(t.ahead, t.last+1, final+1))
}

// complete reports whether every seq up to final has been seen.
func (t *tracker) complete(final int64) bool {
	if len(t.missing) > 0 || t.overflow > 0 {
		return false
	}
	if final <= t.last {
		return true
	}
	if int64(len(t.ahead)) < final-t.last {
		return false
	}
	return t.lost(final) == 0
}
