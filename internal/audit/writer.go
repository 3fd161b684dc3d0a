package audit

import (
	"context"
	"sync"

	"github.com/sharedcare/sharedcare/internal/store"
)

// maxBatch bounds the records written in one group commit.
const maxBatch = 256

type pending struct {
	rec  store.AuditRecord
	done chan error
}

// Writer writes audit records durably with group commit: requests that
// arrive together share one insert, and each waits until its record is
// committed. A durable row per read then costs a fraction of an insert.
type Writer struct {
	a    store.Auditor
	in   chan pending
	wg   sync.WaitGroup
	stop context.CancelFunc
}

// NewWriter starts a Writer with workers concurrent group commits.
func NewWriter(a store.Auditor, workers int) *Writer {
	ctx, cancel := context.WithCancel(context.Background())
	w := &Writer{a: a, in: make(chan pending, 4*maxBatch), stop: cancel}
	for i := 0; i < max(workers, 1); i++ {
		w.wg.Add(1)
		go w.run(ctx)
	}
	return w
}

// Write stores rec and returns once it is committed, or with the error
// that kept it from being stored.
func (w *Writer) Write(ctx context.Context, rec store.AuditRecord) error {
	p := pending{rec: rec, done: make(chan error, 1)}
	select {
	case w.in <- p:
	case <-ctx.Done():
		return ctx.Err()
	}
	// The record is in the queue: wait for its outcome even if the client
	// leaves, so that nothing is reported unaudited.
	return <-p.done
}

func (w *Writer) run(ctx context.Context) {
	defer w.wg.Done()
	batch := make([]pending, 0, maxBatch)
	recs := make([]store.AuditRecord, 0, maxBatch)
	for {
		var first pending
		select {
		case first = <-w.in:
		case <-ctx.Done():
			return
		}
		batch = append(batch[:0], first)
	drain:
		for len(batch) < maxBatch {
			select {
			case p := <-w.in:
				batch = append(batch, p)
			default:
				break drain
			}
		}
		recs = recs[:0]
		for _, p := range batch {
			recs = append(recs, p.rec)
		}
		err := w.a.AppendAudit(context.Background(), recs)
		for _, p := range batch {
			p.done <- err
		}
	}
}

// Close stops the workers after the records already queued are written.
func (w *Writer) Close() {
	for len(w.in) > 0 {
		p := <-w.in
		p.done <- w.a.AppendAudit(context.Background(), []store.AuditRecord{p.rec})
	}
	w.stop()
	w.wg.Wait()
}
