package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"maasgo/agent/journal"
	"maasgo/client"
	"maasgo/wire"
)

// The upload step: the uploader delivers a run's journaled signals to the region in order,
// each until the region has it; the heartbeat tells a commissioning region that the machine is
// alive; Send finishes the uploads of earlier runs.

// IdempotencyKey is the key sent with journal record seq of run runID. It is the same on
// every attempt, in every process, so the region can store the signal once.
func IdempotencyKey(runID string, seq int64) string {
	return runID + "-" + strconv.FormatInt(seq, 10)
}

// uploader delivers a journal's signal records to the region, one at a time and in order,
// retrying each with backoff until the region answers 200.
type uploader struct {
	j       *journal.Journal
	region  Region
	runID   string
	backoff Backoff
	giveUp  time.Duration
	log     *slog.Logger

	mu     sync.Mutex
	gaveUp error
	done   chan struct{} // closed when loop returns
}

func newUploader(j *journal.Journal, region Region, runID string, b Backoff, giveUp time.Duration, log *slog.Logger) *uploader {
	return &uploader{j: j, region: region, runID: runID, backoff: b, giveUp: giveUp, log: log, done: make(chan struct{})}
}

// loop delivers records as they are journaled until ctx ends or it gives up.
func (u *uploader) loop(ctx context.Context) {
	defer close(u.done)
	for {
		changed := u.j.Changed()
		pending := u.j.Unsent(kindSignal)
		if len(pending) == 0 {
			select {
			case <-changed:
				continue
			case <-ctx.Done():
				return
			}
		}
		for _, rec := range pending {
			if err := u.deliver(ctx, rec); err != nil {
				if ctx.Err() == nil {
					u.mu.Lock()
					u.gaveUp = err
					u.mu.Unlock()
				}
				return
			}
		}
	}
}

// deliver sends one record until the region accepts it.
func (u *uploader) deliver(ctx context.Context, rec journal.Record) error {
	sig, err := decodeSignal(u.j, rec)
	if err != nil {
		// A record this runner wrote but cannot read cannot be sent; say so and go on.
		u.log.Error("journal: unreadable signal record, skipped", "seq", rec.Seq, "error", err)
		return u.j.MarkSent(rec.Seq)
	}
	key := IdempotencyKey(u.runID, rec.Seq)
	first := time.Now()
	for attempt := 1; ; attempt++ {
		err := u.region.Signal(ctx, sig, key)
		if err == nil {
			return u.j.MarkSent(rec.Seq)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if client.IsCertificateError(err) {
			// No retry mends a certificate the runner does not trust: give up now, the
			// journal keeps the signal for send.
			return fmt.Errorf("%w: sending %s: %w: %w", ErrNotSent, describeSignal(sig), ErrUntrustedRegion, err)
		}
		if u.giveUp > 0 && time.Since(first) >= u.giveUp {
			return fmt.Errorf("%w: gave up sending %s after %s: %w", ErrNotSent, describeSignal(sig), u.giveUp, err)
		}
		d := u.backoff.Delay(attempt)
		u.log.Warn("signal not delivered; retrying", "signal", describeSignal(sig), "key", key,
			"attempt", attempt, "error", err, "in", d.Round(time.Millisecond))
		if err := sleepCtx(ctx, d); err != nil {
			return err
		}
	}
}

func describeSignal(s Signal) string {
	if s.Error != "" {
		return s.Status + " " + strconv.Quote(s.Error)
	}
	return s.Status
}

// decodeSignal rebuilds a signal from its record, with the journal's copies of its files.
func decodeSignal(j *journal.Journal, rec journal.Record) (Signal, error) {
	var sr signalRecord
	if err := json.Unmarshal(rec.Data, &sr); err != nil {
		return Signal{}, err
	}
	if !wire.ValidSignalStatus(sr.Signal.Status) {
		return Signal{}, fmt.Errorf("unknown status %q", sr.Signal.Status)
	}
	sig := sr.Signal
	sig.Files = nil
	for _, f := range rec.Files {
		sig.Files = append(sig.Files, File{Name: f.Name, Path: j.Path(f)})
	}
	return sig, nil
}

// waitIdle waits until every signal record is delivered, or the uploader gave up.
func (u *uploader) waitIdle(ctx context.Context) error {
	return u.wait(ctx, func() bool { return len(u.j.Unsent(kindSignal)) == 0 })
}

// waitSent waits up to timeout until record seq is delivered.
func (u *uploader) waitSent(ctx context.Context, seq int64, timeout time.Duration) error {
	tctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	err := u.wait(tctx, func() bool { return u.j.Sent(seq) })
	if err != nil && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("the region did not answer within %s", timeout)
	}
	return err
}

func (u *uploader) wait(ctx context.Context, done func() bool) error {
	for {
		changed := u.j.Changed()
		if done() {
			return nil
		}
		u.mu.Lock()
		gaveUp := u.gaveUp
		u.mu.Unlock()
		if gaveUp != nil {
			return gaveUp
		}
		select {
		case <-changed:
		case <-u.done:
			u.mu.Lock()
			gaveUp := u.gaveUp
			u.mu.Unlock()
			if done() {
				return nil
			}
			if gaveUp != nil {
				return gaveUp
			}
			return errors.New("uploads stopped")
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// startUploads starts the upload step of a run that sends: the uploader delivers each
// signal as soon as it is journaled, in order, and a commissioning run sends its heartbeat.
// With NoSend it starts nothing. stop ends both and waits for them.
func (r *run) startUploads(ctx context.Context) (stop func()) {
	if r.a.NoSend {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	var bg sync.WaitGroup
	r.up = newUploader(r.j, r.a.Region, r.info.ID, r.a.Backoff, r.a.GiveUpAfter, r.a.Log)
	bg.Go(func() { r.up.loop(ctx) })
	if !r.info.Workload {
		bg.Go(func() { r.heartbeat(ctx) })
	}
	return func() {
		cancel()
		bg.Wait()
	}
}

// awaitDelivery waits until the region has every signal journaled so far, or the uploader
// gave up. A run that does not send has nothing to wait for.
func (r *run) awaitDelivery(ctx context.Context) error {
	if r.up == nil {
		return nil
	}
	return r.up.waitIdle(ctx)
}

// heartbeat sends WORKING at once and then every interval (protocol.md §6.2). Heartbeats are
// not journaled: a missed one is simply followed by the next.
func (r *run) heartbeat(ctx context.Context) {
	t := time.NewTicker(r.a.Heartbeat)
	defer t.Stop()
	send := func(msg string) {
		// Retry within the interval: the first answer may teach the signer the clock skew.
		sctx, cancel := context.WithTimeout(ctx, min(r.a.Heartbeat, time.Minute))
		defer cancel()
		for attempt := 1; ; attempt++ {
			err := r.a.Region.Signal(sctx, Signal{Status: wire.SignalWorking, Error: msg}, "")
			if err == nil || ctx.Err() != nil {
				return
			}
			if sleepCtx(sctx, r.a.Backoff.Delay(attempt)) != nil {
				r.a.Log.Warn("heartbeat not delivered", "error", err)
				return
			}
		}
	}
	send("")
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			send(fmt.Sprintf("Elapsed time (real): %.1fs", time.Since(r.start).Seconds()))
		}
	}
}

// SendReport is what Send did for one run.
type SendReport struct {
	RunID  string
	Sent   int
	Unsent int
	Err    error
}

// Send uploads the unsent signals of every run in the storage directory, oldest run first,
// through the region regionFor returns for the run's saved settings. It stops at the first
// run it cannot finish (later runs' signals must not overtake it).
func (a *Agent) Send(ctx context.Context, regionFor func(RunInfo) (Region, error)) ([]SendReport, error) {
	if a.StorageDir == "" {
		return nil, errors.New("agent: StorageDir must be set")
	}
	a.NoSend = true // validate must not ask for a Region
	if err := a.validate(); err != nil {
		return nil, err
	}
	unlock, err := lockStorage(a.StorageDir)
	if err != nil {
		return nil, err
	}
	defer unlock()
	ids, err := Runs(a.StorageDir)
	if err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("%w in %s", ErrNoRun, a.StorageDir)
	}
	var reports []SendReport
	for _, id := range ids {
		rep, err := a.sendRun(ctx, id, regionFor)
		reports = append(reports, rep)
		if err != nil {
			return reports, err
		}
	}
	return reports, nil
}

// SendRun uploads the unsent signals of one run through region, whatever region the run
// saved: an enlisting machine's held results go with the credentials it got since.
func (a *Agent) SendRun(ctx context.Context, id string, region Region) (SendReport, error) {
	if a.StorageDir == "" {
		return SendReport{RunID: id}, errors.New("agent: StorageDir must be set")
	}
	a.NoSend = true // validate must not ask for a Region
	if err := a.validate(); err != nil {
		return SendReport{RunID: id}, err
	}
	unlock, err := lockStorage(a.StorageDir)
	if err != nil {
		return SendReport{RunID: id}, err
	}
	defer unlock()
	return a.sendRun(ctx, id, func(RunInfo) (Region, error) { return region, nil })
}

func (a *Agent) sendRun(ctx context.Context, id string, regionFor func(RunInfo) (Region, error)) (SendReport, error) {
	rep := SendReport{RunID: id}
	info, err := LoadRun(a.StorageDir, id)
	if err != nil {
		rep.Err = err
		return rep, err
	}
	j, err := journal.Open(journalDir(a.StorageDir, id))
	if err != nil {
		rep.Err = err
		return rep, err
	}
	defer j.Close()
	pending := len(j.Unsent(kindSignal))
	if pending == 0 {
		return rep, nil
	}
	region, err := regionFor(info)
	if err != nil {
		rep.Err, rep.Unsent = err, pending
		return rep, fmt.Errorf("run %s: %w", id, err)
	}
	fmt.Fprintf(a.Out, "Sending %d signals of run %s\n", pending, id)
	u := newUploader(j, region, id, a.Backoff, a.GiveUpAfter, a.Log)
	lctx, cancel := context.WithCancel(ctx)
	go u.loop(lctx)
	err = u.waitIdle(ctx)
	cancel()
	<-u.done
	rep.Unsent = len(j.Unsent(kindSignal))
	rep.Sent = pending - rep.Unsent
	if err != nil {
		rep.Err = err
		return rep, fmt.Errorf("run %s: %w", id, err)
	}
	return rep, nil
}

// countUnsent counts the unsent signals of a run without opening its journal for writing.
func countUnsent(storage, id string) (int, error) {
	j, err := journal.Open(journalDir(storage, id))
	if err != nil {
		return 0, err
	}
	defer j.Close()
	return len(j.Unsent(kindSignal)), nil
}

func journalDir(storage, id string) string { return filepath.Join(RunDir(storage, id), "journal") }
