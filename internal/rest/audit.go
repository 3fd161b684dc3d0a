package rest

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/sharedcare/sharedcare/internal/audit"
	"github.com/sharedcare/sharedcare/internal/fhir"
	"github.com/sharedcare/sharedcare/internal/record"
	"github.com/sharedcare/sharedcare/internal/store"
)

// auditInfo is what a handler tells the audit trail about its request.
type auditInfo struct {
	entities  []string
	patientID string
	// inTx is set when the write's own transaction carried its audit record.
	inTx bool
}

// noteEntity records that the request touched r.
func noteEntity(ctx context.Context, r fhir.Resource) {
	if info, ok := ctx.Value(infoKey).(*requestInfo); ok {
		info.audit.entities = append(info.audit.entities, r.Type+"/"+r.ID+"/_history/"+strconv.FormatInt(r.VersionID, 10))
		if info.audit.patientID == "" {
			info.audit.patientID = r.PatientID
		}
	}
}

// bufferedWriter holds a response until its audit record is durable: no
// data leaves unaudited.
type bufferedWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferedWriter) Header() http.Header { return b.header }

func (b *bufferedWriter) WriteHeader(code int) {
	if b.status == 0 {
		b.status = code
	}
}

func (b *bufferedWriter) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}

// auditEvent builds the audit event of a finished request.
func (s *Server) auditEvent(r *http.Request, info *requestInfo, status int, failure error) audit.Event {
	e := audit.Event{
		Time:        time.Now(),
		Interaction: info.interaction,
		Caller:      callerOf(r.Context()),
		Status:      status,
		Entities:    info.audit.entities,
		PatientID:   info.audit.patientID,
		Query:       r.URL.RawQuery,
		RequestID:   requestID(r.Context()),
	}
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		e.Address = host
	}
	var fe *fhir.Error
	if errors.As(failure, &fe) && len(fe.Issues) > 0 {
		e.Diagnostics = fe.Issues[0].Diagnostics
	}
	return e
}

// auditWrite returns the hook that puts a write's audit record in the
// write's own transaction.
func (s *Server) auditWrite(r *http.Request) func(record.Result) store.AuditRecord {
	if !accessChecks {
		return nil
	}
	info, _ := r.Context().Value(infoKey).(*requestInfo)
	return func(res record.Result) store.AuditRecord {
		status := http.StatusOK
		switch {
		case res.Created:
			status = http.StatusCreated
		case res.Deleted || res.Unchanged:
			status = http.StatusNoContent
		}
		ev := s.auditEvent(r, info, status, nil)
		ev.Entities = append(ev.Entities, res.Type+"/"+res.ID+"/_history/"+strconv.FormatInt(res.VersionID, 10))
		ev.PatientID = res.PatientID
		return audit.Record(ev)
	}
}

// markAuditedInTx notes that the request's audit record was committed with its write.
func markAuditedInTx(r *http.Request) {
	if info, ok := r.Context().Value(infoKey).(*requestInfo); ok {
		info.audit.inTx = true
	}
}
