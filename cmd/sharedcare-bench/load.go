package main

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// An op is the one request a scenario's workers repeat. rng belongs to the
// calling worker, so an op may use it without locking.
type op func(ctx context.Context, rng *rand.Rand) error

// load says how hard and how long to drive an op.
type load struct {
	concurrency int
	warmup      time.Duration // run and discard before measuring
	duration    time.Duration // measure for this long, unless requests is set
	requests    int           // measure exactly this many requests (0: use duration)
}

// stats is what one measured phase produced.
type stats struct {
	requests  int             // finished requests, successful or not
	errors    int             // requests whose op returned an error
	elapsed   time.Duration   // wall time from the first start to the last finish
	latencies []time.Duration // of successful requests, sorted ascending
	firstErr  error           // the first error seen, to tell the user why
}

// throughput returns successful requests per second: failures are often
// cheap rejections that would flatter the number.
func (s stats) throughput() float64 {
	if s.elapsed <= 0 {
		return 0
	}
	return float64(len(s.latencies)) / s.elapsed.Seconds()
}

// percentile returns the nearest-rank p-th percentile (0 < p <= 100) of
// the successful requests' latencies, or 0 when there were none.
func (s stats) percentile(p float64) time.Duration {
	return percentile(s.latencies, p)
}

// percentile returns the nearest-rank p-th percentile of sorted: the
// smallest sample that at least p percent of the samples do not exceed. It
// is an observed value, never an interpolation, which is what latency
// targets are stated in. An empty slice yields 0.
func percentile(sorted []time.Duration, p float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(n)))
	rank = min(max(rank, 1), n)
	return sorted[rank-1]
}

// runLoad drives o with l.concurrency workers: first for the warmup, whose
// results are dropped, then for the measured phase. It returns ctx's error
// when ctx ends early, since a cut-short measurement means nothing.
func runLoad(ctx context.Context, o op, l load) (stats, error) {
	if l.warmup > 0 {
		runPhase(ctx, o, l.concurrency, l.warmup, 0)
	}
	if err := ctx.Err(); err != nil {
		return stats{}, err
	}
	var s stats
	if l.requests > 0 {
		s = runPhase(ctx, o, l.concurrency, 0, l.requests)
	} else {
		s = runPhase(ctx, o, l.concurrency, l.duration, 0)
	}
	return s, ctx.Err()
}

// runPhase runs o on concurrency workers until budget requests have been
// started (budget > 0) or, otherwise, for duration. A request started
// before the deadline is allowed to finish and is counted, so that the
// slowest requests are not cut off the tail. The deadline is taken from
// the phase's own start, so that the phase lasts at least duration.
func runPhase(ctx context.Context, o op, concurrency int, duration time.Duration, budget int) stats {
	var remaining atomic.Int64
	remaining.Store(int64(budget))
	workers := make([]stats, concurrency)
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(duration)
	for i := range workers {
		w := &workers[i]
		if budget > 0 {
			w.latencies = make([]time.Duration, 0, budget/concurrency+1)
		}
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
			for ctx.Err() == nil {
				if budget > 0 {
					if remaining.Add(-1) < 0 {
						return
					}
				} else if !time.Now().Before(deadline) {
					return
				}
				t0 := time.Now()
				err := o(ctx, rng)
				d := time.Since(t0)
				w.requests++
				if err != nil {
					w.errors++
					if w.firstErr == nil {
						w.firstErr = err
					}
					continue
				}
				w.latencies = append(w.latencies, d)
			}
		})
	}
	wg.Wait()
	total := stats{elapsed: time.Since(start)}
	n := 0
	for _, w := range workers {
		n += len(w.latencies)
	}
	total.latencies = make([]time.Duration, 0, n)
	for _, w := range workers {
		total.requests += w.requests
		total.errors += w.errors
		total.latencies = append(total.latencies, w.latencies...)
		if total.firstErr == nil {
			total.firstErr = w.firstErr
		}
	}
	slices.Sort(total.latencies)
	return total
}
