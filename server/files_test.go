package server_test

import (
	"bytes"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"minichat/server"
)

// upload posts content as the multipart field "file" named name and returns
// the status and the decoded answer.
func (e *env) upload(token, name string, content []byte) (int, map[string]any) {
	e.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, err := mw.CreateFormFile("file", name)
	if err != nil {
		e.t.Fatal(err)
	}
	fw.Write(content)
	mw.Close()
	req, _ := http.NewRequest("POST", e.ts.URL+"/api/uploads", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return e.do(req)
}

// do runs a request and decodes a JSON answer.
func (e *env) do(req *http.Request) (int, map[string]any) {
	e.t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	raw, _ := io.ReadAll(resp.Body)
	if len(raw) > 0 && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &out); err != nil {
			e.t.Fatalf("bad JSON %q", raw)
		}
	}
	return resp.StatusCode, out
}

// uploaded uploads and returns the attachment, failing unless 201.
func (e *env) uploaded(u user, name string, content []byte) map[string]any {
	e.t.Helper()
	st, out := e.upload(u.Token, name, content)
	if st != http.StatusCreated {
		e.t.Fatalf("upload %s: %d %v", name, st, out)
	}
	return out["attachment"].(map[string]any)
}

// fetch GETs a path with a bearer token and returns the response with its
// body read.
func (e *env) fetch(token, path string) (*http.Response, []byte) {
	e.t.Helper()
	req, _ := http.NewRequest("GET", e.ts.URL+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, body
}

func pngBytes(t *testing.T) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 4, 4))
	img.Set(1, 1, color.RGBA{R: 255, A: 255})
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// blobs lists the content files kept under the data dir.
func (e *env) blobs() []string {
	e.t.Helper()
	var out []string
	root := filepath.Join(e.cfg.DataDir, "files")
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(root, p)
			out = append(out, rel)
		}
		return nil
	})
	return out
}

func TestUploadStoresDedupesAndServesByAccess(t *testing.T) {
	e := newEnv(t)
	e.register("root") // the first user is admin; the others are not
	alice, bob, carol := e.register("alice"), e.register("bob"), e.register("carol")
	_, out := e.call("POST", "/api/rooms", alice.Token, map[string]any{"name": "club", "private": true})
	club := out["room"].(map[string]any)["id"].(string)
	if st, _ := e.call("POST", "/api/rooms/"+club+"/invite", alice.Token, map[string]string{"username": "bob"}); st != 204 {
		t.Fatalf("invite %d", st)
	}

	pic := pngBytes(t)
	a := e.uploaded(alice, "dir/../Holiday photo.png", pic)
	id := a["id"].(string)
	if !strings.HasPrefix(id, "f_") || a["name"] != "Holiday photo.png" || a["size"] != float64(len(pic)) ||
		a["type"] != "image/png" || a["url"] != "/files/"+id {
		t.Fatalf("attachment %v", a)
	}
	// The same content again is a new record but one blob on disk.
	again := e.uploaded(alice, "copy.png", pic)
	if again["id"] == id {
		t.Fatal("second upload reused the id")
	}
	if b := e.blobs(); len(b) != 1 || !strings.HasPrefix(filepath.ToSlash(b[0]), b[0][:2]+"/") {
		t.Fatalf("blobs on disk %q, want one named by its hash", b)
	}

	// The uploader may fetch it before it is posted; nobody else may.
	resp, body := e.fetch(alice.Token, "/files/"+id)
	if resp.StatusCode != 200 || !bytes.Equal(body, pic) {
		t.Fatalf("uploader fetch: %d, %d bytes", resp.StatusCode, len(body))
	}
	h := resp.Header
	if h.Get("Content-Type") != "image/png" || h.Get("X-Content-Type-Options") != "nosniff" ||
		!strings.HasPrefix(h.Get("Content-Disposition"), "inline") || !strings.Contains(h.Get("Cache-Control"), "private") {
		t.Fatalf("image headers %v", h)
	}
	req, _ := http.NewRequest("HEAD", e.ts.URL+"/files/"+id, nil)
	req.Header.Set("Authorization", "Bearer "+alice.Token)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 || resp.ContentLength != int64(len(pic)) {
		t.Fatalf("HEAD: %v %v", resp, err)
	}
	for _, who := range []user{bob, carol} {
		if resp, _ := e.fetch(who.Token, "/files/"+id); resp.StatusCode != 404 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
			t.Fatalf("%s fetched an unposted file: %d", who.Name, resp.StatusCode)
		}
	}
	if resp, _ := e.fetch("", "/files/"+id); resp.StatusCode != 401 {
		t.Fatalf("anonymous fetch: %d", resp.StatusCode)
	}

	// Posted in the private club: bob (member) may read it, carol not.
	st, out := e.call("POST", "/api/rooms/"+club+"/messages", alice.Token, map[string]any{"attachments": []string{id}})
	if st != 201 {
		t.Fatalf("send with attachment: %d %v", st, out)
	}
	msg := out["message"].(map[string]any)
	if msg["text"] != "" || len(msg["attachments"].([]any)) != 1 || msg["attachments"].([]any)[0].(map[string]any)["name"] != "Holiday photo.png" {
		t.Fatalf("message %v", msg)
	}
	if resp, body := e.fetch(bob.Token, "/files/"+id); resp.StatusCode != 200 || !bytes.Equal(body, pic) {
		t.Fatalf("member fetch: %d", resp.StatusCode)
	}
	if resp, _ := e.fetch(carol.Token, "/files/"+id); resp.StatusCode != 404 {
		t.Fatalf("non-member fetch: %d", resp.StatusCode)
	}
	// The other record of the same content was not posted: still only alice's.
	if resp, _ := e.fetch(bob.Token, "/files/"+again["id"].(string)); resp.StatusCode != 404 {
		t.Fatalf("member fetched the unposted twin: %d", resp.StatusCode)
	}
	if resp, _ := e.fetch(alice.Token, "/files/f_doesnotexist"); resp.StatusCode != 404 {
		t.Fatalf("unknown id: %d", resp.StatusCode)
	}
	// Deleting the message ends bob's access.
	ac := e.dial(alice)
	ac.send(map[string]any{"type": "delete", "room": club, "id": msg["id"]})
	ac.next("update")
	if resp, _ := e.fetch(bob.Token, "/files/"+id); resp.StatusCode != 404 {
		t.Fatalf("member fetched the file of a deleted message: %d", resp.StatusCode)
	}
	if resp, _ := e.fetch(alice.Token, "/files/"+id); resp.StatusCode != 200 {
		t.Fatalf("uploader lost the file of a deleted message: %d", resp.StatusCode)
	}
}

func TestUploadTypesAndDispositions(t *testing.T) {
	e := newEnv(t)
	alice := e.register("alice")
	cases := []struct {
		name, content, wantType string
		inline                  bool
	}{
		{"drawing.svg", `<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`, "image/svg+xml", false},
		{"drawing2.svg", `<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>`, "image/svg+xml", false},
		{"page.html", `<html><script>alert(1)</script></html>`, "text/html; charset=utf-8", false},
		{"fake.png", `<html><script>alert(1)</script></html>`, "text/html; charset=utf-8", false},
		{"notes.png", "just some text", "text/plain; charset=utf-8", false},
		{"report.pdf", "%PDF-1.4 rest", "application/pdf", false},
		{"data.bin", "\x00\x01\x02\x03", "application/octet-stream", false},
		{"é \"quoted\".txt", "hello", "text/plain; charset=utf-8", false},
		{"GIF.GIF", "GIF89a....", "image/gif", true},
	}
	for _, tc := range cases {
		a := e.uploaded(alice, tc.name, []byte(tc.content))
		if a["type"] != tc.wantType {
			t.Errorf("%s: type %v, want %s", tc.name, a["type"], tc.wantType)
			continue
		}
		resp, body := e.fetch(alice.Token, a["url"].(string))
		h := resp.Header
		if resp.StatusCode != 200 || string(body) != tc.content || h.Get("Content-Type") != tc.wantType || h.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: %d %q %v", tc.name, resp.StatusCode, body, h)
			continue
		}
		cd := h.Get("Content-Disposition")
		if tc.inline {
			if !strings.HasPrefix(cd, "inline") {
				t.Errorf("%s: disposition %q, want inline", tc.name, cd)
			}
			continue
		}
		if !strings.HasPrefix(cd, "attachment") || !strings.Contains(cd, "filename") {
			t.Errorf("%s: disposition %q, want attachment with the name", tc.name, cd)
		}
		if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "sandbox") {
			t.Errorf("%s: CSP %q", tc.name, csp)
		}
	}
	// The original name comes back in the disposition, however odd.
	a := e.uploaded(alice, "é \"quoted\".txt", []byte("x"))
	resp, _ := e.fetch(alice.Token, a["url"].(string))
	_, params, err := mime.ParseMediaType(resp.Header.Get("Content-Disposition"))
	if err != nil || params["filename"] != "é \"quoted\".txt" {
		t.Fatalf("disposition %q: %v %v", resp.Header.Get("Content-Disposition"), params, err)
	}
}

func TestUploadLimitsAndBadRequests(t *testing.T) {
	e := newEnv(t, func(c *server.Config) { c.MaxUploadBytes = 1000 })
	alice := e.register("alice")
	general := e.roomID(alice, "general")
	a := e.dial(alice)
	if w := a.welcome; w.Limits.MaxUploadBytes != 1000 {
		t.Fatalf("welcome limits %+v", w.Limits)
	}
	if st, _ := e.upload(alice.Token, "exact.bin", bytes.Repeat([]byte{1}, 1000)); st != 201 {
		t.Fatalf("upload of exactly the limit: %d", st)
	}
	// Over the limit: 413, and nothing is kept, not even a temporary file.
	before := e.blobs()
	for _, size := range []int{1001, 200_000} {
		st, out := e.upload(alice.Token, "big.bin", bytes.Repeat([]byte{2}, size))
		if st != 413 || out["error"].(map[string]any)["code"] != "too_large" {
			t.Fatalf("upload of %d bytes: %d %v", size, st, out)
		}
	}
	if after := e.blobs(); len(after) != len(before) {
		t.Fatalf("refused uploads left files: %q", after)
	}
	if st, _ := e.upload("", "x.txt", []byte("x")); st != 401 {
		t.Fatalf("anonymous upload: %d", st)
	}
	req, _ := http.NewRequest("POST", e.ts.URL+"/api/uploads", strings.NewReader(`{"file":"x"}`))
	req.Header.Set("Authorization", "Bearer "+alice.Token)
	req.Header.Set("Content-Type", "application/json")
	if st, out := e.do(req); st != 400 || out["error"].(map[string]any)["code"] != "bad_request" {
		t.Fatalf("JSON upload: %d %v", st, out)
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("other", "value")
	mw.Close()
	req, _ = http.NewRequest("POST", e.ts.URL+"/api/uploads", &body)
	req.Header.Set("Authorization", "Bearer "+alice.Token)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	if st, out := e.do(req); st != 400 || out["error"].(map[string]any)["code"] != "bad_request" {
		t.Fatalf("form without file: %d %v", st, out)
	}
	// Attachments on send: only one's own uploads, each once, at most 10.
	bob := e.register("bob")
	bobs := e.uploaded(bob, "b.txt", []byte("bob's"))["id"].(string)
	mine := e.uploaded(alice, "a.txt", []byte("alice's"))["id"].(string)
	for _, tc := range []struct {
		ids  []string
		code string
	}{
		{[]string{bobs}, "not_found"},
		{[]string{"f_nothing"}, "not_found"},
		{[]string{mine, mine}, "bad_request"},
		{[]string{""}, "bad_request"},
		{[]string{"1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11"}, "bad_request"},
	} {
		st, out := e.call("POST", "/api/rooms/"+general+"/messages", alice.Token, map[string]any{"text": "x", "attachments": tc.ids})
		if code := out["error"].(map[string]any)["code"]; code != tc.code {
			t.Errorf("REST send with %v: %d %v, want %s", tc.ids, st, out, tc.code)
		}
		a.send(map[string]any{"type": "send", "room": general, "text": "x", "client_id": "c", "attachments": tc.ids, "ref": "r"})
		if f := a.next("error", "ack"); f.Error.Code != tc.code {
			t.Errorf("socket send with %v: %v, want %s", tc.ids, f, tc.code)
		}
	}
	if resp, _ := e.fetch(alice.Token, "/files/"+bobs); resp.StatusCode != 404 {
		t.Fatalf("a refused send made bob's file readable: %d", resp.StatusCode)
	}
}
