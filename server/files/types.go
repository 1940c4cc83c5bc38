package files

import (
	"mime"
	"net/http"
	"path"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxNameBytes bounds a stored file name.
const MaxNameBytes = 255

// inlineTypes are the raster image types served inline: browsers render
// them as pictures only, never as documents or scripts.
var inlineTypes = map[string]bool{
	"image/png":  true,
	"image/jpeg": true,
	"image/gif":  true,
	"image/webp": true,
}

// Inline reports whether files of a content type are shown in the page
// (Content-Disposition: inline) rather than downloaded.
func Inline(contentType string) bool { return inlineTypes[contentType] }

// ContentType decides the type of an upload from its first bytes (head, as
// http.DetectContentType reads them) and its name's extension. The content
// decides when it is recognised; the extension only names what the content
// leaves generic (text, XML, or unknown bytes) — a ".svg" is image/svg+xml, a
// ".csv" text/csv. An image type that is served inline is only ever taken
// from the content, so renaming a file to .png never makes it inline.
func ContentType(name string, head []byte) string {
	sniffed := http.DetectContentType(head)
	if inlineTypes[sniffed] {
		return sniffed
	}
	generic := sniffed == "application/octet-stream" || strings.HasPrefix(sniffed, "text/plain") ||
		strings.HasPrefix(sniffed, "text/xml")
	if !generic {
		return sniffed
	}
	byExt := mime.TypeByExtension(strings.ToLower(path.Ext(name)))
	if byExt == "" || inlineTypes[byExt] {
		return sniffed
	}
	if strings.HasPrefix(sniffed, "text/") && strings.HasPrefix(byExt, "text/") && !strings.Contains(byExt, "charset") {
		byExt += "; charset=utf-8"
	}
	return byExt
}

// CleanName turns the file name a client sent into one safe to store,
// show and send back in a Content-Disposition header: the last element of
// a path (either slash), valid UTF-8 without control characters, at most
// MaxNameBytes; "file" when nothing is left.
func CleanName(name string) string {
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	name = strings.ToValidUTF8(name, "")
	name = strings.Map(func(r rune) rune {
		// Format characters (unicode.Cf) are invisible: bidi controls
		// such as U+202E would show "invoice\u202Efdp.exe" as
		// "invoiceexe.pdf", zero-width ones hide what a name really is.
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == utf8.RuneError {
			return -1
		}
		return r
	}, name)
	name = strings.TrimSpace(name)
	for len(name) > MaxNameBytes {
		_, size := utf8.DecodeLastRuneInString(name)
		name = name[:len(name)-size]
	}
	if name == "" || name == "." || name == ".." {
		return "file"
	}
	return name
}
