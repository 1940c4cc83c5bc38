package storetest

import (
	"reflect"
	"strings"
	"testing"

	"minichat/server/protocol"
	"minichat/server/store"
)

func (e *env) file(u protocol.User, name, sha string) store.File {
	e.t.Helper()
	f, err := e.s.CreateFile(e.ctx, store.NewFile{Name: name, Size: 42, Type: "image/png", SHA256: sha, UploaderID: u.ID})
	if err != nil {
		e.t.Fatalf("CreateFile(%s): %v", name, err)
	}
	return f
}

// canRead reports whether u may read file f, failing on errors other than
// ErrNotFound.
func (e *env) canRead(f store.File, u protocol.User) bool {
	e.t.Helper()
	got, err := e.s.File(e.ctx, f.ID, u.ID)
	if err == nil {
		if !reflect.DeepEqual(got, f) {
			e.t.Fatalf("File(%s) = %+v, want %+v", f.ID, got, f)
		}
		return true
	}
	wantErr(e.t, "File", err, store.ErrNotFound)
	return false
}

func testFiles(t *testing.T, e *env) {
	alice := e.user("alice")
	bob := e.user("bob")
	e.rec.take()
	const sha = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	f, err := e.s.CreateFile(e.ctx, store.NewFile{Name: "photo one.png", Size: 1234, Type: "image/png", SHA256: sha, UploaderID: alice.ID})
	must(t, "CreateFile", err)
	if !strings.HasPrefix(f.ID, "f_") || len(f.ID) != 22 || f.Name != "photo one.png" || f.Size != 1234 ||
		f.Type != "image/png" || f.SHA256 != sha || f.UploaderID != alice.ID {
		t.Fatalf("created file %+v", f)
	}
	if _, err := protocolTime(protocol.FormatTime(f.CreatedAt)); err != nil {
		t.Fatal(err)
	}
	want := protocol.Attachment{ID: f.ID, Name: "photo one.png", Size: 1234, Type: "image/png", URL: "/files/" + f.ID}
	if a := f.Attachment(); a != want {
		t.Fatalf("Attachment() = %+v, want %+v", a, want)
	}
	// The same content uploaded again is a record of its own.
	f2 := e.file(alice, "copy.png", sha)
	if f2.ID == f.ID || f2.SHA256 != f.SHA256 {
		t.Fatalf("second record of the same content %+v", f2)
	}
	_, err = e.s.CreateFile(e.ctx, store.NewFile{Name: "x", Size: 1, Type: "text/plain", SHA256: sha, UploaderID: "u_nobody"})
	wantErr(t, "CreateFile(unknown uploader)", err, store.ErrNotFound)
	if evs := e.rec.take(); len(evs) != 0 {
		t.Fatalf("CreateFile produced %q", describe(evs))
	}

	// Before it is posted only the uploader may read a file.
	if !e.canRead(f, alice) || e.canRead(f, bob) {
		t.Fatal("an unposted file is readable by someone other than (only) its uploader")
	}
	_, err = e.s.File(e.ctx, "f_nothing", alice.ID)
	wantErr(t, "File(unknown)", err, store.ErrNotFound)
	_, err = e.s.File(e.ctx, f.ID, "")
	wantErr(t, "File(no viewer)", err, store.ErrNotFound)
	e.reopen()
	if !e.canRead(f, alice) {
		t.Fatal("file record lost on reopen")
	}
}

func testAttachments(t *testing.T, e *env) {
	alice := e.user("alice")
	bob := e.user("bob")
	carol := e.user("carol")
	g := e.general(alice)
	priv := e.room(alice, "priv", protocol.RoomPrivate)
	must(t, "Invite", e.s.Invite(e.ctx, priv.ID, alice.ID, bob.ID))
	pic := e.file(alice, "a.png", "aa")
	doc := e.file(alice, "b.pdf", "bb")
	bobs := e.file(bob, "bob.txt", "cc")
	e.rec.take()

	// Text may be empty; attachments keep their order and come whole.
	m, dup, err := e.s.Send(e.ctx, store.SendRequest{RoomID: priv.ID, SenderID: alice.ID, ClientID: "att1",
		Attachments: []string{doc.ID, pic.ID}})
	must(t, "Send(attachments)", err)
	want := []protocol.Attachment{doc.Attachment(), pic.Attachment()}
	if dup || m.Text != "" || !reflect.DeepEqual(m.Attachments, want) {
		t.Fatalf("sent %+v dup %v, want attachments %+v", m, dup, want)
	}
	evs := e.rec.take()
	wantEvents(t, evs, "message chat ")
	if !reflect.DeepEqual(evs[0].Message, m) {
		t.Fatalf("event message %+v, want %+v", evs[0].Message, m)
	}
	page, _, err := e.s.History(e.ctx, priv.ID, 0, 1)
	must(t, "History", err)
	if len(page) != 1 || !reflect.DeepEqual(page[0], m) {
		t.Fatalf("History = %+v, want %+v", page, m)
	}
	if log := e.log(priv.ID); !reflect.DeepEqual(log[len(log)-1].Message, m) {
		t.Fatalf("Since = %+v, want %+v", log[len(log)-1].Message, m)
	}
	// A retry returns the original with its attachments.
	again, dup, err := e.s.Send(e.ctx, store.SendRequest{RoomID: priv.ID, SenderID: alice.ID, ClientID: "att1",
		Attachments: []string{doc.ID, pic.ID}})
	must(t, "Send(retry)", err)
	if !dup || !reflect.DeepEqual(again, m) {
		t.Fatalf("retry %+v dup %v", again, dup)
	}

	// Members of the room may read the files; others may not.
	if !e.canRead(pic, bob) || !e.canRead(doc, bob) || e.canRead(pic, carol) {
		t.Fatal("posted files: members cannot read them or a non-member can")
	}
	// Only files the sender uploaded may be attached; a refused send
	// stores nothing.
	before := e.roomOf(priv.ID, alice).LastSeq
	e.rec.take()
	_, _, err = e.s.Send(e.ctx, store.SendRequest{RoomID: priv.ID, SenderID: alice.ID, Text: "steal", Attachments: []string{bobs.ID}})
	wantErr(t, "Send(another user's file)", err, store.ErrNotFound)
	_, _, err = e.s.Send(e.ctx, store.SendRequest{RoomID: priv.ID, SenderID: alice.ID, Text: "x", Attachments: []string{pic.ID, "f_nothing"}})
	wantErr(t, "Send(unknown file)", err, store.ErrNotFound)
	if evs := e.rec.take(); len(evs) != 0 || e.roomOf(priv.ID, alice).LastSeq != before {
		t.Fatalf("refused sends produced %q or took seqs", describe(evs))
	}
	if e.canRead(bobs, alice) {
		t.Fatal("a refused send made another user's file readable")
	}
	// Posting in general, which every user joined: carol reads the file,
	// and no longer after she leaves.
	gm, _, err := e.s.Send(e.ctx, store.SendRequest{RoomID: g.ID, SenderID: alice.ID, Text: "see", Attachments: []string{pic.ID}})
	must(t, "Send(general)", err)
	if !e.canRead(pic, carol) || e.canRead(doc, carol) {
		t.Fatal("carol, a member of general, cannot read the file posted there or can read one posted elsewhere")
	}
	must(t, "Leave", e.s.Leave(e.ctx, g.ID, carol.ID))
	if e.canRead(pic, carol) {
		t.Fatal("carol still reads a file after leaving the only room where it was posted")
	}

	// Deleting the message drops its attachments; its files are no longer
	// readable through it, still by their uploader.
	del, err := e.s.Delete(e.ctx, priv.ID, m.ID, alice.ID, false)
	must(t, "Delete", err)
	if len(del.Attachments) != 0 {
		t.Fatalf("tombstone keeps attachments %+v", del.Attachments)
	}
	if e.canRead(doc, bob) || !e.canRead(doc, alice) {
		t.Fatal("after delete: bob still reads the file, or its uploader does not")
	}
	if !e.canRead(pic, bob) {
		t.Fatal("bob lost a file still posted in general")
	}
	// Edits keep attachments.
	ed, err := e.s.Edit(e.ctx, g.ID, gm.ID, alice.ID, false, "edited")
	must(t, "Edit", err)
	if !reflect.DeepEqual(ed.Attachments, []protocol.Attachment{pic.Attachment()}) {
		t.Fatalf("edited message attachments %+v", ed.Attachments)
	}
	e.reopen()
	page, _, err = e.s.History(e.ctx, g.ID, gm.Seq+1, 1)
	must(t, "History", err)
	if len(page) != 1 || !reflect.DeepEqual(page[0], ed) {
		t.Fatalf("after reopen History = %+v, want %+v", page, ed)
	}
}
