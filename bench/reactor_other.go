//go:build !linux

package bench

import (
	"context"
	"errors"
)

// rawReaderSupported tells whether this platform has the raw reader.
const rawReaderSupported = false

// reactor is Linux-only; elsewhere every socket has a reading goroutine.
type reactor struct{}

func newReactors(int) ([]*reactor, error) {
	return nil, errors.New("the epoll reader needs Linux")
}

func stopReactors([]*reactor) {}

func (*reactor) dial(context.Context, *client) (sock, error) {
	return nil, errors.New("the epoll reader needs Linux")
}
