package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"
)

// rss is the server's resident memory around one measured run, in KiB.
// Peak is the highest of the samples taken every rssInterval while the load
// ran, which is what "RSS under load" means; 0 is a reading that failed.
type rss struct {
	Before int64 `json:"beforeKiB"`
	Peak   int64 `json:"peakKiB"`
	After  int64 `json:"afterKiB"`
}

// rssInterval is how often the server's RSS is sampled under load: often
// enough to catch a peak, rarely enough to cost nothing.
const rssInterval = 100 * time.Millisecond

// readRSS returns the VmRSS of process pid in KiB.
func readRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	return parseVmRSS(b)
}

// parseVmRSS returns the VmRSS line of a /proc/<pid>/status file in KiB.
func parseVmRSS(status []byte) (int64, error) {
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		rest, ok := bytes.CutPrefix(sc.Bytes(), []byte("VmRSS:"))
		if !ok {
			continue
		}
		f := bytes.Fields(rest)
		if len(f) != 2 || string(f[1]) != "kB" {
			return 0, fmt.Errorf("unexpected VmRSS line %q", sc.Text())
		}
		return strconv.ParseInt(string(f[0]), 10, 64)
	}
	return 0, errors.New("no VmRSS in process status")
}

// rssWatch samples a process's RSS while a run goes on.
type rssWatch struct {
	pid  int
	r    rss
	stop chan struct{}
	done sync.WaitGroup
}

// watchRSS takes the before reading and starts sampling pid.
func watchRSS(pid int) *rssWatch {
	w := &rssWatch{pid: pid, stop: make(chan struct{})}
	w.r.Before, _ = readRSS(pid)
	w.r.Peak = w.r.Before
	w.done.Go(func() {
		t := time.NewTicker(rssInterval)
		defer t.Stop()
		for {
			select {
			case <-w.stop:
				return
			case <-t.C:
				if v, err := readRSS(pid); err == nil {
					w.r.Peak = max(w.r.Peak, v)
				}
			}
		}
	})
	return w
}

// finish stops sampling, takes the after reading and returns all three.
func (w *rssWatch) finish() rss {
	close(w.stop)
	w.done.Wait()
	w.r.After, _ = readRSS(w.pid)
	w.r.Peak = max(w.r.Peak, w.r.After)
	return w.r
}
