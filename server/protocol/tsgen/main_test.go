package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// committed is the generated file, relative to this package's folder.
var committed = filepath.Join("..", "..", "..", "frontend", "src", "protocol.gen.ts")

// TestGeneratedFileIsCurrent fails when the TypeScript types of the web
// client drift from the Go protocol package.
func TestGeneratedFileIsCurrent(t *testing.T) {
	want, err := Generate()
	if err != nil {
		t.Fatalf("generate: %v", err)
	}
	got, err := os.ReadFile(committed)
	if err != nil {
		t.Fatalf("read %s: %v", committed, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is out of date with server/protocol: run `go generate ./server/protocol/tsgen` "+
			"(or `go run ./server/protocol/tsgen -o frontend/src/protocol.gen.ts` from the repo root) and commit the result", committed)
	}
}

// TestEveryFrameTypeIsPlaced checks that the tables name every frame type
// constant of the package exactly once.
func TestEveryFrameTypeIsPlaced(t *testing.T) {
	out, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range serverFrames {
		if !bytes.Contains(out, []byte("type: typeof "+f.typeConst+";")) {
			t.Errorf("server frame %s missing from the output", f.tsName)
		}
	}
	for _, f := range clientFrames {
		if !bytes.Contains(out, []byte("export interface "+f.tsName+" {")) {
			t.Errorf("client frame %s missing from the output", f.tsName)
		}
	}
}
