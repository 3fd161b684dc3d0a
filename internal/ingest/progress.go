package ingest

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// Progress draws an import's progress on a terminal or a log.
type Progress struct {
	counts *Counts
	w      io.Writer
	tty    bool
	start  time.Time
	stop   chan struct{}
	done   chan struct{}
}

// Redraw intervals: a terminal line is redrawn in place a few times a
// second; a log (a file, CI) gets a line every few seconds.
const (
	ttyInterval = 250 * time.Millisecond
	logInterval = 5 * time.Second
)

// StartProgress draws c on w until Stop: redrawn in place when tty.
func StartProgress(c *Counts, w io.Writer, tty bool) *Progress {
	p := &Progress{counts: c, w: w, tty: tty, start: time.Now(), stop: make(chan struct{}), done: make(chan struct{})}
	interval := logInterval
	if tty {
		interval = ttyInterval
	}
	go func() {
		defer close(p.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-t.C:
				p.draw(false)
			}
		}
	}()
	return p
}

// Stop draws the final state and stops drawing.
func (p *Progress) Stop() {
	close(p.stop)
	<-p.done
	p.draw(true)
}

// Elapsed is the time since the import started.
func (p *Progress) Elapsed() time.Duration { return time.Since(p.start) }

// Line describes the progress: done/total resources, rate and ETA.
func (p *Progress) Line() string {
	done, total := p.counts.Done(), p.counts.Total.Load()
	el := time.Since(p.start).Seconds()
	rate := 0.0
	if el > 0 {
		rate = float64(done) / el
	}
	pct := 100.0
	if total > 0 {
		pct = 100 * float64(done) / float64(total)
	}
	eta := "?"
	if rate > 0 && total >= done {
		eta = (time.Duration(float64(total-done)/rate) * time.Second).Round(time.Second).String()
	}
	s := fmt.Sprintf("import: %d/%d resources (%.1f%%), %.0f resources/s, ETA %s", done, total, pct, rate, eta)
	if f := p.counts.Failed.Load(); f > 0 {
		s += fmt.Sprintf(", %d failed", f)
	}
	return s
}

func (p *Progress) draw(final bool) {
	var f float64 = 1
	if total := p.counts.Total.Load(); total > 0 {
		f = float64(p.counts.Done()) / float64(total)
	}
	switch {
	case p.tty && final:
		fmt.Fprintf(p.w, "\r%s %s\x1b[K\n", bar(f, 30), p.Line())
	case p.tty:
		fmt.Fprintf(p.w, "\r%s %s\x1b[K", bar(f, 30), p.Line())
	case !final:
		fmt.Fprintln(p.w, p.Line())
	}
}

// bar is a text bar of width w for the fraction f.
func bar(f float64, w int) string {
	n := int(f * float64(w))
	n = max(0, min(n, w))
	return "[" + strings.Repeat("#", n) + strings.Repeat(".", w-n) + "]"
}
