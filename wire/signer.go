package wire

import (
	"net/http"
	"sync"
	"time"
)

// Signer signs requests with PLAINTEXT OAuth as upstream's clients do, and learns the clock
// skew from the Date header of 401/403 answers so the next attempt's timestamp is right
// (protocol.md §2.3). It is safe for concurrent use.
type Signer struct {
	Creds Credentials
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	mu   sync.Mutex
	skew time.Duration
}

func (s *Signer) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Sign sets the Authorization header (none for anonymous credentials).
func (s *Signer) Sign(req *http.Request) {
	s.mu.Lock()
	skew := s.skew
	s.mu.Unlock()
	if h := s.Creds.AuthorizationHeader(s.now().Add(skew)); h != "" {
		req.Header.Set("Authorization", h)
	}
}

// Observe reads an answer: a 401 or 403 with a Date header sets the skew to the region's
// clock minus ours. It reports whether the skew changed.
func (s *Signer) Observe(resp *http.Response) bool {
	if resp == nil || (resp.StatusCode != http.StatusUnauthorized && resp.StatusCode != http.StatusForbidden) {
		return false
	}
	d, err := http.ParseTime(resp.Header.Get("Date"))
	if err != nil {
		return false
	}
	skew := d.Sub(s.now()).Round(time.Second)
	s.mu.Lock()
	defer s.mu.Unlock()
	changed := skew != s.skew
	s.skew = skew
	return changed
}

// Skew is the correction currently applied.
func (s *Signer) Skew() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.skew
}
