// Package avatar turns an uploaded picture into the square images the
// server shows for a user, and keeps them on disk.
//
// Make decodes a PNG, JPEG or GIF (its first frame) only after reading its
// header: a picture wider or taller than the limit is refused before any
// pixel is decoded, so a small file that claims a huge image cannot make
// the server allocate for it. The picture is cropped to the square at its
// centre and scaled to each of Sizes, encoded as PNG.
//
// A Dir keeps each avatar's images as <dir>/<key>-<size>.png, written to a
// temporary file and renamed into place. A key is new for every upload, so
// a key's files never change: they may be cached for good. Make is a pure
// function; a Dir is safe for concurrent use.
package avatar

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/draw"
	"image/gif"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"strconv"

	xdraw "golang.org/x/image/draw"
)

// Sizes are the sides, in pixels, of the images Make returns: the first is
// the default one served.
var Sizes = []int{256, 64}

// Errors of Make.
var (
	ErrFormat  = errors.New("not a PNG, JPEG or GIF image")
	ErrTooWide = errors.New("image too large")
)

// Make decodes data and returns one PNG per size of Sizes, in that order.
// A picture of more than maxSide pixels across or down (maxSide <= 0: no
// bound) is refused with ErrTooWide before it is decoded.
func Make(data []byte, maxSide int) ([][]byte, error) {
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, ErrFormat
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, ErrFormat
	}
	if maxSide > 0 && (cfg.Width > maxSide || cfg.Height > maxSide) {
		return nil, fmt.Errorf("%w: %dx%d pixels, at most %dx%d", ErrTooWide, cfg.Width, cfg.Height, maxSide, maxSide)
	}
	var src image.Image
	switch format {
	case "png":
		src, err = png.Decode(bytes.NewReader(data))
	case "jpeg":
		src, err = jpeg.Decode(bytes.NewReader(data))
	case "gif":
		src, err = gif.Decode(bytes.NewReader(data))
	default:
		return nil, ErrFormat
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFormat, err)
	}
	b := src.Bounds()
	side := min(b.Dx(), b.Dy())
	x0, y0 := b.Min.X+(b.Dx()-side)/2, b.Min.Y+(b.Dy()-side)/2
	square := image.Rect(x0, y0, x0+side, y0+side)
	out := make([][]byte, 0, len(Sizes))
	for _, n := range Sizes {
		dst := image.NewNRGBA(image.Rect(0, 0, n, n))
		xdraw.CatmullRom.Scale(dst, dst.Bounds(), src, square, draw.Src, nil)
		var buf bytes.Buffer
		if err := (&png.Encoder{CompressionLevel: png.BestCompression}).Encode(&buf, dst); err != nil {
			return nil, fmt.Errorf("encode avatar: %w", err)
		}
		out = append(out, buf.Bytes())
	}
	return out, nil
}

// Dir is a directory of avatar images.
type Dir struct{ dir string }

// Open makes sure dir exists and returns the Dir kept there.
func Open(dir string) (*Dir, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("avatars: %w", err)
	}
	return &Dir{dir: dir}, nil
}

// ValidKey reports whether key may name avatar files: 1–64 bytes of
// letters, digits and '_' (as store.NewID makes them).
func ValidKey(key string) bool {
	if len(key) < 1 || len(key) > 64 {
		return false
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if !(c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

func (d *Dir) path(key string, size int) string {
	return filepath.Join(d.dir, key+"-"+strconv.Itoa(size)+".png")
}

// Save writes the images of a new key (one per size of Sizes, as Make
// returns them), each durably before it is in place.
func (d *Dir) Save(key string, images [][]byte) error {
	if !ValidKey(key) || len(images) != len(Sizes) {
		return fmt.Errorf("avatars: bad key %q or %d images", key, len(images))
	}
	for i, img := range images {
		f, err := os.CreateTemp(d.dir, ".tmp-*")
		if err != nil {
			return fmt.Errorf("avatars: %w", err)
		}
		_, err = f.Write(img)
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Rename(f.Name(), d.path(key, Sizes[i]))
		}
		if err != nil {
			_ = os.Remove(f.Name())
			d.Remove(key)
			return fmt.Errorf("avatars: %w", err)
		}
	}
	return nil
}

// Open opens the image of key at size, the first of Sizes when size is
// not one of them.
func (d *Dir) Open(key string, size int) (*os.File, error) {
	if !ValidKey(key) {
		return nil, os.ErrNotExist
	}
	ok := false
	for _, n := range Sizes {
		ok = ok || n == size
	}
	if !ok {
		size = Sizes[0]
	}
	return os.Open(d.path(key, size))
}

// Remove deletes the images of key; images already gone are not an error.
func (d *Dir) Remove(key string) {
	if !ValidKey(key) {
		return
	}
	for _, n := range Sizes {
		_ = os.Remove(d.path(key, n))
	}
}
