package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// report is everything one bench invocation measured; -json writes it as is.
type report struct {
	Base         string            `json:"base"`
	Started      time.Time         `json:"started"`
	Warmup       string            `json:"warmup"`
	Duration     string            `json:"duration,omitempty"` // per run, when runs are timed
	Requests     int               `json:"requests,omitempty"` // per run, when runs are counted
	GOMAXPROCS   int               `json:"gomaxprocs"`
	ScratchDB    string            `json:"scratchDatabase,omitempty"` // where the floors ran
	PID          int               `json:"pid,omitempty"`             // the server process whose RSS is reported
	Population   *populationReport `json:"population,omitempty"`
	Results      []result          `json:"results"`
	StoppedEarly string            `json:"stoppedEarly,omitempty"` // why the results stop short
}

// populationReport is how the population load went: Patients is the whole
// population, Resources what this run loaded (less when it resumed one).
type populationReport struct {
	Patients  int     `json:"patients"`
	Resources int     `json:"resources"`
	Seconds   float64 `json:"seconds"`
	PerSecond float64 `json:"resourcesPerSecond"`
}

// result is one scenario at one concurrency.
type result struct {
	Scenario    string `json:"scenario"`
	Concurrency int    `json:"concurrency"`
	// Units is how many resources one request carries (a transaction's
	// entries), so that throughput also reads as resources per second.
	Units  float64      `json:"unitsPerRequest"`
	Server measurement  `json:"server"`
	Floor  *measurement `json:"floor,omitempty"`
	// The ratios are server / floor: a throughput ratio of 0.25 means the
	// server does a quarter of what Postgres alone does at that
	// concurrency; a p99 ratio of 4 means its p99 is four times as long.
	ThroughputRatio *float64 `json:"throughputRatio,omitempty"`
	P99Ratio        *float64 `json:"p99Ratio,omitempty"`
	RSS             *rss     `json:"rss,omitempty"`
}

// measurement is the summary of one measured run. Throughput and the
// percentiles count successful requests only.
type measurement struct {
	Requests   int     `json:"requests"`
	Errors     int     `json:"errors"`
	Seconds    float64 `json:"seconds"`
	Throughput float64 `json:"throughput"`
	UnitRate   float64 `json:"unitsPerSecond"` // Throughput times the result's Units
	P50Ms      float64 `json:"p50Ms"`
	P95Ms      float64 `json:"p95Ms"`
	P99Ms      float64 `json:"p99Ms"`
	MaxMs      float64 `json:"maxMs"`
	FirstError string  `json:"firstError,omitempty"`
}

// summarize turns a phase's stats into a measurement of requests carrying
// units resources each.
func summarize(s stats, units float64) measurement {
	m := measurement{
		Requests:   s.requests,
		Errors:     s.errors,
		Seconds:    s.elapsed.Seconds(),
		Throughput: s.throughput(),
		UnitRate:   s.throughput() * units,
		P50Ms:      ms(s.percentile(50)),
		P95Ms:      ms(s.percentile(95)),
		P99Ms:      ms(s.percentile(99)),
		MaxMs:      ms(s.percentile(100)),
	}
	if s.firstErr != nil {
		m.FirstError = s.firstErr.Error()
	}
	return m
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// setFloor records the floor and the server/floor ratios that it defines.
func (r *result) setFloor(f measurement) {
	r.Floor = &f
	if f.Throughput > 0 {
		v := r.Server.Throughput / f.Throughput
		r.ThroughputRatio = &v
	}
	if f.P99Ms > 0 && r.Server.P99Ms > 0 {
		v := r.Server.P99Ms / f.P99Ms
		r.P99Ratio = &v
	}
}

func writeJSON(w io.Writer, rep report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

// writeText writes the report as an aligned table followed by the first
// error of every run that had any.
func writeText(w io.Writer, rep report) error {
	var b strings.Builder
	fmt.Fprintf(&b, "sharedcare-bench %s, started %s\n", rep.Base, rep.Started.Format(time.RFC3339))
	run := rep.Duration + " per run"
	if rep.Requests > 0 {
		run = fmt.Sprintf("%d requests per run", rep.Requests)
	}
	fmt.Fprintf(&b, "%s after %s warmup, GOMAXPROCS %d", run, rep.Warmup, rep.GOMAXPROCS)
	if rep.ScratchDB != "" {
		fmt.Fprintf(&b, ", floor in scratch database %s", rep.ScratchDB)
	}
	if rep.PID > 0 {
		fmt.Fprintf(&b, ", RSS of pid %d", rep.PID)
	}
	b.WriteString("\n")
	if p := rep.Population; p != nil {
		fmt.Fprintf(&b, "population: %d patients; this run loaded %d resources in %.0f s (%.0f resources/s)\n", p.Patients, p.Resources, p.Seconds, p.PerSecond)
	}
	b.WriteString("\n")

	// Numbers align right; padding the names to one width keeps them
	// reading left-aligned in the right-aligned table.
	nameWidth := len("scenario")
	for _, r := range rep.Results {
		nameWidth = max(nameWidth, len(r.Scenario))
	}
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%-*s\tconc\trequests\terrors\treq/s\tunits/req\tunits/s\tp50 ms\tp95 ms\tp99 ms\tfloor req/s\tfloor p99 ms\treq/s ratio\tp99 ratio\tRSS MiB before/peak/after\t\n", nameWidth, "scenario")
	for _, r := range rep.Results {
		s := r.Server
		fmt.Fprintf(tw, "%-*s\t%d\t%d\t%d\t%.1f\t%.1f\t%.1f\t%.2f\t%.2f\t%.2f\t", nameWidth, r.Scenario, r.Concurrency, s.Requests, s.Errors, s.Throughput, r.Units, s.UnitRate, s.P50Ms, s.P95Ms, s.P99Ms)
		if f := r.Floor; f != nil {
			fmt.Fprintf(tw, "%.1f\t%.2f\t", f.Throughput, f.P99Ms)
		} else {
			fmt.Fprint(tw, "-\t-\t")
		}
		fmt.Fprintf(tw, "%s\t%s\t", ratio(r.ThroughputRatio), ratio(r.P99Ratio))
		if m := r.RSS; m != nil {
			fmt.Fprintf(tw, "%s/%s/%s\t\n", mib(m.Before), mib(m.Peak), mib(m.After))
		} else {
			fmt.Fprint(tw, "-\t\n")
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	b.WriteString("\nreq/s and percentiles count successful requests; units are resources per request; ratios are server / floor.\n")
	for _, r := range rep.Results {
		if r.Server.FirstError != "" {
			fmt.Fprintf(&b, "%s c=%d server: %d errors, first: %s\n", r.Scenario, r.Concurrency, r.Server.Errors, r.Server.FirstError)
		}
		if r.Floor != nil && r.Floor.FirstError != "" {
			fmt.Fprintf(&b, "%s c=%d floor: %d errors, first: %s\n", r.Scenario, r.Concurrency, r.Floor.Errors, r.Floor.FirstError)
		}
	}
	if rep.StoppedEarly != "" {
		fmt.Fprintf(&b, "stopped early: %s\n", rep.StoppedEarly)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func ratio(v *float64) string {
	if v == nil {
		return "-"
	}
	return fmt.Sprintf("%.2f", *v)
}

// mib formats KiB as MiB; 0 is a reading that failed.
func mib(kib int64) string {
	if kib <= 0 {
		return "?"
	}
	return fmt.Sprintf("%.1f", float64(kib)/1024)
}
