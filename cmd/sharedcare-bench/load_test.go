package main

import (
	"context"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPercentile(t *testing.T) {
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i+1) * time.Millisecond
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"single p50", []time.Duration{7}, 50, 7},
		{"single p99", []time.Duration{7}, 99, 7},
		{"p50 of 1..100", hundred, 50, 50 * time.Millisecond},
		{"p95 of 1..100", hundred, 95, 95 * time.Millisecond},
		{"p99 of 1..100", hundred, 99, 99 * time.Millisecond},
		{"p100 is the max", hundred, 100, 100 * time.Millisecond},
		{"tiny p is the min", hundred, 0.001, 1 * time.Millisecond},
		{"p50 of four rounds up to an observed sample", []time.Duration{1, 2, 3, 4}, 50, 2},
		{"p99 of ten is the max", []time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 99, 10},
		{"p90 of ten", []time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 90, 9},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, percentile(tt.sorted, tt.p))
		})
	}
}

// countingServer answers every request and counts them; every failEvery-th
// request (0: none) gets a 500.
func countingServer(t *testing.T, failEvery int64) (*httptest.Server, *atomic.Int64) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if i := n.Add(1); failEvery > 0 && i%failEvery == 0 {
			http.Error(w, "boom", http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func getOp(c *fhirClient) op {
	return func(ctx context.Context, _ *rand.Rand) error {
		_, err := c.do(ctx, http.MethodGet, "/x", nil)
		return err
	}
}

func TestRunLoadRequestsIsExact(t *testing.T) {
	srv, n := countingServer(t, 0)
	c := newFHIRClient(srv.URL, "", 4, time.Second)
	s, err := runLoad(t.Context(), getOp(c), load{concurrency: 4, requests: 250})
	require.NoError(t, err)
	assert.Equal(t, 250, s.requests)
	assert.Equal(t, 0, s.errors)
	assert.Len(t, s.latencies, 250)
	assert.Equal(t, int64(250), n.Load())
	assert.True(t, s.latencies[0] <= s.percentile(50) && s.percentile(50) <= s.percentile(99))
	assert.Positive(t, s.throughput())
}

func TestRunLoadDurationDropsWarmup(t *testing.T) {
	srv, n := countingServer(t, 0)
	c := newFHIRClient(srv.URL, "", 2, time.Second)
	start := time.Now()
	s, err := runLoad(t.Context(), getOp(c), load{concurrency: 2, warmup: 100 * time.Millisecond, duration: 200 * time.Millisecond})
	require.NoError(t, err)
	assert.GreaterOrEqual(t, time.Since(start), 300*time.Millisecond)
	assert.GreaterOrEqual(t, s.elapsed, 200*time.Millisecond)
	assert.Positive(t, s.requests)
	assert.Greater(t, n.Load(), int64(s.requests), "warmup requests reach the server but are not counted")
}

func TestRunLoadCountsErrors(t *testing.T) {
	srv, _ := countingServer(t, 4)
	c := newFHIRClient(srv.URL, "", 1, time.Second)
	s, err := runLoad(t.Context(), getOp(c), load{concurrency: 1, requests: 100})
	require.NoError(t, err)
	assert.Equal(t, 100, s.requests)
	assert.Equal(t, 25, s.errors)
	assert.Len(t, s.latencies, 75)
	var se *statusError
	require.ErrorAs(t, s.firstErr, &se)
	assert.Equal(t, http.StatusInternalServerError, se.status)
	assert.Equal(t, "boom", se.body)
}

func TestRunLoadTransportErrors(t *testing.T) {
	srv, _ := countingServer(t, 0)
	srv.Close()
	c := newFHIRClient(srv.URL, "", 2, time.Second)
	s, err := runLoad(t.Context(), getOp(c), load{concurrency: 2, requests: 10})
	require.NoError(t, err)
	assert.Equal(t, 10, s.errors)
	assert.Empty(t, s.latencies)
	assert.Zero(t, s.throughput())
	assert.Zero(t, s.percentile(99))
}

func TestRunLoadStopsOnCancel(t *testing.T) {
	srv, _ := countingServer(t, 0)
	c := newFHIRClient(srv.URL, "", 2, time.Second)
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	_, err := runLoad(ctx, getOp(c), load{concurrency: 2, duration: time.Minute})
	require.ErrorIs(t, err, context.DeadlineExceeded)
}
