package bench

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"time"
)

// progress is a worker's running counters. Workers in child processes send
// it to the parent as JSON, so it is plain data.
type progress struct {
	Conns          int              `json:"conns"`
	Open           int              `json:"open"`
	Connects       int64            `json:"connects"`
	Sent           int64            `json:"sent"`
	WarmSent       int64            `json:"warm_sent"`
	Acked          int64            `json:"acked"`
	WarmAcked      int64            `json:"warm_acked"`
	Refused        int64            `json:"refused"`
	Deliveries     int64            `json:"deliveries"`
	WarmDeliveries int64            `json:"warm_deliveries"`
	Dup            int64            `json:"dup"`
	ReplayDup      int64            `json:"replay_dup"`
	SkippedRanges  int64            `json:"skipped_ranges"`
	SkippedSeqs    int64            `json:"skipped_seqs"`
	PreWelcome     int64            `json:"pre_welcome"`
	DeadDrops      int64            `json:"dead_drops"`
	TypingSent     int64            `json:"typing_sent"`
	TypingRecv     int64            `json:"typing_recv"`
	PresenceRecv   int64            `json:"presence_recv"`
	OtherRecv      int64            `json:"other_recv"`
	Churned        int64            `json:"churned"`
	LastDeliveryNS int64            `json:"last_delivery_ns"`
	Errors         map[string]int64 `json:"errors"`
	Hist           Hist             `json:"hist"`
}

func (p *progress) add(o progress) {
	p.Conns += o.Conns
	p.Open += o.Open
	p.Connects += o.Connects
	p.Sent += o.Sent
	p.WarmSent += o.WarmSent
	p.Acked += o.Acked
	p.WarmAcked += o.WarmAcked
	p.Refused += o.Refused
	p.Deliveries += o.Deliveries
	p.WarmDeliveries += o.WarmDeliveries
	p.Dup += o.Dup
	p.ReplayDup += o.ReplayDup
	p.SkippedRanges += o.SkippedRanges
	p.SkippedSeqs += o.SkippedSeqs
	p.PreWelcome += o.PreWelcome
	p.DeadDrops += o.DeadDrops
	p.TypingSent += o.TypingSent
	p.TypingRecv += o.TypingRecv
	p.PresenceRecv += o.PresenceRecv
	p.OtherRecv += o.OtherRecv
	p.Churned += o.Churned
	p.LastDeliveryNS = max(p.LastDeliveryNS, o.LastDeliveryNS)
	if p.Errors == nil {
		p.Errors = map[string]int64{}
	}
	for k, v := range o.Errors {
		p.Errors[k] += v
	}
	p.Hist.Merge(o.Hist)
}

// result is a worker's final account.
type result struct {
	progress
	Connected       int     `json:"connected"`
	ConnectMS       float64 `json:"connect_ms"`
	Lost            int64   `json:"lost"`
	Undelivered     int64   `json:"undelivered"`
	FinalSeq        int64   `json:"final_seq"`
	MeasureFromNS   int64   `json:"measure_from_ns"`
	MeasureToNS     int64   `json:"measure_to_ns"`
	StormAtNS       int64   `json:"storm_at_ns"`
	StormResynced   int     `json:"storm_resynced"`
	StormResyncedNS int64   `json:"storm_resynced_ns"`
	AckedByRoom     []int64 `json:"acked_by_room"`
	ConnectedByRoom []int   `json:"connected_by_room"`
	// Team is the team scenario's per-class and per-room account.
	Team *teamResult `json:"team,omitempty"`
}

func (r *result) add(o result) {
	r.progress.add(o.progress)
	r.Connected += o.Connected
	r.ConnectMS = max(r.ConnectMS, o.ConnectMS)
	r.Lost += o.Lost
	r.Undelivered += o.Undelivered
	r.FinalSeq = max(r.FinalSeq, o.FinalSeq)
	if r.MeasureFromNS == 0 || (o.MeasureFromNS != 0 && o.MeasureFromNS < r.MeasureFromNS) {
		r.MeasureFromNS = o.MeasureFromNS
	}
	r.MeasureToNS = max(r.MeasureToNS, o.MeasureToNS)
	if r.StormAtNS == 0 || (o.StormAtNS != 0 && o.StormAtNS < r.StormAtNS) {
		r.StormAtNS = o.StormAtNS
	}
	r.StormResynced += o.StormResynced
	r.StormResyncedNS = max(r.StormResyncedNS, o.StormResyncedNS)
	addByRoom(&r.AckedByRoom, o.AckedByRoom)
	addByRoom(&r.ConnectedByRoom, o.ConnectedByRoom)
	if o.Team != nil {
		if r.Team == nil {
			r.Team = newTeamResult(len(o.Team.RoomLost))
		}
		r.Team.add(o.Team)
	}
}

// Summary is the one-line JSON printed at the end of a run.
type Summary struct {
	RunID     string  `json:"run_id"`
	Conns     int     `json:"conns"`
	Connected int     `json:"connected"`
	ConnsPerS float64 `json:"conns_per_s"`
	// ConnectS is the time from the first dial until every connection had
	// its first synced (or the connect timeout).
	ConnectS   float64 `json:"connect_s"`
	Publishers int     `json:"publishers"`
	Rooms      int     `json:"rooms"`
	// Reader is how subscribers' sockets were read: epoll or goroutine
	// (--reader).
	Reader             string  `json:"reader"`
	RateTarget         float64 `json:"rate_target"`
	DurationS          float64 `json:"duration_s"`
	Sent               int64   `json:"sent"`
	Acked              int64   `json:"acked"`
	RateLimited        int64   `json:"rate_limited"`
	SentPerS           float64 `json:"sent_per_s"`
	AckedPerS          float64 `json:"acked_per_s"`
	Deliveries         int64   `json:"deliveries"`
	ExpectedDeliveries int64   `json:"expected_deliveries"`
	DeliveriesPerS     float64 `json:"deliveries_per_s"`
	Lost               int64   `json:"lost"`
	Undelivered        int64   `json:"undelivered"`
	Dup                int64   `json:"dup"`
	ReplayDup          int64   `json:"replay_dup"`
	// SkippedRanges and SkippedSeqs count what capped replays left out
	// and named in synced.skipped: the server said so, so they are not
	// losses (a real client pages them with history).
	SkippedRanges int64 `json:"skipped_ranges"`
	SkippedSeqs   int64 `json:"skipped_seqs"`
	// FramesBeforeWelcome counts frames that arrived on a socket before
	// its welcome; the protocol allows none.
	FramesBeforeWelcome int64 `json:"frames_before_welcome"`
	// DeadServerDrops counts sockets dropped after two heartbeats of
	// silence (then redialled and resumed).
	DeadServerDrops int64 `json:"dead_server_drops"`
	// PresencePerConn is presence frames received per connection.
	PresencePerConn float64        `json:"presence_per_conn"`
	LatencyMS       Latency        `json:"latency_ms"`
	Typing          *TypingSummary `json:"typing,omitempty"`
	PresenceFrames  int64          `json:"presence_frames"`
	OtherFrames     int64          `json:"other_frames"`
	Churn           *ChurnSummary  `json:"churn,omitempty"`
	// Team is the team scenario's figures by room class (--scenario team).
	Team       *TeamSummary     `json:"team,omitempty"`
	Storm      *StormSummary    `json:"storm,omitempty"`
	Server     *ServerSummary   `json:"server,omitempty"`
	Client     *ClientSummary   `json:"client,omitempty"`
	Errors     int64            `json:"errors"`
	ErrorKinds map[string]int64 `json:"error_kinds,omitempty"`
}

// Latency holds delivery latency percentiles in milliseconds.
type Latency struct {
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// TypingSummary counts typing notices.
type TypingSummary struct {
	Sent     int64 `json:"sent"`
	Received int64 `json:"received"`
}

// ChurnSummary counts reconnections.
type ChurnSummary struct {
	Dropped  int64 `json:"dropped"`
	Connects int64 `json:"connects"`
}

// StormSummary tells how a mass reconnection went.
type StormSummary struct {
	Dropped    int     `json:"dropped"`
	Resynced   int     `json:"resynced"`
	ResyncS    float64 `json:"resync_s"`
	RSSBefore  float64 `json:"rss_before_mib,omitempty"`
	RSSPeak    float64 `json:"rss_peak_mib,omitempty"`
	RSSAfterMB float64 `json:"rss_after_mib,omitempty"`
}

// ServerSummary is the server process's memory and CPU, read from /proc
// when it runs on the same host.
type ServerSummary struct {
	PID           int     `json:"pid"`
	RSSMiB        float64 `json:"rss_mib"`
	RSSMaxMiB     float64 `json:"rss_max_mib"`
	RSSBaseMiB    float64 `json:"rss_base_mib"`
	RSSConnMiB    float64 `json:"rss_connected_mib"`
	RSSPerConnKiB float64 `json:"rss_per_conn_kib"`
	CPUPct        float64 `json:"cpu_pct"`
	Threads       int     `json:"threads"`
}

// ClientSummary is the load tool's own CPU use during the measured window
// (all its processes), to judge whether the tool was the bottleneck.
type ClientSummary struct {
	CPUPct float64 `json:"cpu_pct"`
	Procs  int     `json:"procs"`
}

func ms(us int64) float64 { return math.Round(float64(us)/10) / 100 }

func round(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}

func mib(b int64) float64 { return round(float64(b)/(1<<20), 1) }

// summarize turns the merged result into the summary.
func summarize(cfg *config, r result) Summary {
	s := Summary{
		RunID:               cfg.RunID,
		Conns:               cfg.Conns,
		Connected:           r.Connected,
		Publishers:          cfg.Publishers,
		Rooms:               cfg.Rooms,
		Reader:              cfg.Reader,
		RateTarget:          cfg.Rate,
		Sent:                r.Sent,
		Acked:               r.Acked,
		RateLimited:         r.Refused,
		Deliveries:          r.Deliveries,
		Lost:                r.Lost,
		Undelivered:         r.Undelivered,
		Dup:                 r.Dup,
		ReplayDup:           r.ReplayDup,
		SkippedRanges:       r.SkippedRanges,
		SkippedSeqs:         r.SkippedSeqs,
		FramesBeforeWelcome: r.PreWelcome,
		DeadServerDrops:     r.DeadDrops,
		ErrorKinds:          r.Errors,

		PresenceFrames: r.PresenceRecv,
		OtherFrames:    r.OtherRecv,
	}
	if r.ConnectMS > 0 {
		s.ConnsPerS = round(float64(r.Connected)/(r.ConnectMS/1000), 1)
		s.ConnectS = round(r.ConnectMS/1000, 3)
	}
	if cfg.Conns > 0 {
		s.PresencePerConn = round(float64(r.PresenceRecv)/float64(cfg.Conns), 1)
	}
	// Every connection of a room receives each message of that room once
	// (the sending connection through its ack or the message frame).
	for i := range r.AckedByRoom {
		s.ExpectedDeliveries += r.AckedByRoom[i] * int64(r.ConnectedByRoom[i])
	}
	window := time.Duration(r.MeasureToNS - r.MeasureFromNS)
	s.DurationS = round(window.Seconds(), 3)
	if window > 0 {
		s.SentPerS = round(float64(r.Sent)/window.Seconds(), 1)
		s.AckedPerS = round(float64(r.Acked)/window.Seconds(), 1)
	}
	// Deliveries per second over the time they actually took: from the start
	// of the measured window to the last delivery (which may fall after the
	// window when the server lags behind).
	if span := time.Duration(r.LastDeliveryNS - r.MeasureFromNS); span > 0 && r.Deliveries > 0 {
		s.DeliveriesPerS = round(float64(r.Deliveries)/span.Seconds(), 0)
	}
	s.LatencyMS = Latency{
		P50: ms(r.Hist.Quantile(0.50)),
		P90: ms(r.Hist.Quantile(0.90)),
		P99: ms(r.Hist.Quantile(0.99)),
		Max: ms(r.Hist.MaxUS),
	}
	if cfg.Typing > 0 {
		s.Typing = &TypingSummary{Sent: r.TypingSent, Received: r.TypingRecv}
	}
	if cfg.Churn > 0 {
		s.Churn = &ChurnSummary{Dropped: r.Churned, Connects: r.Connects}
	}
	if cfg.Storm && r.StormAtNS != 0 {
		st := &StormSummary{Dropped: r.Connected, Resynced: r.StormResynced}
		if r.StormResyncedNS > r.StormAtNS {
			st.ResyncS = round(time.Duration(r.StormResyncedNS-r.StormAtNS).Seconds(), 3)
		}
		s.Storm = st
	}
	if cfg.team != nil {
		s.Team = teamSummary(cfg, r)
		s.Rooms = len(cfg.team.members)
	}
	for k, v := range r.Errors {
		if k == "unanswered_send" { // listed, but it is a consequence of drops, not a fault
			continue
		}
		s.Errors += v
	}
	return s
}

// human writes the summary as a short table for people.
func human(w io.Writer, s Summary) {
	fmt.Fprintf(w, "\nconnections   %d of %d open and synced in %.2fs, %.0f/s; %d frames before welcome, %d dropped as dead (silent 2 heartbeats)\n",
		s.Connected, s.Conns, s.ConnectS, s.ConnsPerS, s.FramesBeforeWelcome, s.DeadServerDrops)
	fmt.Fprintf(w, "messages      %d sent (%.1f/s over %.1fs), %d acked, %d rate-limited\n",
		s.Sent, s.SentPerS, s.DurationS, s.Acked, s.RateLimited)
	fmt.Fprintf(w, "deliveries    %d of %d expected, %.0f/s\n", s.Deliveries, s.ExpectedDeliveries, s.DeliveriesPerS)
	fmt.Fprintf(w, "integrity     %d lost (gaps), %d not arrived by the end, %d duplicated (%d repeated during replays); %d seqs in %d ranges skipped by capped replays (not lost)\n",
		s.Lost, s.Undelivered, s.Dup, s.ReplayDup, s.SkippedSeqs, s.SkippedRanges)
	fmt.Fprintf(w, "latency       p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms\n",
		s.LatencyMS.P50, s.LatencyMS.P90, s.LatencyMS.P99, s.LatencyMS.Max)
	if s.Team != nil {
		humanTeam(w, s.Team)
	}
	fmt.Fprintf(w, "other frames  %d presence (%.1f per connection), %d other\n", s.PresenceFrames, s.PresencePerConn, s.OtherFrames)
	if s.Storm != nil {
		fmt.Fprintf(w, "storm         %d dropped, %d resynced in %.2fs\n", s.Storm.Dropped, s.Storm.Resynced, s.Storm.ResyncS)
	}
	if s.Churn != nil {
		fmt.Fprintf(w, "churn         %d dropped, %d connects in all\n", s.Churn.Dropped, s.Churn.Connects)
	}
	if s.Typing != nil {
		fmt.Fprintf(w, "typing        %d sent, %d received\n", s.Typing.Sent, s.Typing.Received)
	}
	if sv := s.Server; sv != nil {
		fmt.Fprintf(w, "server        pid %d: rss %.1f MiB (max %.1f, base %.1f), %.1f KiB per connection, cpu %.0f%%\n",
			sv.PID, sv.RSSMiB, sv.RSSMaxMiB, sv.RSSBaseMiB, sv.RSSPerConnKiB, sv.CPUPct)
	}
	if s.Client != nil {
		fmt.Fprintf(w, "load tool     cpu %.0f%% over %d process(es), subscribers read by %s\n", s.Client.CPUPct, s.Client.Procs, s.Reader)
	}
	if len(s.ErrorKinds) > 0 {
		keys := make([]string, 0, len(s.ErrorKinds))
		for k := range s.ErrorKinds {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = fmt.Sprintf("%s=%d", k, s.ErrorKinds[k])
		}
		fmt.Fprintf(w, "errors        %s\n", strings.Join(parts, " "))
	}
}

// progressLine renders one progress line.
func progressLine(elapsed time.Duration, phase string, p progress, dps float64) string {
	return fmt.Sprintf("%5.1fs %-8s conns %d/%d  sent %d  acked %d  deliveries %d (%.0f/s)  p99 %.1f ms  dup %d  errors %d",
		elapsed.Seconds(), phase, p.Open, p.Conns, p.Sent+p.WarmSent, p.Acked+p.WarmAcked,
		p.Deliveries, dps, ms(p.Hist.Quantile(0.99)), p.Dup, sumErrs(p.Errors))
}

func sumErrs(m map[string]int64) int64 {
	var n int64
	for k, v := range m {
		if k != "unanswered_send" {
			n += v
		}
	}
	return n
}

// addByRoom adds the per-room counts of another process's result to dst,
// growing it to their length.
func addByRoom[T int | int64](dst *[]T, src []T) {
	for len(*dst) < len(src) {
		*dst = append(*dst, 0)
	}
	for i, v := range src {
		(*dst)[i] += v
	}
}
