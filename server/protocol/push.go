package protocol

// Web Push (docs/protocol.md, "Push notifications"): what the REST API
// answers about a user's devices, and what a push carries.

// PushDevice is one of the user's devices subscribed to pushes (a
// "subscription" of the REST API; named apart from the browser's
// PushSubscription), as its owner sees it: never its keys, nor its endpoint's path (a secret of
// the device), only the push service's origin.
type PushDevice struct {
	ID             string `json:"id"`
	Label          string `json:"label"`
	EndpointOrigin string `json:"endpoint_origin"`
	// CreatedAt and LastSuccessAt are Unix milliseconds; LastSuccessAt,
	// when a push service last accepted a push for the device, is absent
	// before the first.
	CreatedAt     int64 `json:"created_at"`
	LastSuccessAt int64 `json:"last_success_at,omitempty"`
}

// PushPayload is the JSON a push carries (encrypted for the device), as
// the client's service worker reads it.
type PushPayload struct {
	V     int    `json:"v"` // 1
	Title string `json:"title"`
	Body  string `json:"body"`
	// RoomID, Room, Seq and MessageID are absent in a test push. Room is
	// what the client's hash names: the room's name, or a DM's room id.
	RoomID    string `json:"room_id,omitempty"`
	Room      string `json:"room,omitempty"`
	Seq       int64  `json:"seq,omitempty"`
	MessageID string `json:"message_id,omitempty"`
	// URL opens the message ("/#/<room>?m=<message_id>"); Tag groups a
	// room's notifications ("room:<room_id>").
	URL string `json:"url"`
	Tag string `json:"tag"`
}
