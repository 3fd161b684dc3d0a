package rest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/sharedcare/sharedcare/internal/access"
	"github.com/sharedcare/sharedcare/internal/audit"
	"github.com/sharedcare/sharedcare/internal/fhir"
	"github.com/sharedcare/sharedcare/internal/fhir/r4"
)

type ctxKey int

const (
	requestIDKey ctxKey = iota
	infoKey
)

// requestInfo is filled in by handlers for the metrics and log line written
// once the request is done.
type requestInfo struct {
	interaction string
	audit       auditInfo
}

func requestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9\-._:]{1,128}$`)

// requestID takes the client's X-Request-Id when it is sane, or makes one,
// and echoes it on the response so that a client can quote it.
func (s *Server) requestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if !requestIDPattern.MatchString(id) {
			b := make([]byte, 12)
			_, _ = rand.Read(b)
			id = hex.EncodeToString(b)
		}
		w.Header().Set("X-Request-Id", id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestIDKey, id)))
	})
}

// statusRecorder remembers the status a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (w *statusRecorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusRecorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// observe counts, times and logs every request.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		info := &requestInfo{interaction: "other"}
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r.WithContext(context.WithValue(r.Context(), infoKey, info)))
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		d := time.Since(start)
		s.metrics.observe(info.interaction, rec.status, d)
		if s.log.Enabled(r.Context(), slog.LevelInfo) {
			s.log.LogAttrs(r.Context(), slog.LevelInfo, "request",
				slog.String("request_id", requestID(r.Context())),
				slog.String("method", r.Method),
				slog.String("path", r.URL.Path),
				slog.String("interaction", info.interaction),
				slog.Int("status", rec.status),
				slog.Duration("duration", d))
		}
	})
}

// recoverer turns a panic into a logged 500 OperationOutcome, so that one bad
// request cannot take the process down.
func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.writeError(w, r, fmt.Errorf("panic: %v", v))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// interaction names the FHIR interaction a route serves, for metrics and
// logs, and puts the route behind authentication and the caller's scopes for
// that interaction.
//
// Every such request, allowed or refused, is audited: the response is held
// until its audit record is durable (or, for a write, committed with the
// write), and a request whose audit fails is answered with a 500 instead.
func (s *Server) interaction(in access.Interaction, h handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		info, ok := r.Context().Value(infoKey).(*requestInfo)
		if !ok {
			info = &requestInfo{}
			r = r.WithContext(context.WithValue(r.Context(), infoKey, info))
		}
		info.interaction = string(in)
		if in.ReadOnly() {
			// A request that only reads may reuse the patient contexts it
			// gathers: nothing it does can change them.
			r = r.WithContext(access.WithPatientContextCache(r.Context()))
		}
		buf := &bufferedWriter{header: w.Header()}
		ar, err := s.authorize(r, in)
		if err == nil {
			r = ar
			err = h(buf, r)
		}
		if err != nil {
			s.writeError(buf, r, err)
		}
		if buf.status == 0 {
			buf.status = http.StatusOK
		}
		if accessChecks && !info.audit.inTx {
			if aerr := s.audit.Write(r.Context(), audit.Record(s.auditEvent(r, info, buf.status, err))); aerr != nil {
				s.log.ErrorContext(r.Context(), "audit write failed: refusing the response",
					slog.String("request_id", requestID(r.Context())), slog.Any("err", aerr))
				for k := range w.Header() {
					delete(w.Header(), k)
				}
				w.Header().Set("X-Request-Id", requestID(r.Context()))
				s.writeBody(w, r, http.StatusInternalServerError, fhir.OperationOutcome(fhir.Issue{
					Severity: "error", Code: "exception", Diagnostics: "the request could not be audited and was not answered (request id " + requestID(r.Context()) + ")",
				}))
				return
			}
		}
		w.WriteHeader(buf.status)
		if r.Method != http.MethodHead {
			_, _ = w.Write(buf.body.Bytes())
		}
	}
}

// public names the interaction of a route that needs no token.
func (s *Server) public(name string, h handlerFunc) http.HandlerFunc {
	return s.handle(func(w http.ResponseWriter, r *http.Request) error {
		if info, ok := r.Context().Value(infoKey).(*requestInfo); ok {
			info.interaction = name
		}
		return h(w, r)
	})
}

// fhirRequest checks what holds for every FHIR request: the client accepts JSON.
func (s *Server) fhirRequest(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := negotiate(r); err != nil {
			s.writeError(w, r, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// resourceType answers 404 for a path naming no R4 resource type.
func (s *Server) resourceType(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t := chi.URLParam(r, "type")
		if !r4.IsResourceType(t) {
			s.writeError(w, r, fhir.Errorf(fhir.KindNotFound, "not-supported", "%q is not a FHIR R4 resource type", t))
			return
		}
		next.ServeHTTP(w, r)
	})
}

func errorsAs(err error, target any) bool { return errors.As(err, target) }

// writableType refuses writes to resource types only the server writes:
// AuditEvents are append-only and made by the server itself (access model, section 2).
func (s *Server) writableType(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if t := chi.URLParam(r, "type"); t == "AuditEvent" {
			s.writeError(w, r, fhir.Errorf(fhir.KindNotAllowed, "not-supported",
				"AuditEvents are written by the server only and cannot be created, changed or deleted through the API"))
			return
		}
		next.ServeHTTP(w, r)
	})
}
