package server_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"minichat/server"
	"minichat/server/chat"
	"minichat/server/protocol"
)

// pngOf is a w×h PNG, red on the left half and blue on the right.
func pngOf(t *testing.T, w, h int) []byte {
	t.Helper()
	b, err := profilePNG(w, h)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func profilePNG(w, h int) ([]byte, error) {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			c := color.NRGBA{R: 255, A: 255}
			if x >= w/2 {
				c = color.NRGBA{B: 255, A: 255}
			}
			img.Set(x, y, c)
		}
	}
	var b bytes.Buffer
	err := png.Encode(&b, img)
	return b.Bytes(), err
}

// raw makes a request with a body of its own content type and returns the
// status, the headers and the body.
func (e *env) rawBody(method, path, token, ctype string, body []byte) (int, http.Header, []byte) {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.ts.URL+path, bytes.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := e.client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

func userOf(t *testing.T, body []byte) protocol.User {
	t.Helper()
	var out struct{ User protocol.User }
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatalf("bad JSON %q: %v", body, err)
	}
	return out.User
}

func (e *env) patchMe(u user, body string) (int, []byte) {
	e.t.Helper()
	st, _, b := e.rawBody("PATCH", "/api/me", u.Token, "application/json", []byte(body))
	return st, b
}

func TestProfileValidation(t *testing.T) {
	e := newEnv(t)
	alice := e.register("alice")

	// Invisible and bidi controls are stripped, white space collapsed.
	st, b := e.patchMe(alice, `{"display_name":"  \u202eAlice\u200b  Lidd\u2066ell\t","status_text":" on\nholiday "}`)
	if st != http.StatusOK {
		t.Fatalf("patch: %d %s", st, b)
	}
	if u := userOf(t, b); u.DisplayName != "Alice Liddell" || u.StatusText != "on holiday" || u.Name != "alice" {
		t.Fatalf("stored %+v", u)
	}
	// Any script, joiners kept.
	st, b = e.patchMe(alice, `{"display_name":"علی\u200cرضا 🧑\u200d💻"}`)
	if u := userOf(t, b); st != http.StatusOK || u.DisplayName != "علی\u200cرضا 🧑\u200d💻" || u.StatusText != "on holiday" {
		t.Fatalf("patch script: %d %+v", st, u)
	}

	bad := []struct{ name, body string }{
		{"display name too long", `{"display_name":"` + strings.Repeat("é", protocol.MaxDisplayName+1) + `"}`},
		{"status too long", `{"status_text":"` + strings.Repeat("x", protocol.MaxProfileStatus+1) + `"}`},
		{"not JSON", `{"display_name":`},
		{"wrong type", `{"display_name":5}`},
	}
	for _, c := range bad {
		if st, b := e.patchMe(alice, c.body); st != http.StatusBadRequest {
			t.Errorf("%s: %d %s, want 400", c.name, st, b)
		}
	}
	// Nothing changed by the refusals; PUT /api/me/profile is the same.
	_, me := e.call("GET", "/api/me", alice.Token, nil)
	if got := me["user"].(map[string]any)["display_name"]; got != "علی\u200cرضا 🧑\u200d💻" {
		t.Fatalf("after refusals: %v", me)
	}
	st, _, b = e.rawBody("PUT", "/api/me/profile", alice.Token, "application/json", []byte(`{"display_name":"\u200b ","status_text":""}`))
	if u := userOf(t, b); st != http.StatusOK || u.DisplayName != "" || u.StatusText != "" {
		t.Fatalf("clearing: %d %+v", st, u)
	}
	if st, _ := e.call("PATCH", "/api/me", "", map[string]string{"display_name": "x"}); st != http.StatusUnauthorized {
		t.Fatalf("without a session: %d", st)
	}
}

func TestProfileChangeReachesRoomMembersLive(t *testing.T) {
	e := newEnv(t)
	alice, bob, a, b, general := e.aliceAndBob()
	carol := e.register("carol")
	if st, out := e.call("POST", "/api/rooms/"+general+"/leave", carol.Token, nil); st >= 300 {
		t.Fatalf("carol leaves general: %d %v", st, out)
	}
	c := e.dial(carol)
	// Bob shares a second room with alice: he is still told once.
	st, out := e.call("POST", "/api/rooms", alice.Token, map[string]any{"name": "dev", "private": true})
	if st != http.StatusCreated {
		t.Fatalf("create dev: %d %v", st, out)
	}
	dev := out["room"].(map[string]any)["id"].(string)
	if st, out := e.call("POST", "/api/rooms/"+dev+"/invite", alice.Token, map[string]string{"username": "bob"}); st >= 300 {
		t.Fatalf("invite bob: %d %v", st, out)
	}
	b.next(protocol.TypeRoom)

	if st, b := e.patchMe(alice, `{"display_name":"Alice L.","status_text":"here"}`); st != http.StatusOK {
		t.Fatalf("patch: %d %s", st, b)
	}
	for _, cl := range []*client{b, a} {
		f := cl.next(protocol.TypeUser).User
		if f.User.ID != alice.ID || f.User.Name != "alice" || f.User.DisplayName != "Alice L." || f.User.StatusText != "here" {
			t.Fatalf("%s got %+v", cl.name, f)
		}
	}
	c.none(300*time.Millisecond, protocol.TypeUser)

	// A change that changes nothing tells no one.
	if st, _ := e.patchMe(alice, `{"display_name":"Alice L."}`); st != http.StatusOK {
		t.Fatal(st)
	}
	// Her messages carry the display name, live and in history.
	a.send(map[string]any{"type": "send", "room": general, "text": "hi", "client_id": "c1"})
	m := b.message()
	for m.Kind != protocol.KindChat { // carol left
		m = b.message()
	}
	if m.Sender == nil || m.Sender.DisplayName != "Alice L." {
		t.Fatalf("message sender %+v", m.Sender)
	}
	b.none(200*time.Millisecond, protocol.TypeUser)
	_, hist := e.call("GET", "/api/rooms/"+general+"/messages", bob.Token, nil)
	msgs := hist["messages"].([]any)
	last := msgs[len(msgs)-1].(map[string]any)["sender"].(map[string]any)
	if last["display_name"] != "Alice L." {
		t.Fatalf("history sender %v", last)
	}
	// Bob's welcome lists alice online with her profile.
	b2 := e.dial(bob)
	found := false
	for _, p := range b2.welcome.Online {
		if p.User.ID == alice.ID {
			found = p.User.DisplayName == "Alice L."
		}
	}
	if !found {
		t.Fatalf("welcome online %+v", b2.welcome.Online)
	}
}

func TestAvatarUpload(t *testing.T) {
	e := newEnv(t, func(c *server.Config) { c.AvatarMaxSide = 500; c.AvatarMaxBytes = 200 << 10 })
	alice, _, _, b, _ := e.aliceAndBob()

	st, _, body := e.rawBody("PUT", "/api/me/avatar", alice.Token, "image/png", pngOf(t, 300, 200))
	if st != http.StatusOK {
		t.Fatalf("put avatar: %d %s", st, body)
	}
	u := userOf(t, body)
	if !strings.HasPrefix(u.Avatar, "/api/avatars/") {
		t.Fatalf("avatar %q", u.Avatar)
	}
	if f := b.next(protocol.TypeUser).User; f.User.Avatar != u.Avatar {
		t.Fatalf("bob told %+v", f)
	}
	for _, c := range []struct {
		query string
		side  int
	}{{"", 256}, {"?size=256", 256}, {"?size=64", 64}, {"?size=9", 256}} {
		st, h, img := e.rawBody("GET", u.Avatar+c.query, alice.Token, "", nil)
		if st != http.StatusOK || h.Get("Content-Type") != "image/png" || !strings.Contains(h.Get("Cache-Control"), "immutable") {
			t.Fatalf("get %s: %d %v", c.query, st, h)
		}
		got, err := png.Decode(bytes.NewReader(img))
		if err != nil {
			t.Fatal(err)
		}
		if bd := got.Bounds(); bd.Dx() != c.side || bd.Dy() != c.side {
			t.Fatalf("%s: %v", c.query, bd)
		}
		// Cropped to the centre square: half red, half blue still.
		if r, _, bl, _ := got.At(c.side/8, c.side/2).RGBA(); r < 0xf000 || bl > 0x1000 {
			t.Fatalf("left of the crop is not red")
		}
		if r, _, bl, _ := got.At(c.side-c.side/8, c.side/2).RGBA(); bl < 0xf000 || r > 0x1000 {
			t.Fatalf("right of the crop is not blue")
		}
	}
	if st, _, _ := e.rawBody("GET", u.Avatar, "", "", nil); st != http.StatusUnauthorized {
		t.Fatalf("without a session: %d", st)
	}

	// Multipart works too, and changes the URL; the old one is gone.
	var mp bytes.Buffer
	mw := multipart.NewWriter(&mp)
	fw, _ := mw.CreateFormFile("file", "me.png")
	fw.Write(pngOf(t, 40, 40))
	mw.Close()
	st, _, body = e.rawBody("PUT", "/api/me/avatar", alice.Token, mw.FormDataContentType(), mp.Bytes())
	u2 := userOf(t, body)
	if st != http.StatusOK || u2.Avatar == u.Avatar || u2.Avatar == "" {
		t.Fatalf("multipart: %d %s", st, body)
	}
	if st, _, _ := e.rawBody("GET", u.Avatar, alice.Token, "", nil); st != http.StatusNotFound {
		t.Fatalf("old avatar: %d", st)
	}

	refused := []struct {
		name   string
		ctype  string
		body   []byte
		status int
	}{
		{"not an image", "image/png", []byte("hello, not a picture"), http.StatusBadRequest},
		{"empty", "image/png", nil, http.StatusBadRequest},
		{"too wide", "image/png", pngOf(t, 501, 10), http.StatusRequestEntityTooLarge},
		{"too many bytes", "image/png", append(pngOf(t, 10, 10), make([]byte, 201<<10)...), http.StatusRequestEntityTooLarge},
		{"huge header, small file", "image/png", hugePNGHeader(), http.StatusRequestEntityTooLarge},
	}
	for _, c := range refused {
		st, _, body := e.rawBody("PUT", "/api/me/avatar", alice.Token, c.ctype, c.body)
		if st != c.status {
			t.Errorf("%s: %d %s, want %d", c.name, st, body, c.status)
		}
	}
	_, me := e.call("GET", "/api/me", alice.Token, nil)
	if me["user"].(map[string]any)["avatar"] != u2.Avatar {
		t.Fatalf("refusals changed the avatar: %v", me)
	}

	st, _, body = e.rawBody("DELETE", "/api/me/avatar", alice.Token, "", nil)
	if u := userOf(t, body); st != http.StatusOK || u.Avatar != "" {
		t.Fatalf("delete: %d %s", st, body)
	}
	if st, _, _ := e.rawBody("GET", u2.Avatar+"?size=64", alice.Token, "", nil); st != http.StatusNotFound {
		t.Fatalf("deleted avatar served: %d", st)
	}
}

// hugePNGHeader is a PNG signature and header that claim 60000×60000
// pixels, and nothing after: refused before any pixel is decoded.
func hugePNGHeader() []byte {
	full, _ := profilePNG(1, 1)
	b := append([]byte(nil), full[:33]...) // signature + IHDR chunk
	b[16], b[17], b[18], b[19] = 0, 0, 0xea, 0x60
	b[20], b[21], b[22], b[23] = 0, 0, 0xea, 0x60
	binary.BigEndian.PutUint32(b[29:33], crc32.ChecksumIEEE(b[12:29]))
	return b
}

func TestProfileRateLimits(t *testing.T) {
	e := newEnv(t, func(c *server.Config) { c.AvatarRate = 2; c.ProfileRate = 2 })
	alice := e.register("alice")
	img := pngOf(t, 8, 8)
	for i := range 2 {
		if st, _, b := e.rawBody("PUT", "/api/me/avatar", alice.Token, "image/png", img); st != http.StatusOK {
			t.Fatalf("upload %d: %d %s", i, st, b)
		}
	}
	if st, _, b := e.rawBody("PUT", "/api/me/avatar", alice.Token, "image/png", img); st != http.StatusTooManyRequests {
		t.Fatalf("third upload in a minute: %d %s", st, b)
	}
	for i := range 2 {
		if st, b := e.patchMe(alice, `{"status_text":"take `+string(rune('a'+i))+`"}`); st != http.StatusOK {
			t.Fatalf("change %d: %d %s", i, st, b)
		}
	}
	if st, b := e.patchMe(alice, `{"status_text":"one too many"}`); st != http.StatusTooManyRequests {
		t.Fatalf("third change in a minute: %d %s", st, b)
	}
	_, me := e.call("GET", "/api/me", alice.Token, nil)
	if got := me["user"].(map[string]any)["status_text"]; got != "take b" {
		t.Fatalf("status after the refusal: %v", got)
	}
}

func TestPeopleSearch(t *testing.T) {
	e := newEnv(t)
	alice := e.register("alice")
	for _, n := range []string{"albert", "Alfred", "bob", "zed"} {
		e.register(n)
	}
	zed := e.register("zara")
	if st, b := e.patchMe(zed, `{"display_name":"Alba Zara"}`); st != http.StatusOK {
		t.Fatal(st, string(b))
	}
	svc := &chat.Service{Store: e.srv.Store()}
	if _, _, err := svc.SetDisabled(context.Background(), "albert", true); err != nil {
		t.Fatal(err)
	}

	search := func(q string) protocol.Users {
		t.Helper()
		st, _, b := e.rawBody("GET", "/api/users?"+q, alice.Token, "", nil)
		if st != http.StatusOK {
			t.Fatalf("search %s: %d %s", q, st, b)
		}
		var p protocol.Users
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	names := func(p protocol.Users) string {
		var n []string
		for _, u := range p.Users {
			n = append(n, u.Name)
		}
		return strings.Join(n, ",")
	}
	// Name prefix, display name prefix and a word of the display name,
	// without regard to case; albert is disabled.
	if got := names(search("q=AL")); got != "Alfred,alice,zara" {
		t.Fatalf("q=AL: %s", got)
	}
	if got := names(search("q=" + url.QueryEscape("@zar"))); got != "zara" {
		t.Fatalf("q=@zar: %s", got)
	}
	if got := names(search("q=%25")); got != "" {
		t.Fatalf("a LIKE wildcard matched: %s", got)
	}
	// Paging: every active account once, in name order.
	var all []string
	cursor := ""
	for range 10 {
		p := search("limit=2&cursor=" + url.QueryEscape(cursor))
		all = append(all, names(p))
		if p.Next == nil {
			break
		}
		cursor = *p.Next
	}
	if got := strings.Join(all, "|"); got != "Alfred,alice|bob,zara|zed" {
		t.Fatalf("pages %s", got)
	}
	for _, q := range []string{"limit=0", "limit=x", "cursor=" + url.QueryEscape("a b"), "q=" + strings.Repeat("a", protocol.MaxUserQuery+1)} {
		if st, _, b := e.rawBody("GET", "/api/users?"+q, alice.Token, "", nil); st != http.StatusBadRequest {
			t.Errorf("%s: %d %s", q, st, b)
		}
	}
	if st, _, _ := e.rawBody("GET", "/api/users", "", "", nil); st != http.StatusUnauthorized {
		t.Fatalf("without a session: %d", st)
	}
}
