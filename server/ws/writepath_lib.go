//go:build wslibwriter

package ws

// libraryWriter: see writepath_raw.go.
const libraryWriter = true
