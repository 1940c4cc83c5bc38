//go:build !race

package server_test

// raceEnabled tells tests that measure CPU or time that the race detector
// is on.
const raceEnabled = false
