// Command tsgen writes the TypeScript types of the wire protocol from the Go
// package minichat/server/protocol, the single source of truth.
//
// It reads the package's source (go/parser), so every exported struct with
// JSON tags becomes an interface and every string or integer constant an
// exported const, without a list to keep up to date. What the Go types
// cannot say — which frame struct has which "type", which constant group a
// string field draws from, and which fields of ClientFrame each client frame
// carries (PROTOCOL.md §2) — is written in the tables below; the generator
// fails when a table names something the package no longer has, or when the
// package grows a frame the tables do not place.
//
// Usage, from anywhere inside the module:
//
//	go run ./server/protocol/tsgen -o frontend/src/protocol.gen.ts
//
// The test beside this file fails when the committed file differs.
package main

//go:generate go run . -o ../../../frontend/src/protocol.gen.ts

import (
	"bytes"
	"flag"
	"fmt"
	"go/ast"
	"go/build"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
)

// protocolPkg is the import path of the source of truth.
const protocolPkg = "minichat/server/protocol"

// serverFrames maps each server frame struct to the constant of its "type"
// and the TypeScript name of the frame. Every struct whose first field is
// `json:"type"` must be here or be ClientFrame.
var serverFrames = []struct{ goName, typeConst, tsName string }{
	{"Welcome", "TypeWelcome", "WelcomeFrame"},
	{"MessageFrame", "TypeMessage", "MessageFrame"},
	{"Ack", "TypeAck", "AckFrame"},
	{"History", "TypeHistory", "HistoryFrame"},
	{"Synced", "TypeSynced", "SyncedFrame"},
	{"Typing", "TypeTyping", "TypingFrame"},
	{"PresenceFrame", "TypePresence", "PresenceFrame"},
	{"RoomFrame", "TypeRoom", "RoomFrame"},
	{"Update", "TypeUpdate", "UpdateFrame"},
	{"Error", "TypeError", "ErrorFrame"},
	{"Ping", "TypePing", "PingFrame"},
}

// clientField is one field of a client frame: its JSON name in ClientFrame
// and whether the frame needs it.
type clientField struct {
	json     string
	required bool
}

// clientFrames lists the fields of ClientFrame each client frame type
// carries, as PROTOCOL.md §2 lists them. Every ClientFrame field except
// type and ref must belong to at least one frame. "ref" is optional on all.
var clientFrames = []struct {
	typeConst, tsName string
	fields            []clientField
}{
	{"TypeHello", "ClientHello", []clientField{{"since", true}}},
	{"TypeSend", "ClientSend", []clientField{{"room", true}, {"text", true}, {"client_id", true}, {"attachments", false}, {"reply_to", false}}},
	{"TypeHistory", "ClientHistory", []clientField{{"room", true}, {"before", false}, {"limit", false}}},
	{"TypeTyping", "ClientTyping", []clientField{{"room", true}, {"active", true}}},
	{"TypeRead", "ClientRead", []clientField{{"room", true}, {"seq", true}}},
	{"TypeStatus", "ClientStatus", []clientField{{"status", true}, {"text", false}}},
	{"TypePong", "ClientPong", nil},
	{"TypeEdit", "ClientEdit", []clientField{{"room", true}, {"id", true}, {"text", true}}},
	{"TypeDelete", "ClientDelete", []clientField{{"room", true}, {"id", true}}},
	{"TypeReact", "ClientReact", []clientField{{"room", true}, {"id", true}, {"emoji", true}, {"on", true}}},
}

// constGroups names the union type of a const block by its first constant.
var constGroups = map[string]string{
	"RoleMember":     "Role",
	"RoomPublic":     "RoomKind",
	"KindChat":       "MessageKind",
	"StatusOnline":   "PresenceStatus",
	"RoomCreated":    "RoomEvent",
	"CodeBadRequest": "ErrorCode",
	"TypeWelcome":    "ServerFrameType",
	"TypeHello":      "ClientOnlyFrameType",
	"CloseNormal":    "CloseCode",
}

// fieldTypes gives a field ("Struct.json") a narrower TypeScript type than
// its Go type says.
var fieldTypes = map[string]string{
	"User.role":            "Role",
	"Room.kind":            "RoomKind",
	"Message.kind":         "MessageKind",
	"Presence.status":      "PresenceStatus",
	"PresenceFrame.status": "PresenceStatus",
	"RoomFrame.event":      "RoomEvent",
	"Error.code":           "ErrorCode",
	"ErrorDetail.code":     "ErrorCode",
	"ClientFrame.status":   `Exclude<PresenceStatus, "offline">`,
}

func main() {
	out := flag.String("o", "", "write to this file instead of standard output")
	flag.Parse()
	src, err := Generate()
	if err != nil {
		fmt.Fprintln(os.Stderr, "tsgen:", err)
		os.Exit(1)
	}
	if *out == "" {
		_, err = os.Stdout.Write(src)
	} else {
		err = os.WriteFile(*out, src, 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "tsgen:", err)
		os.Exit(1)
	}
}

// field is one JSON field of a struct.
type field struct {
	json     string
	optional bool // omitempty
	goType   ast.Expr
	doc      string
}

// structDef is an exported struct of the package with JSON tags.
type structDef struct {
	name   string
	doc    string
	fields []field
}

// constDef is an exported constant with a literal value.
type constDef struct {
	name     string
	value    string // TypeScript literal
	doc      string
	groupDoc string // the doc of its const block, on the block's first constant
}

// pkgSource is what Generate reads from the protocol package.
type pkgSource struct {
	structs map[string]*structDef
	order   []string     // struct names in source order (files sorted)
	consts  []constDef   // in source order
	groups  [][]constDef // const blocks of string or integer constants
	values  map[string]string
}

// Generate returns the TypeScript source for the protocol package.
func Generate() ([]byte, error) {
	bp, err := build.Import(protocolPkg, ".", 0)
	if err != nil {
		return nil, fmt.Errorf("find %s: %w", protocolPkg, err)
	}
	src, err := load(bp)
	if err != nil {
		return nil, err
	}
	return render(src)
}

func load(bp *build.Package) (*pkgSource, error) {
	fset := token.NewFileSet()
	// GoFiles are the package's non-test files for this build, sorted.
	names := bp.GoFiles
	files := make(map[string]*ast.File, len(names))
	for _, name := range names {
		f, err := parser.ParseFile(fset, filepath.Join(bp.Dir, name), nil, parser.ParseComments)
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", name, err)
		}
		files[name] = f
	}
	src := &pkgSource{structs: map[string]*structDef{}, values: map[string]string{}}
	for _, name := range names {
		for _, decl := range files[name].Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok {
				continue
			}
			switch gd.Tok {
			case token.TYPE:
				for _, spec := range gd.Specs {
					ts := spec.(*ast.TypeSpec)
					st, ok := ts.Type.(*ast.StructType)
					if !ok || !ts.Name.IsExported() {
						continue
					}
					doc := gd.Doc
					if ts.Doc != nil {
						doc = ts.Doc
					}
					if sd := structOf(ts.Name.Name, doc, st); sd != nil {
						src.structs[sd.name] = sd
						src.order = append(src.order, sd.name)
					}
				}
			case token.CONST:
				var group []constDef
				for _, spec := range gd.Specs {
					vs := spec.(*ast.ValueSpec)
					for i, n := range vs.Names {
						if !n.IsExported() || i >= len(vs.Values) {
							continue
						}
						lit, ok := vs.Values[i].(*ast.BasicLit)
						if !ok || (lit.Kind != token.STRING && lit.Kind != token.INT) {
							continue
						}
						v := lit.Value
						if lit.Kind == token.STRING {
							s, err := strconv.Unquote(lit.Value)
							if err != nil {
								return nil, fmt.Errorf("constant %s: %w", n.Name, err)
							}
							v = strconv.Quote(s)
						}
						cd := constDef{name: n.Name, value: v, doc: docText(vs.Doc)}
						if cd.doc == "" && len(gd.Specs) == 1 {
							cd.doc = docText(gd.Doc)
						} else if len(group) == 0 && len(gd.Specs) > 1 {
							cd.groupDoc = docText(gd.Doc)
						}
						src.consts = append(src.consts, cd)
						src.values[n.Name] = v
						group = append(group, cd)
					}
				}
				if len(group) > 1 {
					src.groups = append(src.groups, group)
				}
			}
		}
	}
	return src, nil
}

// structOf returns the JSON shape of a struct, or nil when it has no JSON
// tags (not a wire type).
func structOf(name string, doc *ast.CommentGroup, st *ast.StructType) *structDef {
	sd := &structDef{name: name, doc: docText(doc)}
	for _, f := range st.Fields.List {
		if f.Tag == nil {
			continue
		}
		tagText, err := strconv.Unquote(f.Tag.Value)
		if err != nil {
			continue
		}
		tag := reflect.StructTag(tagText).Get("json")
		if tag == "" || tag == "-" {
			continue
		}
		parts := strings.Split(tag, ",")
		opt := false
		for _, p := range parts[1:] {
			if p == "omitempty" || p == "omitzero" {
				opt = true
			}
		}
		sd.fields = append(sd.fields, field{json: parts[0], optional: opt, goType: f.Type, doc: docText(f.Doc)})
	}
	if len(sd.fields) == 0 {
		return nil
	}
	return sd
}

func docText(cg *ast.CommentGroup) string {
	if cg == nil {
		return ""
	}
	return strings.TrimSpace(cg.Text())
}

// tsType converts a Go type expression to TypeScript.
func tsType(e ast.Expr) (string, error) {
	switch t := e.(type) {
	case *ast.Ident:
		switch t.Name {
		case "string":
			return "string", nil
		case "bool":
			return "boolean", nil
		case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64", "float32", "float64":
			return "number", nil
		}
		if t.IsExported() {
			return t.Name, nil
		}
	case *ast.StarExpr:
		return tsType(t.X)
	case *ast.ArrayType:
		el, err := tsType(t.Elt)
		if err != nil {
			return "", err
		}
		return el + "[]", nil
	case *ast.MapType:
		k, err := tsType(t.Key)
		if err != nil {
			return "", err
		}
		v, err := tsType(t.Value)
		if err != nil {
			return "", err
		}
		return "Record<" + k + ", " + v + ">", nil
	}
	return "", fmt.Errorf("no TypeScript type for Go type %T %v", e, e)
}

type writer struct {
	bytes.Buffer
}

func (w *writer) p(format string, args ...any) { fmt.Fprintf(&w.Buffer, format+"\n", args...) }

func (w *writer) doc(indent, text string) {
	if text == "" {
		return
	}
	lines := strings.Split(text, "\n")
	if len(lines) == 1 {
		w.p("%s/** %s */", indent, lines[0])
		return
	}
	w.p("%s/**", indent)
	for _, l := range lines {
		w.p("%s * %s", indent, strings.TrimRight(l, " "))
	}
	w.p("%s */", indent)
}

func render(src *pkgSource) ([]byte, error) {
	var w writer
	w.p("// Code generated by go run ./server/protocol/tsgen; DO NOT EDIT.")
	w.p("// Source of truth: the Go package %s. Regenerate with `npm run gen`", protocolPkg)
	w.p("// (or `go generate ./server/protocol/tsgen`) after changing it.")
	w.p("")

	// Constants, then a union type for each named group.
	w.p("// Constants")
	for _, c := range src.consts {
		if c.groupDoc != "" {
			w.p("")
			for _, l := range strings.Split(c.groupDoc, "\n") {
				w.p("// %s", l)
			}
		}
		w.doc("", c.doc)
		w.p("export const %s = %s;", c.name, c.value)
	}
	w.p("")
	seenGroup := map[string]bool{}
	for _, g := range src.groups {
		name, ok := constGroups[g[0].name]
		if !ok {
			continue
		}
		seenGroup[g[0].name] = true
		members := make([]string, len(g))
		for i, c := range g {
			members[i] = "typeof " + c.name
		}
		w.p("export type %s = %s;", name, strings.Join(members, " | "))
	}
	for first := range constGroups {
		if !seenGroup[first] {
			return nil, fmt.Errorf("constGroups names %s, which no longer starts a const block of the protocol package", first)
		}
	}
	w.p("")

	frameOf := map[string]string{} // Go struct name → TS frame name
	for _, f := range serverFrames {
		if _, ok := src.structs[f.goName]; !ok {
			return nil, fmt.Errorf("serverFrames names %s, which the protocol package no longer has", f.goName)
		}
		if _, ok := src.values[f.typeConst]; !ok {
			return nil, fmt.Errorf("serverFrames names constant %s, which the protocol package no longer has", f.typeConst)
		}
		frameOf[f.goName] = f.tsName
	}
	used := map[string]bool{}

	// Objects: every wire struct that is not a frame.
	w.p("// Objects")
	w.p("")
	for _, name := range src.order {
		sd := src.structs[name]
		if name == "ClientFrame" {
			continue
		}
		if _, isFrame := frameOf[name]; isFrame {
			continue
		}
		if sd.fields[0].json == "type" {
			return nil, fmt.Errorf("struct %s looks like a frame (its first field is \"type\") but is not in serverFrames: add it to the table in tsgen", name)
		}
		if err := writeInterface(&w, name, sd, "", used); err != nil {
			return nil, err
		}
	}

	// Server frames.
	w.p("// Server → client frames")
	w.p("")
	union := make([]string, 0, len(serverFrames))
	for _, f := range serverFrames {
		sd := src.structs[f.goName]
		if sd.fields[0].json != "type" {
			return nil, fmt.Errorf("server frame %s has no \"type\" field", f.goName)
		}
		if err := writeInterface(&w, f.tsName, sd, "typeof "+f.typeConst, used); err != nil {
			return nil, err
		}
		union = append(union, f.tsName)
	}
	w.p("/** Any frame the server sends. */")
	w.p("export type ServerFrame =\n  | %s;", strings.Join(union, "\n  | "))
	w.p("")

	// Client frames, split from ClientFrame.
	cf, ok := src.structs["ClientFrame"]
	if !ok {
		return nil, fmt.Errorf("the protocol package has no ClientFrame")
	}
	byJSON := map[string]field{}
	for _, f := range cf.fields {
		byJSON[f.json] = f
	}
	covered := map[string]bool{"type": true, "ref": true}
	w.p("// Client → server frames (the fields of ClientFrame each type carries)")
	w.p("")
	union = union[:0]
	for _, c := range clientFrames {
		if _, ok := src.values[c.typeConst]; !ok {
			return nil, fmt.Errorf("clientFrames names constant %s, which the protocol package no longer has", c.typeConst)
		}
		w.p("export interface %s {", c.tsName)
		w.p("  type: typeof %s;", c.typeConst)
		w.p("  ref?: string;")
		for _, cfld := range c.fields {
			f, ok := byJSON[cfld.json]
			if !ok {
				return nil, fmt.Errorf("clientFrames gives %s the field %q, which ClientFrame no longer has", c.tsName, cfld.json)
			}
			covered[cfld.json] = true
			t, err := fieldType("ClientFrame", f, used)
			if err != nil {
				return nil, err
			}
			q := ""
			if !cfld.required {
				q = "?"
			}
			w.p("  %s%s: %s;", cfld.json, q, t)
		}
		w.p("}")
		w.p("")
		union = append(union, c.tsName)
	}
	for _, f := range cf.fields {
		if !covered[f.json] {
			return nil, fmt.Errorf("ClientFrame field %q belongs to no client frame: add it to clientFrames in tsgen", f.json)
		}
	}
	w.p("/** Any frame a client sends. */")
	w.p("export type ClientFrame =\n  | %s;", strings.Join(union, "\n  | "))
	w.p("")

	for key := range fieldTypes {
		if !used[key] {
			return nil, fmt.Errorf("fieldTypes names %s, which the protocol package no longer has", key)
		}
	}
	return w.Bytes(), nil
}

// fieldType is the TypeScript type of a field: the override of fieldTypes,
// or the Go type's, with "| null" for a pointer that is always sent.
func fieldType(structName string, f field, used map[string]bool) (string, error) {
	key := structName + "." + f.json
	if t, ok := fieldTypes[key]; ok {
		used[key] = true
		return t, nil
	}
	t, err := tsType(f.goType)
	if err != nil {
		return "", err
	}
	if _, ptr := f.goType.(*ast.StarExpr); ptr && !f.optional && structName != "ClientFrame" {
		t += " | null"
	}
	return t, nil
}

// writeInterface writes sd as an interface named name; typeLit, when set,
// is the type of its "type" field.
func writeInterface(w *writer, name string, sd *structDef, typeLit string, used map[string]bool) error {
	w.doc("", sd.doc)
	w.p("export interface %s {", name)
	for _, f := range sd.fields {
		var t string
		if f.json == "type" && typeLit != "" {
			t = typeLit
		} else {
			var err error
			if t, err = fieldType(sd.name, f, used); err != nil {
				return fmt.Errorf("%s.%s: %w", sd.name, f.json, err)
			}
		}
		w.doc("  ", f.doc)
		q := ""
		if f.optional {
			q = "?"
		}
		w.p("  %s%s: %s;", f.json, q, t)
	}
	w.p("}")
	w.p("")
	return nil
}
