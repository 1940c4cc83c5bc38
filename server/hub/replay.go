package hub

import (
	"slices"
	"strings"
)

// RoomSince is one room of a hello and the seq the client has up to.
type RoomSince struct {
	Room  string
	Since int64
}

// Hello is what BeginHello made of a hello.
type Hello struct {
	// Rooms are the rooms to replay (the user's, among those named), in
	// id order; each has begun its replay (Conn.BeginReplay).
	Rooms []RoomSince
	// Refused are the rooms named that the user does not belong to.
	Refused []string
	// Members is how many rooms the user belongs to; TooMany is set, and
	// nothing begun, when the hello named more rooms than that.
	Members int
	TooMany bool
}

// BeginHello checks the rooms of a hello against the user's and begins
// the replay of each of theirs on c, at one instant of the room logs: a
// live frame fanned out after it is held until the room's EndReplay. It
// returns false after Shutdown.
func (h *Hub) BeginHello(c *Conn, since map[string]int64) (Hello, bool) {
	var out Hello
	ok := h.do(func() {
		u := h.users[c.User.ID]
		if u == nil {
			out.TooMany = len(since) > 0
			return
		}
		out.Members = len(u.rooms)
		if len(since) > out.Members {
			out.TooMany = true
			return
		}
		for room, seq := range since {
			if _, member := u.rooms[room]; !member {
				out.Refused = append(out.Refused, room)
				continue
			}
			out.Rooms = append(out.Rooms, RoomSince{Room: room, Since: max(seq, 0)})
		}
		slices.SortFunc(out.Rooms, func(a, b RoomSince) int { return strings.Compare(a.Room, b.Room) })
		slices.Sort(out.Refused)
		for _, rs := range out.Rooms {
			c.BeginReplay(rs.Room, rs.Since)
		}
	})
	return out, ok
}

// Tail returns the room's newest log frames after since, at most max, from
// the frames the hub keeps, and the seq before the first of them (since,
// or more when more than max follow since: the range since+1 .. from was
// left out). ok is false when the kept frames do not reach back far enough
// (the caller reads the store instead). Frames committed but not yet fanned
// out are not included: they reach a connection that began a replay
// (Conn.BeginReplay) as held live frames.
func (h *Hub) Tail(room string, since int64, max int) (frames []LogFrame, from int64, ok bool) {
	h.do(func() {
		r := h.rooms[room]
		if r == nil || len(r.recent) == 0 {
			return
		}
		first, last := r.recent[0].Seq, r.recent[len(r.recent)-1].Seq
		from = since
		if last-since > int64(max) {
			from = last - int64(max)
		}
		if from+1 < first {
			return
		}
		ok = true
		if from >= last {
			from = since
			return
		}
		frames = append([]LogFrame(nil), r.recent[from+1-first:]...)
	})
	return frames, from, ok
}
