//go:build !wslibwriter

package ws

// libraryWriter selects how the flushers write a message: false, the
// default, frames it here and hands the frame to the sockWriter whole;
// true (build tag wslibwriter) writes it through the WebSocket library's
// Conn.Write. Both exist so the two can be measured from one tree.
const libraryWriter = false
