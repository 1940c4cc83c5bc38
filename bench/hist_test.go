package bench

import (
	"math/rand/v2"
	"sort"
	"testing"
	"time"
)

func TestBucketsCoverValues(t *testing.T) {
	prev := -1
	for _, v := range []int64{0, 1, 127, 128, 129, 255, 256, 1000, 12345, 1 << 20, 1<<40 - 1} {
		i := bucketOf(v)
		if i < prev {
			t.Fatalf("bucketOf(%d) = %d, below the bucket of a smaller value (%d)", v, i, prev)
		}
		prev = i
		lo := bucketLow(i)
		hi := bucketLow(i + 1)
		if v < lo || (i+1 < nBuckets && v >= hi) {
			t.Fatalf("value %d in bucket %d = [%d, %d)", v, i, lo, hi)
		}
		if v >= subCount && float64(hi-lo)/float64(lo) > 1.0/64+1e-9 {
			t.Fatalf("bucket %d = [%d, %d) is wider than 1/64 of its value", i, lo, hi)
		}
	}
	for i := 0; i+1 < nBuckets; i++ {
		if bucketOf(bucketLow(i)) != i {
			t.Fatalf("bucketOf(bucketLow(%d)) = %d", i, bucketOf(bucketLow(i)))
		}
	}
}

func TestQuantiles(t *testing.T) {
	var h Histogram
	vals := make([]int64, 10000)
	for i := range vals {
		vals[i] = rand.Int64N(200_000) // up to 200 ms
		h.Record(time.Duration(vals[i]) * time.Microsecond)
	}
	sort.Slice(vals, func(i, j int) bool { return vals[i] < vals[j] })
	s := h.Snapshot()
	if s.Count() != 10000 {
		t.Fatalf("count %d", s.Count())
	}
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999} {
		exact := vals[int(q*float64(len(vals)))-1]
		got := s.Quantile(q)
		if diff := float64(got-exact) / float64(exact); diff > 0.02 || diff < -0.02 {
			t.Errorf("q%.3f = %d µs, exact %d µs", q, got, exact)
		}
	}
	if s.MaxUS != vals[len(vals)-1] {
		t.Errorf("max %d, want %d", s.MaxUS, vals[len(vals)-1])
	}
	if got := s.Quantile(1); got != s.MaxUS {
		t.Errorf("q1 = %d, want the max %d", got, s.MaxUS)
	}
}

func TestQuantileEmptyAndSmall(t *testing.T) {
	var h Hist
	if h.Quantile(0.99) != 0 {
		t.Fatal("empty histogram has a p99")
	}
	var x Histogram
	x.Record(3 * time.Millisecond)
	s := x.Snapshot()
	if got := s.Quantile(0.5); got < 2950 || got > 3000 {
		t.Fatalf("p50 of one 3 ms value = %d µs", got)
	}
}

func TestMerge(t *testing.T) {
	var a, b Histogram
	for i := 0; i < 100; i++ {
		a.Record(time.Millisecond)
		b.Record(10 * time.Millisecond)
	}
	var m Hist
	m.Merge(a.Snapshot())
	m.Merge(b.Snapshot())
	if m.Count() != 200 {
		t.Fatalf("count %d", m.Count())
	}
	if p := m.Quantile(0.25); p < 990 || p > 1010 {
		t.Errorf("p25 %d µs, want about 1 ms", p)
	}
	if p := m.Quantile(0.99); p < 9900 || p > 10000 {
		t.Errorf("p99 %d µs, want about 10 ms", p)
	}
	if m.MaxUS != 10000 {
		t.Errorf("max %d", m.MaxUS)
	}
}
