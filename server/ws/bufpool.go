package ws

import "sync"

// Large writes borrow their buffers. A frame longer than a flusher's join
// buffer — a welcome that lists a thousand people online is ~85 KB — was
// copied into a buffer made for it, and what the kernel did not take at
// once into a backlog made for it too: in a connect storm, two large
// allocations per socket that were garbage a moment later, and most of
// the collector's work. Both now come from this pool and go back to it
// once written.

// maxPooled is the largest buffer kept for reuse; a larger one (a rare
// frame near the read limit) is left to the collector.
const maxPooled = 1 << 20

var bigBufs sync.Pool // of *[]byte, each with a capacity over joinBufSize

// borrow returns an empty buffer with room for n bytes.
func borrow(n int) []byte {
	if v, ok := bigBufs.Get().(*[]byte); ok {
		if b := *v; cap(b) >= n {
			return b[:0]
		}
		// Too small for this one: let it go, so the pool holds the sizes
		// in use.
	}
	return make([]byte, 0, n)
}

// giveBack returns a buffer borrow handed out (or any other that nothing
// refers to any more) for reuse.
func giveBack(b []byte) {
	if c := cap(b); c <= frameHeadroom+joinBufSize || c > maxPooled {
		return
	}
	b = b[:0]
	bigBufs.Put(&b)
}
