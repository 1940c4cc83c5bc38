package avatar

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"os"
	"testing"
)

// picture is a w×h image, red left of the middle, blue right of it.
func picture(w, h int) *image.NRGBA {
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
	return img
}

func encoded(t *testing.T, format string, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	var err error
	switch format {
	case "png":
		err = png.Encode(&b, img)
	case "jpeg":
		err = jpeg.Encode(&b, img, &jpeg.Options{Quality: 95})
	case "gif":
		err = gif.Encode(&b, img, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestMakeCropsTheCentreSquareAtEverySize(t *testing.T) {
	for _, format := range []string{"png", "jpeg", "gif"} {
		out, err := Make(encoded(t, format, picture(120, 60)), 4096)
		if err != nil {
			t.Fatalf("%s: %v", format, err)
		}
		if len(out) != len(Sizes) {
			t.Fatalf("%s: %d images", format, len(out))
		}
		for i, data := range out {
			img, err := png.Decode(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			n := Sizes[i]
			if b := img.Bounds(); b.Dx() != n || b.Dy() != n {
				t.Fatalf("%s: size %d is %v", format, n, b)
			}
			// The centre square of a 120×60 picture is x 30–90: half red, half blue.
			if r, _, bl, _ := img.At(n/8, n/2).RGBA(); r < 0xe000 || bl > 0x2000 {
				t.Fatalf("%s: left is not red", format)
			}
			if r, _, bl, _ := img.At(n-n/8, n/2).RGBA(); bl < 0xe000 || r > 0x2000 {
				t.Fatalf("%s: right is not blue", format)
			}
		}
	}
}

func TestMakeRefuses(t *testing.T) {
	if _, err := Make([]byte("hello, not a picture"), 4096); !errors.Is(err, ErrFormat) {
		t.Fatalf("garbage: %v", err)
	}
	if _, err := Make(nil, 4096); !errors.Is(err, ErrFormat) {
		t.Fatalf("empty: %v", err)
	}
	if _, err := Make(encoded(t, "png", picture(300, 20)), 200); !errors.Is(err, ErrTooWide) {
		t.Fatalf("too wide: %v", err)
	}
	if _, err := Make(encoded(t, "png", picture(20, 300)), 200); !errors.Is(err, ErrTooWide) {
		t.Fatalf("too tall: %v", err)
	}
}

func TestDirKeepsAndRemoves(t *testing.T) {
	d, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Save("../escape", [][]byte{{1}, {2}}); err == nil {
		t.Fatal("a key with a path in it was saved")
	}
	if err := d.Save("a_key", [][]byte{[]byte("big"), []byte("small")}); err != nil {
		t.Fatal(err)
	}
	for size, want := range map[int]string{256: "big", 64: "small", 0: "big", 65: "big"} {
		f, err := d.Open("a_key", size)
		if err != nil {
			t.Fatal(err)
		}
		b := make([]byte, 8)
		n, _ := f.Read(b)
		f.Close()
		if string(b[:n]) != want {
			t.Fatalf("size %d: %q", size, b[:n])
		}
	}
	d.Remove("a_key")
	if _, err := d.Open("a_key", 64); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("after Remove: %v", err)
	}
	if _, err := d.Open("../../etc/passwd", 64); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("path in key: %v", err)
	}
}
