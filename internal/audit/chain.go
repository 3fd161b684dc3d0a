package audit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"log/slog"
	"time"

	"github.com/sharedcare/sharedcare/internal/store"
)

// Hash returns the chain hash of r after prev: SHA-256 over prev and every
// stored field of r, each length-prefixed so that no two records encode alike.
func Hash(prev []byte, r store.AuditRecord) []byte {
	h := sha256.New()
	field := func(b []byte) {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	field(prev)
	field([]byte(r.ID))
	field([]byte(r.Recorded.UTC().Format(time.RFC3339Nano)))
	for _, s := range []string{r.PatientID, r.Agent, r.Org, r.Purpose, r.Action, r.Outcome} {
		field([]byte(s))
	}
	if r.BreakGlass {
		field([]byte{1})
	} else {
		field([]byte{0})
	}
	field([]byte(fmt.Sprint(len(r.Entities))))
	for _, e := range r.Entities {
		field([]byte(e))
	}
	field(r.Raw)
	return h.Sum(nil)
}

const (
	sealBatch  = 1000 // records a SealAudit links at most
	sealerPass = 5    // batches RunSealer seals in one pass
)

// Seal links committed records into the chain in batches of sealBatch, at
// most maxBatches of them (0: until none is left). A bound keeps one pass
// from holding the embedded store's single writer while requests wait for
// it.
func Seal(ctx context.Context, a store.Auditor, maxBatches int) (int, error) {
	total := 0
	for i := 0; maxBatches == 0 || i < maxBatches; i++ {
		n, err := a.SealAudit(ctx, sealBatch, Hash)
		total += n
		if err != nil || n == 0 {
			return total, err
		}
	}
	return total, nil
}

// RunSealer seals the trail every interval until ctx ends, so that a record
// stays unchained for about one interval at most.
func RunSealer(ctx context.Context, a store.Auditor, interval time.Duration, log *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			// A full pass means more are waiting: seal on, a pass at a
			// time (each ends the store's write), until the trail is
			// caught up, so that the unchained never pile up behind a
			// server taking more records a second than one pass seals.
			for ctx.Err() == nil {
				n, err := Seal(ctx, a, sealerPass)
				if err != nil && ctx.Err() == nil {
					log.Error("sealing the audit trail", "err", err)
				}
				if err != nil || n < sealerPass*sealBatch {
					break
				}
			}
		}
	}
}

// Report is the result of verifying the chain.
type Report struct {
	Checked int
	// Broken is the first link that fails, nil when the chain holds.
	Broken *store.AuditLink
	// Reason says how Broken fails.
	Reason string
	// Unsealed counts records older than the grace period still outside the chain.
	Unsealed int
}

// Verify recomputes the chain from its first link and reports the first
// link whose stored hash, predecessor or position does not follow.
func Verify(ctx context.Context, a store.Auditor, grace time.Duration) (Report, error) {
	var rep Report
	var prev []byte
	var pos int64
	errStop := fmt.Errorf("stop")
	err := a.AuditChain(ctx, func(l store.AuditLink) error {
		pos++
		switch {
		case l.Pos != pos:
			rep.Reason = fmt.Sprintf("chain position %d found where %d was expected (a link was removed)", l.Pos, pos)
		case !bytes.Equal(l.PrevHash, prev):
			rep.Reason = "its stored predecessor hash does not match the previous link"
		case !bytes.Equal(l.Hash, Hash(prev, l.AuditRecord)):
			rep.Reason = "its content does not match its hash (the record was altered)"
		default:
			rep.Checked++
			prev = l.Hash
			return nil
		}
		link := l
		rep.Broken = &link
		return errStop
	})
	if err != nil && err != errStop {
		return rep, err
	}
	rep.Unsealed, err = a.UnsealedAudit(ctx, time.Now().Add(-grace))
	return rep, err
}

// String describes the report for the command line.
func (r Report) String() string {
	if r.Broken != nil {
		return fmt.Sprintf("BROKEN at chain position %d (AuditEvent/%s, recorded %s): %s; %d links before it verified",
			r.Broken.Pos, r.Broken.ID, r.Broken.Recorded.Format(time.RFC3339), r.Reason, r.Checked)
	}
	s := fmt.Sprintf("valid: %d links verified", r.Checked)
	if r.Unsealed > 0 {
		s += fmt.Sprintf("; WARNING: %d records are older than the grace period and not yet chained", r.Unsealed)
	}
	return s
}
