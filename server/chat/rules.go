package chat

import (
	"crypto/subtle"
	"slices"
	"strings"
	"time"

	"minichat/server/protocol"
	"minichat/server/store"
)

// The rules. Each is a pure function of the facts it is given — read by the
// caller inside the write transaction that acts on the answer, so a rule and
// the write it allows are one atomic step — and answers nil (allowed) or the
// error the user gets. rules_test.go holds the table of every rule.
//
// A room a user may not see is not found, exactly like an unknown id, so
// that ids of private and direct-message rooms reveal nothing.

// visible reports whether a user may see a room — know that it exists, read
// its messages, search it: public rooms to everyone, private and
// direct-message rooms to their members only.
func visible(r protocol.Room) bool { return r.Kind == protocol.RoomPublic || r.Member }

func errRoomNotFound() error { return protocol.Errorf(protocol.CodeNotFound, "room not found") }

func errMessageNotFound() error { return protocol.Errorf(protocol.CodeNotFound, "message not found") }

// mayView: who may read a room (r is the room as the user sees it; Kind ""
// for an unknown room).
func mayView(r protocol.Room) error {
	if r.Kind == "" || !visible(r) {
		return errRoomNotFound()
	}
	return nil
}

// mayWrite: who may add to a room's log — post, edit, delete, react: its
// members only, an admin too. what says what the user tried, for the
// answer to a non-member of a public room.
func mayWrite(r protocol.Room, what string) error {
	if err := mayBelong(r, what); err != nil {
		return err
	}
	return notArchived(r)
}

// mayBelong is mayWrite without the archive: the user may see the room and
// belongs to it.
func mayBelong(r protocol.Room, what string) error {
	if err := mayView(r); err != nil {
		return err
	}
	if !r.Member {
		return protocol.Errorf(protocol.CodeForbidden, "join the room to %s", what)
	}
	return nil
}

// mayJoin: anyone may join a public room; private and direct-message rooms
// are joined by invitation only, and to those outside them they are not
// found (mayView). Joining a room again changes nothing (already).
func mayJoin(r protocol.Room) (already bool, err error) {
	if err := mayView(r); err != nil {
		return false, err
	}
	return r.Member, nil
}

// mayLeave: a member may leave any room but a direct-message room.
func mayLeave(r protocol.Room) error {
	if r.Kind == "" || !r.Member {
		return errRoomNotFound()
	}
	if r.Kind == protocol.RoomDM {
		return protocol.Errorf(protocol.CodeForbidden, "direct-message rooms cannot be left")
	}
	return nil
}

// mayInvite: a member of a room (r as the inviter sees it) may invite
// anyone into it, but a direct-message room has its two users only.
func mayInvite(r protocol.Room) error {
	if r.Kind == "" || !r.Member {
		return errRoomNotFound()
	}
	if r.Kind == protocol.RoomDM {
		return protocol.Errorf(protocol.CodeForbidden, "nobody can be invited to a direct-message room")
	}
	return nil
}

// mayChange: a message of roomID may be edited or deleted by its sender, or
// by an admin (a member of the room: mayWrite comes first). A message of
// another room, or deleted (for an edit), is not found; a system message is
// nobody's to edit.
func mayChange(m protocol.Message, roomID string, user protocol.User, edit bool) error {
	if m.Room != roomID || (edit && m.Deleted) {
		return errMessageNotFound()
	}
	if edit && m.Kind != protocol.KindChat && m.Kind != protocol.KindMe {
		return protocol.Errorf(protocol.CodeForbidden, "a %s message cannot be edited", m.Kind)
	}
	if user.Role != protocol.RoleAdmin && (m.Sender == nil || m.Sender.ID != user.ID) {
		return protocol.Errorf(protocol.CodeForbidden, "only its sender or an admin may change a message")
	}
	return nil
}

// mayReact: any member may react to a message of the room that is not
// deleted (mayWrite comes first).
func mayReact(m protocol.Message, roomID string) error {
	if m.Room != roomID || m.Deleted {
		return errMessageNotFound()
	}
	return nil
}

// scope is what a user may see of the rooms: those they belong to, and
// every public room.
func scope(user protocol.User) store.Scope { return store.Scope{UserID: user.ID, Public: true} }

// mayDM: a direct message needs another user.
func mayDM(user, other protocol.User) error {
	if other.ID == user.ID {
		return protocol.Errorf(protocol.CodeBadRequest, "a direct message needs another user")
	}
	return nil
}

// conversationKey names the one direct-message room of a set of users
// (two for a DM, more for a group), whoever of them asks: their ids in byte
// order, joined by "|".
func conversationKey(ids []string) string {
	s := slices.Clone(ids)
	slices.Sort(s)
	return strings.Join(s, "|")
}

// checkSend is the rule of a chat message, which the store asks about each
// send with the facts it read in the send's transaction (a store.SendRule):
// the sender must be a member of a room that is not archived (mayWrite;
// a retry of a message stored before the archive is still answered); a retry of a stored
// client_id is then answered with the original; a reply must name a
// message of the same room; attachments must be files the sender uploaded.
func checkSend(req *store.SendRequest, f *store.SendFacts) error {
	if err := mayBelong(f.Room, "post in it"); err != nil {
		return err
	}
	if f.Duplicate {
		return nil // stored before the room was archived, if it is
	}
	if err := notArchived(f.Room); err != nil {
		return err
	}
	if req.ReplyTo != "" && f.ReplyRoom != req.RoomID {
		return protocol.Errorf(protocol.CodeNotFound, "reply_to message not found in this room")
	}
	for i, file := range f.Files {
		if file.ID == "" || file.UploaderID != req.SenderID {
			return protocol.Errorf(protocol.CodeNotFound, "attachment %s not found among your uploads", req.Attachments[i])
		}
	}
	return nil
}

// mayReadFile: a file may be read by its uploader, and by the members of a
// room where a message carries it (posted).
func mayReadFile(f store.File, userID string, posted bool) bool {
	return f.UploaderID == userID || posted
}

// role is the role of a new account: the first account ever is the admin
// (nobody else could make one), later ones are members unless made admins
// by the operator (minichat user add --admin).
func role(first, admin bool) string {
	if first || admin {
		return protocol.RoleAdmin
	}
	return protocol.RoleMember
}

// maySignIn: a disabled account cannot start a session.
func maySignIn(a store.Account) error {
	if a.Disabled {
		return protocol.Errorf(protocol.CodeForbidden, "this account is disabled; ask an administrator")
	}
	if a.Bot {
		return protocol.Errorf(protocol.CodeForbidden, "a bot signs in with an API token, not a password")
	}
	return nil
}

// The system messages: what the room's log says of a membership change.
func joinedText(name string) string  { return name + " joined" }
func leftText(name string) string    { return name + " left" }
func createdText(name string) string { return name + " created the room" }

// mayShareSignUp: the invitation link (reading it, resetting it) is an
// administrator's.
func mayShareSignUp(u protocol.User) error {
	if u.Role != protocol.RoleAdmin {
		return protocol.Errorf(protocol.CodeForbidden, "only an administrator may see or reset the invitation link")
	}
	return nil
}

func errSessionNotFound() error { return protocol.Errorf(protocol.CodeNotFound, "no such session") }

// mayEndSession: a user ends their own sessions; anyone else's is not
// found, exactly like an unknown id.
func mayEndSession(sess store.Session, user protocol.User) error {
	if sess.User.ID != user.ID {
		return errSessionNotFound()
	}
	return nil
}

// mayRegister: who may sign up on an instance that has accounts already.
// want is the instance's invitation code ("" when there is none).
func mayRegister(mode, code, want string) error {
	switch mode {
	case RegistrationOpen:
		return nil
	case RegistrationInvite:
		if code == "" || want == "" || subtle.ConstantTimeCompare([]byte(code), []byte(want)) != 1 {
			return protocol.Errorf(protocol.CodeInviteRequired, "sign-up needs a valid invitation link; ask someone on this server for one")
		}
		return nil
	}
	return protocol.Errorf(protocol.CodeForbidden, "registration is closed; ask an administrator for an account")
}

// mayUpload: an upload may not take the account's files past its quota.
func mayUpload(used, size, quota int64) error {
	if quota > 0 && used+size > quota {
		return protocol.Errorf(protocol.CodeQuotaExceeded, "this upload would take your files past your quota of %d bytes (%d in use); delete messages with files or wait for unsent uploads to expire", quota, used)
	}
	return nil
}

// SessionExpired reports whether a session has outlived idle or max (zero
// or negative: no such bound) at now.
func SessionExpired(sess store.Session, now time.Time, idle, max time.Duration) bool {
	return (idle > 0 && now.Sub(sess.LastSeen) > idle) || (max > 0 && now.Sub(sess.CreatedAt) > max)
}
