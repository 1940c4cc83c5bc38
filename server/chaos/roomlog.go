package chaos

import (
	"fmt"
	"slices"
	"time"
)

// span is a range of seqs, both ends included.
type span struct{ From, To int64 }

func (s span) String() string {
	if s.From == s.To {
		return fmt.Sprint(s.From)
	}
	return fmt.Sprintf("%d..%d", s.From, s.To)
}

func (s span) len() int64 { return s.To - s.From + 1 }

// Kinds of violation a client's room log records as frames arrive.
const (
	// KindOrder: a frame out of the order the protocol promises on one
	// connection — a live frame before the room's synced, a repeat or a
	// step back after it, a replay below since.
	KindOrder = "order"
	// KindGap: a connection's stream skipped seqs without declaring them
	// in synced.skipped.
	KindGap = "gap"
	// KindSynced: synced said something else than the replay did
	// (last_seq, or a skipped range that is not since+1 .. first-1).
	KindSynced = "synced"
	// KindConflict: one seq carried two different messages.
	KindConflict = "conflict"
	// KindHistory: history did not return a range synced said to page.
	KindHistory = "history"
)

// Violation is one breach of the protocol a client saw.
type Violation struct {
	At     time.Time
	Kind   string
	Detail string
}

// Connection phases of a room log.
const (
	phaseNone   = iota // connected, no hello sent yet
	phaseReplay        // hello sent, synced not yet received
	phaseLive          // after synced
)

// roomLog is one client's copy of one room's log, kept as a real client
// keeps it (PROTOCOL.md §2 and §3, "Resuming far behind"), and the judge
// of each connection's stream:
//
//   - the resume point (high) is the last seq of the stream; hello asks
//     for everything after it;
//   - before synced, the connection carries the replay: seqs after since,
//     consecutive, ending at synced.last_seq; when synced declares
//     skipped {from,to}, from is since+1 and to the first replayed seq − 1,
//     and the client pages that range with history;
//   - after synced, frames continue at last_seq+1, one after another,
//     never repeating;
//   - across connections the same seq may come again (de-duplicated here)
//     but must be the same message.
//
// Frames that break a rule are recorded as violations and still kept, as
// a client would keep them, so that what is lost shows at the end as seqs
// the log never got (missing). roomLog does no I/O and takes the time from
// now; it is not safe for concurrent use (the client holds its lock).
type roomLog struct {
	now func() time.Time

	started bool
	start   int64            // the room's last seq at the first welcome
	high    int64            // the resume point: last seq of the stream
	got     map[int64]string // seq → message id, de-duplicated
	holes   []span           // declared skipped ranges not yet paged, ascending

	// The current connection.
	phase  int
	since  int64   // what its hello asked after
	replay []int64 // the seqs it carried before synced, in arrival order
	last   int64   // after synced: the last seq it carried

	skipped    []span // every range synced declared skipped
	violations []Violation
}

func newRoomLog(now func() time.Time) *roomLog {
	return &roomLog{now: now, got: map[int64]string{}}
}

func (l *roomLog) violate(kind, format string, args ...any) {
	l.violations = append(l.violations, Violation{At: l.now(), Kind: kind, Detail: fmt.Sprintf(format, args...)})
}

// welcome starts a connection; lastSeq is the room's last seq in the
// welcome, which sets the start of the log on the first one.
func (l *roomLog) welcome(lastSeq int64) {
	if !l.started {
		l.started, l.start, l.high = true, lastSeq, lastSeq
	}
	l.phase = phaseNone
}

// hello returns the since of the connection's hello.
func (l *roomLog) hello() int64 {
	l.phase, l.since, l.replay, l.last = phaseReplay, l.high, l.replay[:0], l.high
	return l.since
}

// frame takes a message or update frame of the room.
func (l *roomLog) frame(seq int64, id string) {
	l.record(seq, id)
	switch l.phase {
	case phaseNone:
		l.violate(KindOrder, "seq %d arrived before hello", seq)
	case phaseReplay:
		// Judged as a whole at synced, which says where the replay began.
		l.replay = append(l.replay, seq)
	case phaseLive:
		switch {
		case seq <= l.last:
			l.violate(KindOrder, "after synced: seq %d after %d (a repeat or a step back)", seq, l.last)
		case seq > l.last+1:
			l.violate(KindGap, "after synced: seq %d after %d; %s never sent on this connection", seq, l.last, span{l.last + 1, seq - 1})
		}
		l.last = max(l.last, seq)
	}
	l.high = max(l.high, seq)
}

// synced ends the connection's replay of the room: the frames before it
// must be the log from since+1 (or from skipped.to+1) to last_seq, in
// order, and nothing else.
func (l *roomLog) synced(lastSeq int64, skipped *span) {
	if l.phase != phaseReplay {
		l.violate(KindSynced, "synced (last_seq %d) without a hello waiting for it", lastSeq)
	}
	from := l.since + 1
	if skipped != nil {
		if skipped.From != l.since+1 || skipped.To < skipped.From {
			l.violate(KindSynced, "synced declares %s skipped after since %d", *skipped, l.since)
		}
		from = skipped.To + 1
		l.skipped = append(l.skipped, *skipped)
		if skipped.From <= skipped.To {
			l.addHole(*skipped)
		}
	}
	r := l.replay
	consecutive := true
	for i := 1; i < len(r); i++ {
		consecutive = consecutive && r[i] == r[i-1]+1
	}
	switch {
	case !consecutive || len(r) > 0 && r[0] <= l.since:
		l.violate(KindOrder, "before synced the connection carried %s after since %d; the replay is %s (a live frame before synced, or a replay out of order)",
			arrival(r), l.since, span{from, lastSeq})
	case len(r) > 0 && r[0] > from:
		if skipped == nil {
			l.violate(KindGap, "replay began at %d after since %d and synced declares nothing skipped: %s never sent", r[0], l.since, span{from, r[0] - 1})
		} else {
			l.violate(KindSynced, "synced declares %s skipped but the replay began at %d", *skipped, r[0])
		}
	case len(r) > 0 && r[0] < from:
		l.violate(KindSynced, "synced declares %s skipped but the replay began at %d", *skipped, r[0])
	}
	if replayedTo := l.since; consecutive {
		if len(r) > 0 {
			replayedTo = r[len(r)-1]
		}
		if lastSeq != replayedTo {
			l.violate(KindSynced, "synced.last_seq is %d but the replay ended at %d", lastSeq, replayedTo)
		}
	}
	l.phase = phaseLive
	l.last = lastSeq
	l.high = max(l.high, lastSeq)
}

// arrival writes seqs in arrival order, runs collapsed: "15, 11..14".
func arrival(seqs []int64) string {
	var out []byte
	for i := 0; i < len(seqs); {
		j := i
		for j+1 < len(seqs) && seqs[j+1] == seqs[j]+1 {
			j++
		}
		if len(out) > 0 {
			out = append(out, ", "...)
		}
		out = append(out, span{seqs[i], seqs[j]}.String()...)
		i = j + 1
	}
	if len(out) == 0 {
		return "nothing"
	}
	return string(out)
}

// addHole remembers a range to page with history, less what the log has.
func (l *roomLog) addHole(s span) {
	l.holes = append(l.holes, s)
	slices.SortFunc(l.holes, func(a, b span) int { return int(a.From - b.From) })
	l.trimHoles()
}

// trimHoles drops from the holes what the log has at their ends.
func (l *roomLog) trimHoles() {
	out := l.holes[:0]
	for _, h := range l.holes {
		for h.To >= h.From && l.got[h.To] != "" {
			h.To--
		}
		for h.From <= h.To && l.got[h.From] != "" {
			h.From++
		}
		if h.From <= h.To {
			out = append(out, h)
		}
	}
	l.holes = out
}

// nextHistory says which page to ask for next: the newest part of the
// newest hole, as a reader scrolling back would.
func (l *roomLog) nextHistory() (before int64, limit int, ok bool) {
	if len(l.holes) == 0 {
		return 0, 0, false
	}
	h := l.holes[len(l.holes)-1]
	return h.To + 1, int(min(200, h.len())), true
}

// history takes the answer to a history request made with before.
func (l *roomLog) history(before int64, seqs []int64, ids []string, hasMore bool) {
	for i, seq := range seqs {
		if seq >= before {
			l.violate(KindHistory, "history before %d returned seq %d", before, seq)
		}
		l.record(seq, ids[i])
	}
	l.trimHoles()
	// History answers with the newest entries before before, so the top
	// of the hole asked for must be there now. If it is not, the log has
	// no such entry or history does not return it: either way the range
	// is lost, and asking again would not help.
	for i, h := range l.holes {
		if h.To == before-1 {
			l.violate(KindHistory, "history before %d (has_more %v) did not return %s", before, hasMore, h)
			l.holes = slices.Delete(l.holes, i, i+1)
			break
		}
	}
}

// record keeps a message id by seq, de-duplicating.
func (l *roomLog) record(seq int64, id string) {
	if prev, ok := l.got[seq]; ok && prev != id {
		l.violate(KindConflict, "seq %d is %s, earlier %s", seq, id, prev)
		return
	}
	l.got[seq] = id
}

// missing lists the seqs after the start up to last that the log lacks.
func (l *roomLog) missing(last int64) []span {
	var out []span
	for seq := l.start + 1; seq <= last; seq++ {
		if _, ok := l.got[seq]; ok {
			continue
		}
		if n := len(out); n > 0 && out[n-1].To == seq-1 {
			out[n-1].To = seq
		} else {
			out = append(out, span{seq, seq})
		}
	}
	return out
}
