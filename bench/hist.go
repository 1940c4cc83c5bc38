package bench

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// The latency histogram is log-linear, like HdrHistogram: values below
// subCount microseconds have a bucket each, and every power of two above
// that is cut into subCount/2 buckets, so a bucket's width is under 1/64 of
// its value (less than 1.6% error on any percentile). It covers up to 2^40 µs
// (12 days), far beyond any run.
const (
	subBits  = 7
	subCount = 1 << subBits // 128
	subHalf  = subCount / 2
	maxShift = 40 - subBits
	nBuckets = subCount + maxShift*subHalf
)

// bucketOf returns the bucket index of v microseconds.
func bucketOf(v int64) int {
	if v < 0 {
		v = 0
	}
	if v < subCount {
		return int(v)
	}
	shift := bits.Len64(uint64(v)) - subBits // v>>shift is in [64, 128)
	if shift > maxShift {
		return nBuckets - 1
	}
	return subCount + (shift-1)*subHalf + int(v>>shift) - subHalf
}

// bucketLow returns the smallest value (µs) that falls into bucket i.
func bucketLow(i int) int64 {
	if i < subCount {
		return int64(i)
	}
	i -= subCount
	shift := i/subHalf + 1
	return int64(i%subHalf+subHalf) << shift
}

// bucketMid returns a representative value (µs) of bucket i: its middle.
func bucketMid(i int) int64 {
	lo := bucketLow(i)
	if i+1 >= nBuckets {
		return lo
	}
	return (lo + bucketLow(i+1) - 1) / 2
}

// Histogram counts latencies. Record is safe for concurrent use (atomic
// adds); Snapshot copies it without stopping writers, so a snapshot taken
// during a run is off by the few values recorded while it was being taken.
type Histogram struct {
	counts [nBuckets]atomic.Uint64
	max    atomic.Int64
}

// Record adds one latency.
func (h *Histogram) Record(d time.Duration) {
	us := d.Microseconds()
	if us < 0 {
		us = 0
	}
	h.counts[bucketOf(us)].Add(1)
	for {
		m := h.max.Load()
		if us <= m || h.max.CompareAndSwap(m, us) {
			return
		}
	}
}

// Snapshot returns the sparse contents of h.
func (h *Histogram) Snapshot() Hist {
	s := Hist{Buckets: map[int]uint64{}, MaxUS: h.max.Load()}
	for i := range h.counts {
		if c := h.counts[i].Load(); c != 0 {
			s.Buckets[i] = c
		}
	}
	return s
}

// Hist is a plain, mergeable copy of a Histogram: bucket index → count. It
// travels between worker processes as JSON.
type Hist struct {
	Buckets map[int]uint64 `json:"b"`
	MaxUS   int64          `json:"max_us"`
}

// Merge adds o into h.
func (h *Hist) Merge(o Hist) {
	if h.Buckets == nil {
		h.Buckets = map[int]uint64{}
	}
	for i, c := range o.Buckets {
		h.Buckets[i] += c
	}
	if o.MaxUS > h.MaxUS {
		h.MaxUS = o.MaxUS
	}
}

// Count returns the number of recorded values.
func (h Hist) Count() uint64 {
	var n uint64
	for _, c := range h.Buckets {
		n += c
	}
	return n
}

// Quantile returns the value (µs) below or at which a fraction q of the
// recorded values lie: the middle of the bucket holding the value of rank
// ceil(q·n), never more than the exact maximum. It returns 0 when h is empty.
func (h Hist) Quantile(q float64) int64 {
	n := h.Count()
	if n == 0 {
		return 0
	}
	rank := uint64(q*float64(n) + 0.999999999)
	if rank < 1 {
		rank = 1
	}
	if rank >= n {
		return h.MaxUS
	}
	var seen uint64
	for i := 0; i < nBuckets; i++ {
		seen += h.Buckets[i]
		if seen >= rank {
			v := bucketMid(i)
			if v > h.MaxUS {
				v = h.MaxUS
			}
			return v
		}
	}
	return h.MaxUS
}
