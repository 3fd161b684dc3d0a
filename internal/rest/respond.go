package rest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/sharedcare/sharedcare/internal/fhir"
)

// fhirJSON is the media type of every response body.
const fhirJSON = "application/fhir+json; charset=utf-8"

// handlerFunc is an HTTP handler that returns its error instead of writing
// it, so that one adapter turns every error into an OperationOutcome.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

var statusOfKind = map[fhir.Kind]int{
	fhir.KindInternal:         http.StatusInternalServerError,
	fhir.KindInvalid:          http.StatusBadRequest,
	fhir.KindUnprocessable:    http.StatusUnprocessableEntity,
	fhir.KindUnauthorized:     http.StatusUnauthorized,
	fhir.KindForbidden:        http.StatusForbidden,
	fhir.KindNotFound:         http.StatusNotFound,
	fhir.KindNotAllowed:       http.StatusMethodNotAllowed,
	fhir.KindConflict:         http.StatusConflict,
	fhir.KindGone:             http.StatusGone,
	fhir.KindPrecondition:     http.StatusPreconditionFailed,
	fhir.KindTooLarge:         http.StatusRequestEntityTooLarge,
	fhir.KindUnsupportedMedia: http.StatusUnsupportedMediaType,
	fhir.KindNotAcceptable:    http.StatusNotAcceptable,
	fhir.KindNotModified:      http.StatusNotModified,
}

// StatusOf returns the HTTP status for err.
func StatusOf(err error) int { return statusOfKind[fhir.KindOf(err)] }

func (s *Server) handle(h handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	}
}

// writeError answers with err as an OperationOutcome. Internal errors are
// logged with their cause and shown to the client only as "internal error".
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var fe *fhir.Error
	if errors.As(err, &fe) && fe.Kind != fhir.KindInternal {
		status := statusOfKind[fe.Kind]
		if ch := s.wwwAuthenticate(err); ch != "" {
			w.Header().Set("WWW-Authenticate", ch)
		}
		if status == http.StatusNotModified {
			w.WriteHeader(status)
			return
		}
		s.writeBody(w, r, status, fhir.OperationOutcome(fe.Issues...))
		return
	}
	if errors.Is(err, context.Canceled) {
		// The client went away; nobody is listening for an answer.
		return
	}
	s.log.ErrorContext(r.Context(), "internal error", slog.String("request_id", requestID(r.Context())), slog.Any("err", err))
	s.writeBody(w, r, http.StatusInternalServerError, fhir.OperationOutcome(fhir.Issue{
		Severity: "error", Code: "exception", Diagnostics: "internal error (request id " + requestID(r.Context()) + ")",
	}))
}

// writeBody writes a JSON body with the FHIR media type, indented when the
// client asked for _pretty.
func (s *Server) writeBody(w http.ResponseWriter, r *http.Request, status int, body []byte) {
	if pretty(r) {
		var b bytes.Buffer
		if json.Indent(&b, body, "", "  ") == nil {
			body = b.Bytes()
		}
	}
	h := w.Header()
	h.Set("Content-Type", fhirJSON)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

func pretty(r *http.Request) bool {
	return r.URL.Query().Get("_pretty") == "true"
}

// writeJSON marshals v and writes it.
func (s *Server) writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) error {
	var b []byte
	var err error
	if bu, ok := v.(bundle); ok {
		b, err = bu.encode()
	} else {
		b, err = json.Marshal(v)
	}
	if err != nil {
		return err
	}
	s.writeBody(w, r, status, b)
	return nil
}

// jsonFormats are the names a client may use for JSON, in _format or Accept.
var jsonFormats = map[string]bool{
	"json": true, "application/json": true, "application/fhir+json": true, "application/json+fhir": true,
	"application/*": true, "*/*": true,
}

var xmlFormats = map[string]bool{
	"xml": true, "text/xml": true, "application/xml": true, "application/fhir+xml": true, "application/xml+fhir": true,
}

// negotiate checks that the client accepts JSON, the one format served.
// _format wins over Accept, as the specification says.
func negotiate(r *http.Request) error {
	if f := r.URL.Query().Get("_format"); f != "" {
		mt, _, err := mime.ParseMediaType(f)
		if err != nil {
			mt = f
		}
		mt = strings.ToLower(mt)
		if jsonFormats[mt] {
			return nil
		}
		if xmlFormats[mt] {
			return fhir.Errorf(fhir.KindNotAcceptable, "not-supported", "XML is not supported yet: this server speaks FHIR JSON only (_format=json)")
		}
		return fhir.Errorf(fhir.KindNotAcceptable, "not-supported", "_format %q is not supported: this server speaks FHIR JSON only", f)
	}
	accept := r.Header.Get("Accept")
	if accept == "" {
		return nil
	}
	sawXML := false
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		if params["q"] == "0" {
			continue
		}
		mt = strings.ToLower(mt)
		if jsonFormats[mt] || strings.HasSuffix(mt, "+json") {
			return nil
		}
		sawXML = sawXML || xmlFormats[mt]
	}
	if sawXML {
		return fhir.Errorf(fhir.KindNotAcceptable, "not-supported", "XML is not supported yet: this server speaks FHIR JSON only (Accept: application/fhir+json)")
	}
	return fhir.Errorf(fhir.KindNotAcceptable, "not-supported", "none of the media types in Accept (%s) can be served: this server speaks FHIR JSON only", accept)
}

// requestMediaType returns the media type of a request body. An absent
// Content-Type is taken as FHIR JSON.
func requestMediaType(r *http.Request) (string, error) {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return "application/fhir+json", nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return "", fhir.Errorf(fhir.KindUnsupportedMedia, "not-supported", "Content-Type %q cannot be parsed", ct)
	}
	return strings.ToLower(mt), nil
}

// requireJSONBody checks that the request body is FHIR JSON.
func requireJSONBody(r *http.Request) error {
	mt, err := requestMediaType(r)
	if err != nil {
		return err
	}
	switch {
	case jsonFormats[mt] && mt != "*/*" && mt != "application/*":
		return nil
	case xmlFormats[mt]:
		return fhir.Errorf(fhir.KindUnsupportedMedia, "not-supported", "XML is not supported yet: send FHIR JSON (Content-Type: application/fhir+json)")
	default:
		return fhir.Errorf(fhir.KindUnsupportedMedia, "not-supported", "Content-Type %q is not supported: send FHIR JSON (Content-Type: application/fhir+json)", mt)
	}
}
