package chaos

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// feed is a script of what a client sees, run against a roomLog.
type feed func(l *roomLog)

func id(seq int64) string { return fmt.Sprintf("m%d", seq) }

func frames(from, to int64) feed {
	return func(l *roomLog) {
		for s := from; s <= to; s++ {
			l.frame(s, id(s))
		}
	}
}

func connect(lastSeq int64) feed {
	return func(l *roomLog) { l.welcome(lastSeq); l.hello() }
}

func synced(last int64, skipped ...span) feed {
	return func(l *roomLog) {
		var sk *span
		if len(skipped) > 0 {
			sk = &skipped[0]
		}
		l.synced(last, sk)
	}
}

// pageAll answers every history request as the server's log 1..top would.
func pageAll(top int64) feed {
	return func(l *roomLog) {
		for {
			before, limit, ok := l.nextHistory()
			if !ok {
				return
			}
			var seqs []int64
			var ids []string
			for s := max(1, before-int64(limit)); s < before && s <= top; s++ {
				seqs, ids = append(seqs, s), append(ids, id(s))
			}
			l.history(before, seqs, ids, seqs[0] > 1)
		}
	}
}

// The log model accepts what the protocol allows (a capped replay paged
// back with history, duplicates across connections) and records each
// breach of it with its kind; what a breach loses shows as missing seqs.
func TestRoomLogJudgesStreams(t *testing.T) {
	for _, tc := range []struct {
		name    string
		script  []feed
		top     int64
		kinds   []string
		missing []span
	}{
		{"replay then live", []feed{connect(10), frames(11, 12), synced(12), frames(13, 14)}, 14, nil, nil},
		{"nothing to replay", []feed{connect(10), synced(10), frames(11, 11)}, 11, nil, nil},
		{"resume on a second connection", []feed{
			connect(10), synced(10), frames(11, 20),
			connect(20), frames(21, 25), synced(25), frames(26, 27),
		}, 27, nil, nil},
		{"capped replay declared and paged", []feed{
			connect(10), synced(10), frames(11, 20),
			connect(20), frames(800, 1000), synced(1000, span{21, 799}), frames(1001, 1002), pageAll(1002),
		}, 1002, nil, nil},
		{"capped replay, live frames above the hole (no skipped)", []feed{
			connect(10), synced(10),
			connect(10), frames(11, 510), synced(510), frames(900, 901),
		}, 901, []string{KindGap}, []span{{511, 899}}},
		{"replay skips without saying so", []feed{connect(10), frames(400, 500), synced(500)}, 500, []string{KindGap}, []span{{11, 399}}},
		{"a live frame before synced", []feed{connect(10), frames(15, 15), frames(11, 14), synced(14), frames(15, 16)}, 16, []string{KindOrder}, nil},
		{"a repeat after synced", []feed{connect(10), frames(11, 12), synced(12), frames(12, 13)}, 13, []string{KindOrder}, nil},
		{"a live gap", []feed{connect(10), synced(10), frames(11, 12), frames(15, 15)}, 15, []string{KindGap}, []span{{13, 14}}},
		{"replay at or below since", []feed{connect(10), synced(10), frames(11, 15), connect(15), frames(14, 16), synced(16)}, 16, []string{KindOrder}, nil},
		{"synced.last_seq not the last replayed", []feed{connect(10), frames(11, 12), synced(11), frames(13, 13)}, 13, []string{KindSynced, KindGap}, nil},
		{"a wrong skipped range", []feed{connect(10), frames(50, 60), synced(60, span{20, 49}), pageAll(60)}, 60, []string{KindSynced}, []span{{11, 19}}},
		{"skipped, and the replay does not begin after it", []feed{connect(10), frames(40, 60), synced(60, span{11, 49}), pageAll(60)}, 60, []string{KindSynced}, nil},
		{"one seq, two messages", []feed{connect(10), synced(10), frames(11, 12), connect(10), func(l *roomLog) { l.frame(11, "other") }}, 12, []string{KindConflict}, nil},
		{"history without the skipped range", []feed{
			connect(10), frames(50, 60), synced(60, span{11, 49}),
			func(l *roomLog) { l.history(50, nil, nil, false) },
		}, 60, []string{KindHistory}, []span{{11, 49}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newRoomLog(time.Now)
			for _, f := range tc.script {
				f(l)
			}
			var kinds []string
			for _, v := range l.violations {
				if !slices.Contains(kinds, v.Kind) {
					kinds = append(kinds, v.Kind)
				}
			}
			slices.Sort(kinds)
			want := slices.Clone(tc.kinds)
			slices.Sort(want)
			if !slices.Equal(kinds, want) {
				t.Errorf("violation kinds %v, want %v: %v", kinds, want, l.violations)
			}
			if got := l.missing(tc.top); !slices.Equal(got, tc.missing) {
				t.Errorf("missing %v, want %v", got, tc.missing)
			}
			if _, _, ok := l.nextHistory(); ok {
				t.Errorf("holes left to page: %v", l.holes)
			}
		})
	}
}
