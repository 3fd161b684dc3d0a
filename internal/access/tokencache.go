package access

import (
	"crypto/sha256"
	"sync"
	"time"
)

// Verifying an ES256 signature costs tens of microseconds, as much as the
// rest of a read. A client sends the same token with every request until it
// expires, so the Verifier remembers tokens it has verified, keyed by their
// hash, for at most tokenCacheTTL (and no longer than the key set's refresh
// interval) and never past their expiry. A key withdrawn from the key set
// therefore stops working within two refresh intervals, as without the cache
// it does within one.
const (
	tokenCacheTTL  = 5 * time.Minute
	tokenCacheSize = 10000
)

type cachedCaller struct {
	caller *Caller
	until  time.Time
}

// tokenCache maps a token's SHA-256 to the Caller it verified as.
type tokenCache struct {
	ttl time.Duration
	mu  sync.RWMutex
	m   map[[32]byte]cachedCaller
}

func (c *tokenCache) get(token string, now time.Time) (*Caller, bool) {
	key := sha256.Sum256([]byte(token))
	c.mu.RLock()
	e, ok := c.m[key]
	c.mu.RUnlock()
	if !ok || !now.Before(e.until) {
		return nil, false
	}
	return e.caller, true
}

func (c *tokenCache) put(token string, caller *Caller, exp, now time.Time) {
	until := now.Add(c.ttl)
	if exp.Before(until) {
		until = exp
	}
	key := sha256.Sum256([]byte(token))
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[[32]byte]cachedCaller)
	}
	if len(c.m) >= tokenCacheSize {
		// Drop the expired entries; if that frees nothing, start afresh
		// rather than track recency on every hit.
		for k, e := range c.m {
			if !now.Before(e.until) {
				delete(c.m, k)
			}
		}
		if len(c.m) >= tokenCacheSize {
			clear(c.m)
		}
	}
	c.m[key] = cachedCaller{caller: caller, until: until}
}
