package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/coder/websocket"
)

// ProbeResume opens a fresh connection to node, resumes the room after
// since and checks that the replay is exactly log's entries after since,
// in order, ending with synced at the log's last seq. It tells whether a
// node serves a resume correctly once the fault is over.
func ProbeResume(node *Node, token, room string, since int64, log []LogEntry) error {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws://"+node.Addr+"/ws", &websocket.DialOptions{
		HTTPHeader: http.Header{"Authorization": {"Bearer " + token}},
	})
	if err != nil {
		return fmt.Errorf("dial: %w", err)
	}
	defer ws.CloseNow()
	ws.SetReadLimit(1 << 24)
	var want []LogEntry
	for _, e := range log {
		if e.Seq > since {
			want = append(want, e)
		}
	}
	var got []message
	for {
		_, data, err := ws.Read(ctx)
		if err != nil {
			return fmt.Errorf("after %d replayed entries: %w", len(got), err)
		}
		for line := range bytes.SplitSeq(data, []byte("\n")) {
			var f frame
			if err := json.Unmarshal(line, &f); err != nil {
				return fmt.Errorf("undecodable frame %.200s", line)
			}
			var m message
			if len(f.Message) > 0 && f.Message[0] == '{' {
				_ = json.Unmarshal(f.Message, &m)
			}
			var r string
			_ = json.Unmarshal(f.Room, &r)
			switch {
			case f.Type == "welcome":
				b, _ := json.Marshal(map[string]any{"type": "hello", "since": map[string]int64{room: since}})
				if err := ws.Write(ctx, websocket.MessageText, b); err != nil {
					return fmt.Errorf("hello: %w", err)
				}
			case f.Type == "ping":
				if err := ws.Write(ctx, websocket.MessageText, []byte(`{"type":"pong"}`)); err != nil {
					return fmt.Errorf("pong: %w", err)
				}
			case f.Type == "message" && m.Room == room:
				got = append(got, m)
			case f.Type == "synced" && r == room:
				if f.Skipped != nil {
					return fmt.Errorf("resume after %d of a log ending at %d: synced declares %s skipped", since, lastSeq(log), *f.Skipped)
				}
				if len(got) != len(want) {
					return fmt.Errorf("resume after %d: %d entries replayed, want %d (%s)", since, len(got), len(want), arrival(seqsOf(got)))
				}
				for i := range got {
					if got[i].Seq != want[i].Seq || got[i].ID != want[i].ID {
						return fmt.Errorf("resume after %d: entry %d is seq %d %s, want seq %d %s", since, i, got[i].Seq, got[i].ID, want[i].Seq, want[i].ID)
					}
				}
				if f.LastSeq != lastSeq(log) {
					return fmt.Errorf("resume after %d: synced.last_seq %d, want %d", since, f.LastSeq, lastSeq(log))
				}
				return nil
			}
		}
	}
}

func seqsOf(ms []message) []int64 {
	out := make([]int64, len(ms))
	for i, m := range ms {
		out[i] = m.Seq
	}
	return out
}

// ReadLog reads the room's whole log through the HTTP history API of node,
// oldest first.
func ReadLog(node *Node, token, room string) ([]LogEntry, error) {
	var out []LogEntry
	before := int64(0)
	for {
		q := url.Values{"limit": {"200"}}
		if before > 0 {
			q.Set("before", strconv.FormatInt(before, 10))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, node.URL()+"/api/rooms/"+room+"/messages?"+q.Encode(), nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			cancel()
			return nil, fmt.Errorf("history from %s: %w", node.Name, err)
		}
		var page struct {
			Messages []message `json:"messages"`
			HasMore  bool      `json:"has_more"`
		}
		err = json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		cancel()
		if resp.StatusCode != http.StatusOK || err != nil {
			return nil, fmt.Errorf("history from %s: %s %v", node.Name, resp.Status, err)
		}
		entries := make([]LogEntry, len(page.Messages))
		for i, m := range page.Messages {
			entries[i] = LogEntry{Seq: m.Seq, ID: m.ID, Text: m.Text}
		}
		out = append(entries, out...)
		if !page.HasMore || len(page.Messages) == 0 {
			return out, nil
		}
		before = page.Messages[0].Seq
	}
}
