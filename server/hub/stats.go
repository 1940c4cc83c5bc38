package hub

// ReasonTooSlow is the close reason of a connection closed 4429 because its
// send queue overflowed (a slow consumer), as opposed to one closed 4429
// for flooding.
const ReasonTooSlow = "too slow to read"

// Delivered counts the room-log frames (message and update) that live
// fan-out has queued to connections; replays after hello are not counted.
// It is safe to call from any goroutine and does not wait for the loop,
// which adds to the counter atomically once per fanned-out event.
func (h *Hub) Delivered() uint64 { return h.delivered.Load() }
