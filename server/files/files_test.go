package files

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCleanName(t *testing.T) {
	long := strings.Repeat("é", 200) // 400 bytes
	cases := map[string]string{
		"photo.png":             "photo.png",
		"../../etc/passwd":      "passwd",
		`C:\Users\me\doc.pdf`:   "doc.pdf",
		"bad\x00\x1b[31mname\n": "bad[31mname",
		"  spaced  ":            "spaced",
		"":                      "file",
		"..":                    "file",
		"dir/":                  "file",
		"bad\xffutf8.txt":       "badutf8.txt",
	}
	for in, want := range cases {
		if got := CleanName(in); got != want {
			t.Errorf("CleanName(%q) = %q, want %q", in, got, want)
		}
	}
	got := CleanName(long)
	if len(got) > MaxNameBytes || !utf8.ValidString(got) || !strings.HasPrefix(long, got) || len(got) < MaxNameBytes-1 {
		t.Errorf("CleanName(400 bytes) = %d bytes, valid %v", len(got), utf8.ValidString(got))
	}
}

func TestPutDedupesAndLimits(t *testing.T) {
	dir := t.TempDir()
	// A temporary file left by an interrupted upload is removed at Open.
	os.MkdirAll(filepath.Join(dir, "tmp"), 0o750)
	os.WriteFile(filepath.Join(dir, "tmp", "upload-stale"), []byte("x"), 0o600)
	b, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(filepath.Join(dir, "tmp")); len(ents) != 0 {
		t.Fatalf("stale temporary files kept: %v", ents)
	}
	content := bytes.Repeat([]byte("0123456789"), 100) // 1000 bytes
	blob, err := b.Put(bytes.NewReader(content), 1000)
	if err != nil {
		t.Fatal(err)
	}
	if blob.Size != 1000 || len(blob.SHA256) != 64 || !bytes.Equal(blob.Head, content[:SniffLen]) {
		t.Fatalf("blob %+v", blob)
	}
	again, err := b.Put(bytes.NewReader(content), 1000)
	if err != nil || again.SHA256 != blob.SHA256 {
		t.Fatalf("second put %+v, %v", again, err)
	}
	f, err := b.Open(blob.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(f)
	f.Close()
	if !bytes.Equal(got, content) {
		t.Fatal("content differs")
	}
	if _, err := b.Put(bytes.NewReader(content), 999); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("over the limit: %v", err)
	}
	var files []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, p)
		}
		return nil
	})
	if want := filepath.Join(dir, blob.SHA256[:2], blob.SHA256); len(files) != 1 || files[0] != want {
		t.Fatalf("files %q, want only %s", files, want)
	}
	for _, bad := range []string{"", "../x", strings.Repeat("g", 64)} {
		if _, err := b.Open(bad); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("Open(%q): %v", bad, err)
		}
	}
}

func TestContentType(t *testing.T) {
	png := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
	cases := []struct {
		name, head, want string
	}{
		{"x.png", string(png), "image/png"},
		{"x.txt", string(png), "image/png"},
		{"x.png", "plain text", "text/plain; charset=utf-8"},
		{"x.svg", "<svg/>", "image/svg+xml"},
		{"x.html", "plain", "text/html; charset=utf-8"},
		{"x.svg", "<html><body>", "text/html; charset=utf-8"},
		{"x", "\x00\x01", "application/octet-stream"},
	}
	for _, tc := range cases {
		if got := ContentType(tc.name, []byte(tc.head)); got != tc.want {
			t.Errorf("ContentType(%q, %q) = %q, want %q", tc.name, tc.head, got, tc.want)
		}
	}
	if Inline("image/svg+xml") || Inline("text/html; charset=utf-8") || !Inline("image/webp") {
		t.Error("Inline")
	}
}
