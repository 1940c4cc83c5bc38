package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"slices"
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

// TestFrameUnionsAreDiscriminated checks that ServerFrame has one member
// for each server frame type and ClientFrame one for each client frame
// type (the client-only ones and those shared with the server), each with
// its own type literal, so that a switch on type narrows to one frame.
func TestFrameUnionsAreDiscriminated(t *testing.T) {
	out, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	src := string(out)
	typeOf := map[string]string{} // interface → its type constant
	for _, m := range regexp.MustCompile(`export interface (\w+) \{\n(?:  .*\n)*?  type: typeof (\w+);`).FindAllStringSubmatch(src, -1) {
		typeOf[m[1]] = m[2]
	}
	union := func(pattern string) []string {
		m := regexp.MustCompile(pattern).FindStringSubmatch(src)
		if m == nil {
			t.Fatalf("no %s in the output", pattern)
		}
		return regexp.MustCompile(`\w+`).FindAllString(m[1], -1)
	}
	constants := func(name string) []string {
		var cs []string
		for _, c := range union(`export type ` + name + ` = ([^;]+);`) {
			if c != "typeof" {
				cs = append(cs, c)
			}
		}
		return cs
	}
	for _, u := range []struct {
		union string
		types []string
	}{
		{"ServerFrame", constants("ServerFrameType")},
		{"ClientFrame", append(constants("ClientOnlyFrameType"), "TypeTyping", "TypeHistory")},
	} {
		var got []string
		for _, member := range union(`export type ` + u.union + ` =\n([^;]+);`) {
			c, ok := typeOf[member]
			if !ok {
				t.Errorf("%s member %s has no type literal", u.union, member)
			}
			got = append(got, c)
		}
		slices.Sort(got)
		slices.Sort(u.types)
		if !slices.Equal(got, u.types) {
			t.Errorf("%s discriminates by %v, want one member for each of %v", u.union, got, u.types)
		}
	}
}
