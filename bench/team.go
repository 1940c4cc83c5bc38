package bench

import (
	"context"
	"fmt"
	"math/rand"
)

// The team layout (--team-rooms N): besides the bench room, which every
// account is in (a team's general), each account joins one of N more
// rooms, <room>-team-0 … <room>-team-(N-1), whose sizes follow a Zipf
// law (the first is the largest), as a team's rooms do. The sockets follow
// the bench room; the other rooms make each welcome and each person's
// presence reach what they would in such a team.

// teamRoomName is the name of team room k.
func (cfg *config) teamRoomName(k int) string { return fmt.Sprintf("%s-team-%d", cfg.Room, k) }

// teamRooms assigns each account its team room, the same on every run.
func (cfg *config) teamRooms() []int {
	if cfg.TeamRooms <= 0 {
		return nil
	}
	out := make([]int, cfg.Users)
	if cfg.TeamRooms == 1 {
		return out
	}
	z := rand.NewZipf(rand.New(rand.NewSource(25)), 1.1, 1, uint64(cfg.TeamRooms-1))
	for u := range out {
		out[u] = int(z.Uint64())
	}
	return out
}

// ensureTeamRooms makes the team rooms (as the first account) and returns
// their ids.
func ensureTeamRooms(ctx context.Context, cfg *config, a *api, token string) ([]string, error) {
	ids := make([]string, cfg.TeamRooms)
	for k := range ids {
		r, err := a.ensureRoom(ctx, token, cfg.teamRoomName(k))
		if err != nil {
			return nil, fmt.Errorf("bench: room %s: %w", cfg.teamRoomName(k), err)
		}
		ids[k] = r.ID
	}
	return ids, nil
}
