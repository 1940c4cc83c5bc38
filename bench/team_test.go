package bench

import (
	"slices"
	"testing"
)

// The team layout gives every account a team room, the same on every run
// (tokens and memberships are kept between runs), the first room the
// largest and the sizes falling off.
func TestTeamRoomsAreStableAndZipf(t *testing.T) {
	cfg := &config{Users: 1000, TeamRooms: 300}
	a, b := cfg.teamRooms(), cfg.teamRooms()
	if !slices.Equal(a, b) {
		t.Fatal("team rooms differ between runs")
	}
	size := make([]int, cfg.TeamRooms)
	for _, k := range a {
		if k < 0 || k >= cfg.TeamRooms {
			t.Fatalf("room %d out of range", k)
		}
		size[k]++
	}
	if size[0] != slices.Max(size) || size[0] < 10*size[cfg.TeamRooms/2] {
		t.Fatalf("sizes %v: want the first room largest, well above the middle ones", size[:10])
	}
}
