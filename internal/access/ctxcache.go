package access

import (
	"context"
	"sync"
)

// contextCacheKey is the context key of a request's patient context cache.
type contextCacheKey struct{}

// contextCache holds the patient contexts one request has gathered.
type contextCache struct {
	mu     sync.Mutex
	m      map[string]*PatientContext
	recent map[string][]string // patient id -> its three most recent GP Encounters
}

// WithPatientContextCache returns ctx carrying a cache of the patient
// contexts the Enforcer gathers, so that the gate, the search visibility
// and the checks of one request that all ask about one patient read the
// store once. Use it for a request that only reads: a request that writes
// (a batch or transaction bundle) could change a context it has cached.
func WithPatientContextCache(ctx context.Context) context.Context {
	return context.WithValue(ctx, contextCacheKey{}, &contextCache{m: map[string]*PatientContext{}, recent: map[string][]string{}})
}

func cachedContext(ctx context.Context, patientID string) (*PatientContext, bool) {
	c, ok := ctx.Value(contextCacheKey{}).(*contextCache)
	if !ok {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	pc, ok := c.m[patientID]
	return pc, ok
}

func cacheContext(ctx context.Context, pc *PatientContext) {
	if c, ok := ctx.Value(contextCacheKey{}).(*contextCache); ok {
		c.mu.Lock()
		c.m[pc.PatientID] = pc
		c.mu.Unlock()
	}
}

func cachedRecent(ctx context.Context, patientID string) ([]string, bool) {
	c, ok := ctx.Value(contextCacheKey{}).(*contextCache)
	if !ok {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	ids, ok := c.recent[patientID]
	return ids, ok
}

func cacheRecent(ctx context.Context, patientID string, ids []string) {
	if c, ok := ctx.Value(contextCacheKey{}).(*contextCache); ok {
		c.mu.Lock()
		c.recent[patientID] = ids
		c.mu.Unlock()
	}
}
