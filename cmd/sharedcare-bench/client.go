package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// fhirContentType is what the bench sends and accepts.
const fhirContentType = "application/fhir+json"

// fhirClient speaks to the server under test.
type fhirClient struct {
	base  string // FHIR base URL, no trailing slash
	token string // bearer token; empty sends no Authorization header
	http  *http.Client
}

// newFHIRClient returns a client whose one transport keeps at least
// maxConcurrency idle connections open, so that every worker reuses a
// kept-alive connection and the bench measures requests, not TCP and TLS
// handshakes.
func newFHIRClient(base, token string, maxConcurrency int, timeout time.Duration) *fhirClient {
	tr := &http.Transport{
		// No proxy: a benchmark measures the server, not whatever the
		// environment routes through.
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConnsPerHost: maxConcurrency,
		IdleConnTimeout:     90 * time.Second,
	}
	return &fhirClient{
		base:  strings.TrimRight(base, "/"),
		token: token,
		http:  &http.Client{Transport: tr, Timeout: timeout},
	}
}

// close drops the idle connections, so that the server does not see them
// linger after the bench has gone.
func (c *fhirClient) close() { c.http.CloseIdleConnections() }

// statusError is a response outside 2xx.
type statusError struct {
	method, path string
	status       int
	body         string // start of the body, usually an OperationOutcome
}

func (e *statusError) Error() string {
	return fmt.Sprintf("%s %s: %d %s: %s", e.method, e.path, e.status, http.StatusText(e.status), e.body)
}

// do sends one request as the client's own caller and reads the whole
// response, so that the connection goes back to the pool. A status outside
// 2xx is a *statusError.
func (c *fhirClient) do(ctx context.Context, method, path string, body []byte) (http.Header, error) {
	h, _, err := c.roundTrip(ctx, c.token, method, path, body, nil, false)
	return h, err
}

// send is do as the caller token (empty: none), with extra request headers,
// returning the response body: for scenarios that act as several callers
// or read what the server answered.
func (c *fhirClient) send(ctx context.Context, token, method, path string, body []byte, hdr http.Header) ([]byte, error) {
	_, b, err := c.roundTrip(ctx, token, method, path, body, hdr, true)
	return b, err
}

func (c *fhirClient) roundTrip(ctx context.Context, token, method, path string, body []byte, hdr http.Header, keep bool) (http.Header, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, nil, err
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	req.Header.Set("Accept", fhirContentType)
	if body != nil {
		req.Header.Set("Content-Type", fhirContentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		head, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil, nil, &statusError{method, path, resp.StatusCode, strings.Join(strings.Fields(string(head)), " ")}
	}
	if keep {
		b, err := io.ReadAll(resp.Body)
		return resp.Header, b, err
	}
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return nil, nil, err
	}
	return resp.Header, nil, nil
}

// createPatient POSTs a Patient and returns the id the server gave it.
func (c *fhirClient) createPatient(ctx context.Context, body []byte) (string, error) {
	h, err := c.do(ctx, http.MethodPost, "/Patient", body)
	if err != nil {
		return "", err
	}
	return patientIDFromLocation(h.Get("Location"))
}

// readPatient GETs one Patient.
func (c *fhirClient) readPatient(ctx context.Context, id string) error {
	_, err := c.do(ctx, http.MethodGet, "/Patient/"+id, nil)
	return err
}

// patientIDFromLocation returns the id in a create's Location,
// "<base>/Patient/<id>/_history/<version>".
func patientIDFromLocation(loc string) (string, error) {
	i := strings.LastIndex(loc, "/Patient/")
	if i < 0 {
		return "", errors.New("create response has no Patient Location: " + loc)
	}
	id, _, _ := strings.Cut(loc[i+len("/Patient/"):], "/")
	if id == "" {
		return "", errors.New("create response Location has no id: " + loc)
	}
	return id, nil
}
