package bench

import (
	"os"
	"strings"
	"testing"
	"time"
)

const procNetTCP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 123456 1 0000000000000000 100 0 0 10 0
   1: 0100007F:1F90 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 123457 1 0000000000000000 20 4 30 10 -1
   2: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 999 1 0000000000000000 100 0 0 10 0
`

func TestListenInodes(t *testing.T) {
	got := listenInodes(strings.NewReader(procNetTCP), 8080)
	if len(got) != 1 || got[0] != "123456" {
		t.Fatalf("got %v", got)
	}
	if got := listenInodes(strings.NewReader(procNetTCP), 22); len(got) != 1 || got[0] != "999" {
		t.Fatalf("port 22: %v", got)
	}
}

func TestParseStat(t *testing.T) {
	stat := []byte("4242 (mini chat) (x) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 150 0 0 20 0 12 0 100 1000 200")
	cpu, err := parseStatCPU(stat)
	if err != nil {
		t.Fatal(err)
	}
	if cpu != 4*time.Second { // (250 + 150) ticks at 100 Hz
		t.Fatalf("cpu %v", cpu)
	}
	rss, threads := parseStatus([]byte("Name:\tminichat\nVmRSS:\t   20480 kB\nThreads:\t7\n"))
	if rss != 20480*1024 || threads != 7 {
		t.Fatalf("rss %d threads %d", rss, threads)
	}
}

func TestReadSelf(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc here")
	}
	s, err := readProc(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if s.RSS <= 0 || s.Threads <= 0 {
		t.Fatalf("got %+v", s)
	}
}
