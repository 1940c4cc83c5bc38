package chat

import (
	"testing"
	"time"

	"minichat/server/protocol"
)

// TestPushRule is the table of the push rule: whether a new message is
// pushed to a member, and how urgently ("" for not at all).
func TestPushRule(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	const dm, room = protocol.RoomDM, protocol.RoomPublic
	rows := []struct {
		name      string
		kind      string
		level     string
		mentioned bool
		connected bool
		paused    time.Time
		want      string
	}{
		{"dm, default level", dm, "", false, false, time.Time{}, UrgencyHigh},
		{"room, default level, no mention", room, "", false, false, time.Time{}, ""},
		{"room, default level, mention", room, "", true, false, time.Time{}, UrgencyHigh},
		{"room set to all", room, protocol.NotifyAll, false, false, time.Time{}, UrgencyNormal},
		{"room set to all, mention", room, protocol.NotifyAll, true, false, time.Time{}, UrgencyHigh},
		{"room set to none, mention", room, protocol.NotifyNone, true, false, time.Time{}, ""},
		{"dm set to none", dm, protocol.NotifyNone, false, false, time.Time{}, ""},
		{"dm set to mentions, no mention", dm, protocol.NotifyMentions, false, false, time.Time{}, ""},
		{"dm set to mentions, mention", dm, protocol.NotifyMentions, true, false, time.Time{}, UrgencyHigh},
		{"connected", dm, "", true, true, time.Time{}, ""},
		{"paused", dm, "", true, false, now.Add(time.Minute), ""},
		{"pause ended", dm, "", false, false, now.Add(-time.Minute), UrgencyHigh},
	}
	for _, r := range rows {
		urgency, ok := PushRule(r.kind, r.level, r.mentioned, r.connected, r.paused, now)
		if ok != (r.want != "") || urgency != r.want {
			t.Errorf("%s: %q, %v; want %q", r.name, urgency, ok, r.want)
		}
	}
}
