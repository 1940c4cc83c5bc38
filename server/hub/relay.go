package hub

import "time"

// RelayInterval is the least time between two typing changes of one user
// in one room, or two status changes of one user, that the hub acts on.
// A client that sends more often is held back: the hub keeps only the
// latest state and acts on it when the interval is over, so the last state
// wins and its members see at most one frame per interval, however fast a
// script toggles.
const RelayInterval = time.Second

// relay is the held-back change of one key (a user in a room for typing, a
// user for status) while its interval runs.
type relay struct {
	pending func() // the latest change held back; nil when none
}

// throttle runs apply now when key has not changed within RelayInterval,
// and otherwise keeps it as the key's pending change, which replaces any
// earlier one and runs when the interval ends. Runs on the loop.
func (h *Hub) throttle(key string, apply func()) {
	if r := h.relays[key]; r != nil {
		r.pending = apply
		return
	}
	apply()
	r := &relay{}
	h.relays[key] = r
	h.armRelay(key, r)
}

func (h *Hub) armRelay(key string, r *relay) {
	time.AfterFunc(RelayInterval, func() {
		h.post(func() {
			if h.relays[key] != r {
				return
			}
			if r.pending == nil {
				delete(h.relays, key)
				return
			}
			apply := r.pending
			r.pending = nil
			apply()
			h.armRelay(key, r)
		})
	})
}

// dropPending forgets the change held back for key, if any.
func (h *Hub) dropPending(key string) {
	if r := h.relays[key]; r != nil {
		r.pending = nil
	}
}

func typingKey(roomID, userID string) string { return "t\x00" + roomID + "\x00" + userID }

func statusKey(userID string) string { return "s\x00" + userID }
