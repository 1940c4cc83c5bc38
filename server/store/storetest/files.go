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
	var f store.File
	e.write(func(tx store.Tx) (_ []store.Event, err error) {
		f, err = tx.CreateFile(store.NewFile{Name: name, Size: 42, Type: "image/png", SHA256: sha, UploaderID: u.ID})
		return nil, err
	})
	return f
}

// posted reports whether f is posted where u can see it, failing unless
// File returns f itself.
func (e *env) posted(f store.File, u protocol.User) bool {
	e.t.Helper()
	got, posted, err := e.s.File(e.ctx, f.ID, u.ID)
	if err != nil || !reflect.DeepEqual(got, f) {
		e.t.Fatalf("File(%s) = %+v, %v; want %+v", f.ID, got, err, f)
	}
	return posted
}

func testFiles(t *testing.T, e *env) {
	alice := e.user("alice")
	e.rec.take()
	const sha = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	var f store.File
	e.write(func(tx store.Tx) (_ []store.Event, err error) {
		f, err = tx.CreateFile(store.NewFile{Name: "photo one.png", Size: 1234, Type: "image/png", SHA256: sha, UploaderID: alice.ID})
		return nil, err
	})
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
	err := e.s.Write(e.ctx, nil, func(tx store.Tx) ([]store.Event, error) {
		_, err := tx.CreateFile(store.NewFile{Name: "x", Size: 1, Type: "text/plain", SHA256: sha, UploaderID: "u_nobody"})
		return nil, err
	})
	wantErr(t, "CreateFile(unknown uploader)", err, store.ErrNotFound)
	if evs := e.rec.take(); len(evs) != 0 {
		t.Fatalf("CreateFile produced %q", describe(evs))
	}
	if e.posted(f, alice) {
		t.Fatal("a file never sent is posted")
	}
	_, _, err = e.s.File(e.ctx, "f_nothing", alice.ID)
	wantErr(t, "File(unknown)", err, store.ErrNotFound)
	e.reopen()
	e.posted(f, alice)
}

func testAttachments(t *testing.T, e *env) {
	alice := e.user("alice")
	bob := e.user("bob")
	carol := e.user("carol")
	g := e.general(alice)
	priv := e.room(alice, "priv", protocol.RoomPrivate)
	e.join(priv.ID, bob)
	pic := e.file(alice, "a.png", "aa")
	doc := e.file(alice, "b.pdf", "bb")
	e.rec.take()

	// Text may be empty; attachments keep their order and come whole.
	m, dup, err := e.sendReq(store.SendRequest{RoomID: priv.ID, SenderID: alice.ID, ClientID: "att1", Attachments: []string{doc.ID, pic.ID}})
	want := []protocol.Attachment{doc.Attachment(), pic.Attachment()}
	if err != nil || dup || m.Text != "" || !reflect.DeepEqual(m.Attachments, want) {
		t.Fatalf("sent %+v dup %v %v, want attachments %+v", m, dup, err, want)
	}
	evs := e.rec.take()
	wantEvents(t, evs, "message chat ")
	if !reflect.DeepEqual(evs[0].Message, m) {
		t.Fatalf("event message %+v, want %+v", evs[0].Message, m)
	}
	page, _, err := e.s.History(e.ctx, priv.ID, 0, 1)
	if err != nil || len(page) != 1 || !reflect.DeepEqual(page[0], m) {
		t.Fatalf("History = %+v, %v; want %+v", page, err, m)
	}
	if log := e.log(priv.ID); !reflect.DeepEqual(log[len(log)-1].Message, m) {
		t.Fatalf("Since = %+v, want %+v", log[len(log)-1].Message, m)
	}
	// A retry returns the original with its attachments.
	again, dup, err := e.sendReq(store.SendRequest{RoomID: priv.ID, SenderID: alice.ID, ClientID: "att1", Attachments: []string{doc.ID, pic.ID}})
	if err != nil || !dup || !reflect.DeepEqual(again, m) {
		t.Fatalf("retry %+v dup %v %v", again, dup, err)
	}
	// Posted for the members of the room only.
	if !e.posted(pic, bob) || !e.posted(doc, alice) || e.posted(pic, carol) {
		t.Fatal("posted files: members do not see them posted, or a non-member does")
	}
	// Posted in general, where everyone is a member: carol sees it posted,
	// and no longer after she leaves.
	gm, _, err := e.sendReq(store.SendRequest{RoomID: g.ID, SenderID: alice.ID, Text: "see", Attachments: []string{pic.ID}})
	must(t, "send(general)", err)
	if !e.posted(pic, carol) || e.posted(doc, carol) {
		t.Fatal("carol, a member of general, does not see the file posted there, or sees one posted elsewhere")
	}
	e.leave(g.ID, carol)
	if e.posted(pic, carol) {
		t.Fatal("a file is posted for carol after she left the only room where it was posted")
	}

	// A tombstone drops its attachments: its files are no longer posted
	// through it.
	del := e.del(priv.ID, m.ID)
	if len(del.Attachments) != 0 {
		t.Fatalf("tombstone keeps attachments %+v", del.Attachments)
	}
	if e.posted(doc, bob) || !e.posted(pic, bob) {
		t.Fatal("after delete: bob still sees the file posted, or lost one still posted in general")
	}
	// Edits keep attachments.
	ed := e.edit(g.ID, gm.ID, "edited")
	if !reflect.DeepEqual(ed.Attachments, []protocol.Attachment{pic.Attachment()}) {
		t.Fatalf("edited message attachments %+v", ed.Attachments)
	}
	e.reopen()
	page, _, err = e.s.History(e.ctx, g.ID, gm.Seq+1, 1)
	if err != nil || len(page) != 1 || !reflect.DeepEqual(page[0], ed) {
		t.Fatalf("after reopen History = %+v, %v; want %+v", page, err, ed)
	}
}
