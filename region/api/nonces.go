package api

import (
	"context"
	"crypto/sha256"
	"log/slog"
	"sync"
	"time"

	"maasgo/region/store"
)

// nonceCache remembers the OAuth nonces this process accepted while their timestamps are
// inside the window, so a replay is refused without asking the database, and so a read needs
// no write in its own path: a read's nonce is checked against the database (other region
// processes record theirs there) and recorded in the background, a write's is recorded
// durably before the write acts. Reads therefore keep working on a full disk.
//
// Between two region processes a replayed read can slip through for as long as the
// background writer takes to record its nonce (about flushEvery); a replayed read gives
// nothing its first answer did not. Writes have no such gap.
type nonceCache struct {
	st  *store.Store
	log func() *slog.Logger
	now func() time.Time

	mu       sync.Mutex
	seen     map[[16]byte]int64 // nonce key → when it leaves the window (Unix seconds)
	pending  []store.Nonce      // read nonces not yet in the database
	flushing bool
	failing  bool // the last batch could not be written
	pruned   time.Time
}

const (
	// maxNonces bounds the memory of the cache (about 50 bytes a nonce). Past it, nonces go
	// to the database in the request's path, as writes' do.
	maxNonces = 1 << 20
	// flushEvery is how often read nonces are written to the database.
	flushEvery = 200 * time.Millisecond
)

func newNonceCache(st *store.Store, log func() *slog.Logger, now func() time.Time) *nonceCache {
	return &nonceCache{st: st, log: log, now: now, seen: map[[16]byte]int64{}}
}

func nonceKey(token, nonce string) [16]byte {
	h := sha256.Sum256([]byte(token + "\x00" + nonce))
	var k [16]byte
	copy(k[:], h[:])
	return k
}

// use records a nonce of a token at a request's timestamp and reports whether it is fresh.
// durable records it in the database before use returns.
func (c *nonceCache) use(ctx context.Context, token, nonce string, ts time.Time, durable bool) (bool, error) {
	k := nonceKey(token, nonce)
	c.mu.Lock()
	now := c.now()
	if exp, ok := c.seen[k]; ok && exp >= now.Unix() {
		c.mu.Unlock()
		return false, nil
	}
	if len(c.seen) >= maxNonces {
		c.prune(now)
	}
	full := len(c.seen) >= maxNonces
	if !full {
		c.seen[k] = ts.Add(2 * timestampWindow).Unix()
	}
	c.mu.Unlock()
	if durable || full {
		fresh := false
		err := c.st.Update(ctx, func(tx *store.Tx) (err error) {
			fresh, err = tx.UseNonce(token, nonce, ts)
			return err
		})
		return fresh, err
	}
	seen := false
	if err := c.st.View(ctx, func(tx *store.Tx) (err error) {
		seen, err = tx.NonceSeen(token, nonce)
		return err
	}); err != nil {
		return false, err
	}
	if seen {
		return false, nil
	}
	c.mu.Lock()
	c.pending = append(c.pending, store.Nonce{TokenKey: token, Nonce: nonce, TS: ts})
	start := !c.flushing
	c.flushing = true
	c.mu.Unlock()
	if start {
		go c.flush()
	}
	return true, nil
}

// prune forgets nonces whose timestamps left the window; the caller holds mu.
func (c *nonceCache) prune(now time.Time) {
	if now.Sub(c.pruned) < time.Second {
		return
	}
	c.pruned = now
	for k, exp := range c.seen {
		if exp < now.Unix() {
			delete(c.seen, k)
		}
	}
}

// flush writes pending read nonces to the database in batches until none is left. A batch
// that cannot be written (a full disk) is tried again later; nonces whose timestamps left the
// window are dropped, as the timestamp check refuses their replays anyway.
func (c *nonceCache) flush() {
	for {
		time.Sleep(flushEvery)
		c.mu.Lock()
		now := c.now()
		c.prune(now)
		batch := c.pending
		c.pending = nil
		c.mu.Unlock()
		kept := batch[:0]
		for _, n := range batch {
			if now.Sub(n.TS) < 2*timestampWindow {
				kept = append(kept, n)
			}
		}
		batch = kept
		if len(batch) > 0 {
			err := c.st.Update(context.Background(), func(tx *store.Tx) error { return tx.RecordNonces(batch) })
			c.mu.Lock()
			if err != nil {
				if !c.failing {
					c.log().Warn("cannot record the nonces of reads; retrying until it works", "count", len(batch), "err", err)
				}
				c.pending = append(batch, c.pending...)
			} else if c.failing {
				c.log().Info("nonces of reads recorded again")
			}
			c.failing = err != nil
			c.mu.Unlock()
		}
		c.mu.Lock()
		if len(c.pending) == 0 {
			c.flushing = false
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
	}
}
