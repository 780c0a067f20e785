package store

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"
)

// maxBatch bounds how many Updates share one transaction.
const maxBatch = 128

// committer runs the write transactions of concurrent Updates together (group commit): it
// takes the Updates waiting for the process's write slot (Store.writing), runs each in its own
// savepoint of one transaction and commits once, so a burst of writers costs one fsync instead
// of one each. An Update is answered only after the commit, so what it acknowledges is as
// durable as before. An Update whose fn fails is rolled back to its savepoint and gets its
// error; the others commit. When the batch itself cannot go on (a savepoint or the commit
// fails, the database is busy, a fn panics), nothing of it commits and every Update of it
// runs again alone, in its caller's goroutine, as without batching. A lone Update is a batch
// of one: while its commit waits for the disk, the next Updates gather behind it.
type committer struct {
	s    *Store
	reqs chan *commitReq
	// queued counts the Updates waiting to be taken into a batch.
	queued atomic.Int64
	quit   chan struct{}
	done   chan struct{}
}

type commitReq struct {
	ctx   context.Context
	fn    func(*Tx) error
	reply chan error
}

// errAlone tells an Update to run its fn in a transaction of its own.
var errAlone = errors.New("store: run alone")

// panicked carries a fn's panic back to its caller's goroutine.
type panicked struct{ v any }

func (p panicked) Error() string { return fmt.Sprintf("panic in a write transaction: %v", p.v) }

func newCommitter(s *Store) *committer {
	c := &committer{s: s, reqs: make(chan *commitReq), quit: make(chan struct{}), done: make(chan struct{})}
	go c.loop()
	return c
}

func (c *committer) stop() {
	close(c.quit)
	<-c.done
}

// submit hands fn to the committer and waits for its outcome: fn's error, or errAlone when
// fn must run in a transaction of its own (it ran alone in its batch, the batch could not
// commit, or the committer has stopped).
func (c *committer) submit(ctx context.Context, fn func(*Tx) error) error {
	r := &commitReq{ctx: ctx, fn: fn, reply: make(chan error, 1)}
	c.queued.Add(1)
	select {
	case c.reqs <- r:
		c.queued.Add(-1)
	case <-c.quit:
		c.queued.Add(-1)
		return errAlone
	case <-ctx.Done():
		c.queued.Add(-1)
		return ctx.Err()
	}
	return <-r.reply
}

func (c *committer) loop() {
	defer close(c.done)
	batch := make([]*commitReq, 0, maxBatch)
	for {
		select {
		case r := <-c.reqs:
			batch = append(batch[:0], r)
		case <-c.quit:
			return
		}
	drain:
		for len(batch) < maxBatch {
			select {
			case r := <-c.reqs:
				batch = append(batch, r)
			default:
				break drain
			}
		}
		c.run(batch)
	}
}

// run commits one batch and answers each of its Updates.
func (c *committer) run(batch []*commitReq) {
	live := batch[:0:0]
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.reply <- err
			continue
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		return
	}
	results, ok := c.together(live)
	for i, r := range live {
		switch {
		case !ok && results[i] == nil:
			r.reply <- errAlone
		case !ok:
			if _, isPanic := results[i].(panicked); isPanic {
				r.reply <- results[i]
			} else {
				r.reply <- errAlone
			}
		default:
			r.reply <- results[i]
		}
	}
}

// together runs the batch in one transaction; ok is false when nothing of it committed.
func (c *committer) together(live []*commitReq) (results []error, ok bool) {
	results = make([]error, len(live))
	c.s.writing <- struct{}{}
	defer func() { <-c.s.writing }()
	defer c.s.observed("commit", time.Now())
	tx, err := c.s.wdb.BeginTx(context.Background(), c.s.eng.writeTxOptions())
	if err != nil {
		return results, false
	}
	defer tx.Rollback()
	t := &Tx{tx: tx, eng: c.s.eng}
	for i, r := range live {
		if _, err := tx.Exec("SAVEPOINT batch"); err != nil {
			return results, false
		}
		err := runGuarded(r.fn, t)
		if err == nil {
			if _, err := tx.Exec("RELEASE batch"); err != nil {
				return results, false
			}
			continue
		}
		results[i] = err
		var p panicked
		if errors.As(err, &p) || c.s.eng.retryable(err) {
			return results, false
		}
		if _, rerr := tx.Exec("ROLLBACK TO batch"); rerr != nil {
			return results, false
		}
		if _, rerr := tx.Exec("RELEASE batch"); rerr != nil {
			return results, false
		}
	}
	if err := tx.Commit(); err != nil {
		return make([]error, len(live)), false
	}
	c.s.commits.Add(1)
	for _, err := range results {
		if err == nil {
			c.s.updates.Add(1)
		}
	}
	return results, true
}

// runGuarded runs fn, turning a panic into an error for its caller to raise again.
func runGuarded(fn func(*Tx) error, t *Tx) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = panicked{v: v}
		}
	}()
	return fn(t)
}
