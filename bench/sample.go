package bench

import (
	"net/http"
	"os"
	"sync"
	"time"
)

func newHTTPClient() *http.Client { return &http.Client{Timeout: 60 * time.Second} }

// sampler reads the server's and the tool's own processes from /proc during
// a run. With pid ≤ 0 it records nothing about the server.
type sampler struct {
	pid int

	mu      sync.Mutex // guards the fields below
	server  []procSample
	clients map[int][]procSample
}

func newSampler(pid int) *sampler {
	return &sampler{pid: pid, clients: map[int][]procSample{}}
}

// addClients registers the tool's processes (this one and its workers).
func (s *sampler) addClients(rs []runner) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clients[os.Getpid()] = nil
	for _, r := range rs {
		if p := r.pid(); p > 0 {
			s.clients[p] = nil
		}
	}
}

// sample reads the server now; the zero sample when there is none.
func (s *sampler) sample() procSample {
	if s.pid <= 0 {
		return procSample{}
	}
	p, err := readProc(s.pid)
	if err != nil {
		return procSample{}
	}
	s.mu.Lock()
	s.server = append(s.server, p)
	s.mu.Unlock()
	return p
}

func (s *sampler) sampleClients() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for pid := range s.clients {
		if p, err := readProc(pid); err == nil {
			s.clients[pid] = append(s.clients[pid], p)
		}
	}
}

// every samples the server and the tool every d until the returned stop is
// called; stop waits for the sampling goroutine.
func (s *sampler) every(d time.Duration) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(d)
		defer t.Stop()
		for {
			s.sample()
			s.sampleClients()
			select {
			case <-t.C:
			case <-done:
				return
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() { close(done) })
		wg.Wait()
	}
}

// nearest returns the sample taken closest to t (the zero sample if none).
func nearest(ss []procSample, t time.Time) procSample {
	var best procSample
	var bestD time.Duration = -1
	for _, p := range ss {
		d := p.At.Sub(t)
		if d < 0 {
			d = -d
		}
		if bestD < 0 || d < bestD {
			best, bestD = p, d
		}
	}
	return best
}

// fill adds the server and client figures to sum.
func (s *sampler) fill(sum *Summary, base, connected, end procSample, from, to, stormAt time.Time, procs int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pid > 0 && !end.At.IsZero() {
		sv := &ServerSummary{
			PID:        s.pid,
			RSSMiB:     mib(end.RSS),
			RSSBaseMiB: mib(base.RSS),
			RSSConnMiB: mib(connected.RSS),
			Threads:    end.Threads,
		}
		var maxRSS int64
		for _, p := range s.server {
			maxRSS = max(maxRSS, p.RSS)
		}
		sv.RSSMaxMiB = mib(maxRSS)
		if sum.Connected > 0 && connected.RSS > 0 && base.RSS > 0 {
			sv.RSSPerConnKiB = round(float64(connected.RSS-base.RSS)/1024/float64(sum.Connected), 2)
		}
		sv.CPUPct = round(cpuPct(nearest(s.server, from), nearest(s.server, to)), 1)
		sum.Server = sv
		if sum.Storm != nil && !stormAt.IsZero() {
			var before procSample
			var peak int64
			for _, p := range s.server {
				if p.At.Before(stormAt) {
					before = p
				} else {
					peak = max(peak, p.RSS)
				}
			}
			sum.Storm.RSSBefore = mib(before.RSS)
			sum.Storm.RSSPeak = mib(peak)
			sum.Storm.RSSAfterMB = mib(end.RSS)
		}
	}
	var cpu float64
	for _, ss := range s.clients {
		a, b := nearest(ss, from), nearest(ss, to)
		if !a.At.IsZero() && !b.At.IsZero() {
			cpu += cpuPct(a, b)
		}
	}
	if cpu > 0 {
		sum.Client = &ClientSummary{CPUPct: round(cpu, 1), Procs: procs}
	}
}
