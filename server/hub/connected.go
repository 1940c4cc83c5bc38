package hub

import "minichat/server/protocol"

// Connected reports which of uids have a socket open anywhere in the
// cluster, as this node's presence knows it: a connection here, or another
// node's report of the user as online or away. A user whose last socket
// closed less than Options.PresenceGrace ago still counts (presence has not
// yet said offline). It answers nothing after Shutdown.
//
// Web Push asks it: a user connected somewhere sees the message there.
func (h *Hub) Connected(uids []string) map[string]bool {
	out := make(map[string]bool, len(uids))
	h.do(func() {
		for _, uid := range uids {
			if u := h.users[uid]; u != nil && (len(u.conns) > 0 || u.status != protocol.StatusOffline) {
				out[uid] = true
				continue
			}
			if ru := h.remote[uid]; ru != nil {
				for _, p := range ru.nodes {
					if p.Status != protocol.StatusOffline {
						out[uid] = true
						break
					}
				}
			}
		}
	})
	return out
}
