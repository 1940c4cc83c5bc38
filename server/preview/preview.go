// Package preview makes the link previews of new messages: for the first
// http(s) link of a message, it fetches the page (through netguard: public
// addresses only, unless the operator allows private ones), reads its
// OpenGraph title, description and image — or its <title> and meta
// description — and has chat add them to the message as an update.
//
// It works off the store's commit hook (Observe), so only the node that
// committed a message fetches its link, once, whatever the cluster's size.
// Observe never blocks: a bounded queue feeds a fixed pool of workers, and
// a link beyond the queue, or beyond its sender's rate, gets no preview.
// Fetches are cached in the store by URL (shared by the nodes) for TTL,
// pages with nothing to show included. A Worker is safe for concurrent use.
package preview

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/rs/zerolog"
	"golang.org/x/net/html"
	"golang.org/x/time/rate"

	"minichat/server/chat"
	"minichat/server/protocol"
	"minichat/server/store"
)

// Defaults of Options.
const (
	DefaultWorkers   = 2
	DefaultQueue     = 256
	DefaultPerMinute = 10
	DefaultTTL       = 24 * time.Hour
	// MaxPageBytes caps a fetched page: a larger one gets no preview.
	MaxPageBytes = 1 << 20
	// MaxImageBytes caps an image served through ImageOf.
	MaxImageBytes = 2 << 20
	// FetchTimeout bounds one fetch, redirects and body included.
	FetchTimeout = 5 * time.Second
)

// Options configure a Worker.
type Options struct {
	Store store.Store
	Chat  *chat.Service
	// Client fetches pages; it must be a netguard client capped at
	// MaxPageBytes with FetchTimeout (the server builds it).
	Client *http.Client
	// ImageClient fetches images for ImageOf, capped at MaxImageBytes.
	ImageClient *http.Client
	// Workers fetch at once; default DefaultWorkers. Queue links wait at
	// most; default DefaultQueue.
	Workers, Queue int
	// PerMinute is how many links of one account are previewed per
	// minute (bursts of as many); default DefaultPerMinute, negative: no
	// limit.
	PerMinute float64
	// TTL is how long a fetch is kept and reused; default DefaultTTL.
	TTL time.Duration
	Log zerolog.Logger
}

type job struct {
	roomID, msgID, url string
}

// Worker previews links; see the package doc.
type Worker struct {
	o      Options
	jobs   chan job
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex // guards limiters
	limiters map[string]*rate.Limiter
}

// New starts a Worker's pool; Close stops it.
func New(o Options) *Worker {
	if o.Workers <= 0 {
		o.Workers = DefaultWorkers
	}
	if o.Queue <= 0 {
		o.Queue = DefaultQueue
	}
	if o.PerMinute == 0 {
		o.PerMinute = DefaultPerMinute
	}
	if o.TTL <= 0 {
		o.TTL = DefaultTTL
	}
	ctx, cancel := context.WithCancel(context.Background())
	w := &Worker{o: o, jobs: make(chan job, o.Queue), ctx: ctx, cancel: cancel, limiters: map[string]*rate.Limiter{}}
	for range o.Workers {
		w.wg.Add(1)
		go w.run()
	}
	return w
}

// Close stops the workers, abandoning queued links and ending fetches in
// flight, and waits for them. Observe does nothing after it.
func (w *Worker) Close() {
	w.cancel()
	w.wg.Wait()
}

// Observe queues the links of the new messages among committed events.
// It is called from the store's writer: it never blocks.
func (w *Worker) Observe(evs []store.Event) {
	if w.ctx.Err() != nil {
		return
	}
	for _, ev := range evs {
		m := ev.Message
		if ev.Kind != store.EventMessage || m.Sender == nil || m.Deleted || m.Preview != nil ||
			(m.Kind != protocol.KindChat && m.Kind != protocol.KindMe) {
			continue
		}
		u := chat.FirstLink(m.Text)
		if u == "" || !w.allow(m.Sender.ID) {
			continue
		}
		select {
		case w.jobs <- job{roomID: ev.RoomID, msgID: m.ID, url: u}:
		default:
			w.o.Log.Debug().Str("url", u).Msg("link preview queue full: skipped")
		}
	}
}

// allow charges a link to its sender's rate.
func (w *Worker) allow(userID string) bool {
	if w.o.PerMinute < 0 {
		return true
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	l, ok := w.limiters[userID]
	if !ok {
		if len(w.limiters) >= 10000 {
			// Forget everyone's buckets rather than grow without bound:
			// a full bucket each is the worst that follows.
			clear(w.limiters)
		}
		n := w.o.PerMinute
		l = rate.NewLimiter(rate.Limit(n/60), max(1, int(n)))
		w.limiters[userID] = l
	}
	return l.Allow()
}

func (w *Worker) run() {
	defer w.wg.Done()
	for {
		select {
		case <-w.ctx.Done():
			return
		case j := <-w.jobs:
			w.preview(j)
		}
	}
}

// preview adds the preview of j's link to its message, from the cache or
// a fetch.
func (w *Worker) preview(j job) {
	ctx := w.ctx
	var p *protocol.Preview
	cached, err := w.o.Store.LinkPreview(ctx, j.url)
	if err == nil && time.Since(cached.FetchedAt) < w.o.TTL {
		p = cached.Preview
	} else {
		p, err = Fetch(ctx, w.o.Client, j.url)
		if err != nil {
			w.o.Log.Debug().Err(err).Str("url", j.url).Msg("link preview: nothing to show")
		}
		if ctx.Err() != nil {
			return
		}
		if werr := w.o.Store.Write(ctx, nil, func(tx store.Tx) ([]store.Event, error) {
			return nil, tx.PutLinkPreview(j.url, p)
		}); werr != nil && ctx.Err() == nil {
			w.o.Log.Warn().Err(werr).Msg("link preview: cache the fetch")
		}
	}
	if p == nil {
		return
	}
	if err := w.o.Chat.SetPreview(ctx, j.roomID, j.msgID, j.url, *p); err != nil && ctx.Err() == nil {
		w.o.Log.Warn().Err(err).Str("message", j.msgID).Msg("link preview: add to message")
	}
}

// userAgent names the fetcher to the sites it visits.
const userAgent = "minichat-link-preview/1"

// Fetch reads the preview of an HTML page: nil (and why, as an error) when
// the page is not HTML, too large, not found or offers nothing to show.
func Fetch(ctx context.Context, client *http.Client, rawURL string) (*protocol.Preview, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "text/html,application/xhtml+xml;q=0.9")
	req.Header.Set("User-Agent", userAgent)
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %d", resp.StatusCode)
	}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if mt != "text/html" && mt != "application/xhtml+xml" {
		return nil, fmt.Errorf("not HTML: %q", mt)
	}
	if resp.ContentLength > MaxPageBytes {
		return nil, fmt.Errorf("page of %d bytes", resp.ContentLength)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxPageBytes+1))
	if err != nil {
		return nil, err
	}
	if len(body) > MaxPageBytes {
		return nil, errors.New("page larger than the cap")
	}
	p := Parse(body, resp.Request.URL)
	if p == nil {
		return nil, errors.New("no title, description or image")
	}
	p.URL = rawURL
	return p, nil
}

// Parse reads a page's preview: OpenGraph first (og:title, og:description,
// og:image), then <title> and <meta name="description">; the image is
// resolved against base and kept only if http(s). nil when there is
// nothing.
func Parse(page []byte, base *url.URL) *protocol.Preview {
	z := html.NewTokenizer(strings.NewReader(string(page)))
	var og, plain protocol.Preview
	inTitle := false
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			return pick(og, plain, base)
		case html.StartTagToken, html.SelfClosingTagToken:
			name, hasAttr := z.TagName()
			switch string(name) {
			case "title":
				inTitle = tt == html.StartTagToken && plain.Title == ""
			case "meta":
				if !hasAttr {
					continue
				}
				var key, content string
				for {
					k, v, more := z.TagAttr()
					switch strings.ToLower(string(k)) {
					case "property", "name":
						if key == "" || strings.HasPrefix(strings.ToLower(string(v)), "og:") {
							key = strings.ToLower(string(v))
						}
					case "content":
						content = string(v)
					}
					if !more {
						break
					}
				}
				switch key {
				case "og:title":
					og.Title = first(og.Title, content)
				case "og:description":
					og.Description = first(og.Description, content)
				case "og:image", "og:image:url", "og:image:secure_url":
					og.Image = first(og.Image, content)
				case "twitter:title":
					plain.Title = first(plain.Title, content)
				case "description", "twitter:description":
					plain.Description = first(plain.Description, content)
				case "twitter:image":
					plain.Image = first(plain.Image, content)
				}
			case "body":
				// Everything a preview reads is in the head.
				return pick(og, plain, base)
			}
		case html.TextToken:
			if inTitle {
				plain.Title = strings.TrimSpace(string(z.Text()))
				inTitle = false
			}
		case html.EndTagToken:
			if name, _ := z.TagName(); string(name) == "head" {
				return pick(og, plain, base)
			}
		}
	}
}

func first(have, v string) string {
	if have != "" {
		return have
	}
	return strings.TrimSpace(v)
}

// Bounds of a preview's texts, in characters.
const (
	maxTitle       = 200
	maxDescription = 400
)

func pick(og, plain protocol.Preview, base *url.URL) *protocol.Preview {
	p := protocol.Preview{
		Title:       clip(first(og.Title, plain.Title), maxTitle),
		Description: clip(first(og.Description, plain.Description), maxDescription),
		Image:       resolve(first(og.Image, plain.Image), base),
	}
	if p.Title == "" && p.Description == "" && p.Image == "" {
		return nil
	}
	return &p
}

// clip collapses white space and cuts s to n characters.
func clip(s string, n int) string {
	s = strings.Join(strings.Fields(strings.ToValidUTF8(s, "")), " ")
	if utf8.RuneCountInString(s) > n {
		s = string([]rune(s)[:n-1]) + "…"
	}
	return s
}

func resolve(ref string, base *url.URL) string {
	if ref == "" || len(ref) > 2048 {
		return ""
	}
	u, err := url.Parse(ref)
	if err != nil {
		return ""
	}
	if base != nil {
		u = base.ResolveReference(u)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return ""
	}
	return u.String()
}

// imageTypes are the images ImageOf passes on: raster formats browsers
// show, never SVG (a document that may carry script).
var imageTypes = map[string]bool{"image/png": true, "image/jpeg": true, "image/gif": true, "image/webp": true}

// ImageOf fetches a preview's image for a reader's browser, so that the
// browser never contacts the linked site: its content type (one of
// imageTypes) and bytes, at most MaxImageBytes.
func (w *Worker) ImageOf(ctx context.Context, rawURL string) (string, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return "", nil, err
	}
	req.Header.Set("Accept", "image/webp,image/png,image/jpeg,image/gif")
	req.Header.Set("User-Agent", userAgent)
	resp, err := w.o.ImageClient.Do(req)
	if err != nil {
		return "", nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", nil, fmt.Errorf("status %d", resp.StatusCode)
	}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if !imageTypes[mt] {
		return "", nil, fmt.Errorf("not an image shown inline: %q", mt)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxImageBytes+1))
	if err != nil {
		return "", nil, err
	}
	if len(body) > MaxImageBytes {
		return "", nil, errors.New("image larger than the cap")
	}
	return mt, body, nil
}
