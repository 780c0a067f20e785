package agent

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"maasgo/wire"
)

// phaseCtx names the phase of a round that a step belongs to.
type phaseCtx struct {
	round    int
	phase    *Phase
	allowBMC bool
	// plan is the phase's batches; batch is the one running, since batchStart (set before
	// the batch starts, read while it runs: see remaining).
	plan       []Batch
	batch      int
	batchStart time.Time
}

// key names a step of a script; keys make a resumed run skip what is done.
func (pc *phaseCtx) key(s *Script, step string) string {
	return fmt.Sprintf("r%d/%s/%s/%s", pc.round, pc.phase.Name(), s.ID, step)
}

// flow is upstream's main loop (protocol.md §6.2): download, run the commissioning scripts,
// download again while commissioning passes, then the testing and release scripts, then OK
// or FAILED. A workload run goes its own, shorter way (workloadFlow).
//
// This file is the run's sequence from top to bottom: rounds (flow), phases (runRound),
// batches (runPhase), scripts (runBatch), and one script's path (runScript). Each step lives
// in the file that owns it:
//
//	plan     plan.go     the round's index (downloaded, or the snapshot taken) and its batches
//	netconf  netconf.go  a batch's configured networking, applied and restored
//	install  install.go  the packages of a batch or a script
//	params   params.go   a script's argv and timeout; its devices found (devices.go)
//	execute  execute.go  a script's process: environment, timeout, process group
//	capture  capture.go  its output and result file made into an outcome and a signal
//	journal  journal.go  every signal recorded before it is sent
//	upload   upload.go   the journal's signals delivered in order, with retries
//
// run.go holds the run's state and what Run and Resume do around the flow.
func (r *run) flow(ctx context.Context) error {
	if r.info.Workload {
		return r.workloadFlow(ctx)
	}
	for round := 0; ; round++ {
		idx, ok, err := r.index(ctx, round)
		if err != nil {
			return err
		}
		if !ok {
			return r.finalSignal(wire.SignalOK, "All scripts successfully ran")
		}
		again, err := r.runRound(ctx, round, idx)
		if err != nil || !again {
			return err
		}
		// The region must have the commissioning results before it is asked again, or it
		// lists them again.
		if err := r.awaitDelivery(ctx); err != nil {
			return err
		}
	}
}

// workloadFlow is the flow of a Workload run (Agent.Workload, maas-run-scripts report-results),
// which reports the hardware of a deployed machine: it downloads the scripts once and runs only
// the commissioning entries that are default and tagged deploy-info, through the same journal,
// retries and output files as a commissioning run. Unlike commissioning it applies no
// configured networking, installs no packages, takes no BMC configuration, sends no heartbeat
// and sends no final OK or FAILED: the machine stays DEPLOYED (the region answers FAILED from a
// deployed machine with 409, and OK would make it Ready). Every result carries its script's
// real exit status. A 401 on the download that persists once the signer knows the region's
// clock ends the run with ErrUnauthorized instead of retrying.
func (r *run) workloadFlow(ctx context.Context) error {
	idx, ok, err := r.index(ctx, 0)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w: the region has no scripts for this machine (is it deployed?)", ErrNothingToReport)
	}
	p := DeployInfoPhase(idx)
	if p == nil {
		return fmt.Errorf("%w: the region lists no default commissioning scripts tagged %s for this machine", ErrNothingToReport, DeployInfoTag)
	}
	fmt.Fprintln(r.a.Out, "Starting deploy-info scripts...")
	_, err = r.runPhase(ctx, &phaseCtx{round: 0, phase: p})
	return err
}

// runRound runs the scripts of one index. It reports whether the scripts must be downloaded
// again (the commissioning scripts passed and downloads are allowed).
func (r *run) runRound(ctx context.Context, round int, idx *Index) (bool, error) {
	if p := idx.Phase(wire.ScriptTypeCommissioning); p != nil && r.ranBefore(round, p) {
		// A region that lists finished commissioning results again would make upstream's
		// runner loop forever (protocol.md §4.2); run them once only.
		r.logf("the region listed commissioning results that already ran; going on with the other scripts")
	} else if p != nil {
		fmt.Fprintln(r.a.Out, "Starting commissioning scripts...")
		pc := &phaseCtx{round: round, phase: p, allowBMC: true}
		fails, err := r.runPhase(ctx, pc)
		if err != nil {
			return false, err
		}
		if fails > 0 {
			return false, r.finalSignal(wire.SignalFailed, r.failedMsg(pc, "%d commissioning scripts failed to run", fails))
		}
		if !r.noDownload() && len(p.Scripts) > 0 {
			return true, nil
		}
	}
	for _, ph := range []struct {
		t      wire.ScriptType
		status string
		start  string
		failed string
	}{
		{wire.ScriptTypeTesting, wire.SignalTesting, "Starting testing scripts...", "%d test scripts failed to run"},
		{wire.ScriptTypeRelease, wire.SignalReleasing, "Starting release scripts...", "%d release scripts failed to run"},
	} {
		p := idx.Phase(ph.t)
		if p == nil {
			continue
		}
		r.emit(fmt.Sprintf("r%d/%s/begin", round, p.Name()), kindSignal, Signal{Status: ph.status}, nil)
		fmt.Fprintln(r.a.Out, ph.start)
		pc := &phaseCtx{round: round, phase: p}
		fails, err := r.runPhase(ctx, pc)
		if err != nil {
			return false, err
		}
		if fails > 0 {
			return false, r.finalSignal(wire.SignalFailed, r.failedMsg(pc, ph.failed, fails))
		}
	}
	return false, r.finalSignal(wire.SignalOK, "All scripts successfully ran")
}

// ranBefore reports whether every commissioning result of round's phase p already finished
// in an earlier round.
func (r *run) ranBefore(round int, p *Phase) bool {
	if round == 0 || len(p.Scripts) == 0 {
		return false
	}
	for _, s := range p.Scripts {
		found := false
		for prev := 0; prev < round && !found; prev++ {
			_, found = r.j.Lookup((&phaseCtx{round: prev, phase: p}).key(s, "finish"))
		}
		if !found {
			return false
		}
	}
	return true
}

// failedMsg is the final FAILED message of a phase with fails failures: upstream's count
// (format), then the scripts whose output could not be kept, which the region would
// otherwise not learn.
func (r *run) failedMsg(pc *phaseCtx, format string, fails int) string {
	msg := fmt.Sprintf(format, fails)
	var lost []string
	for _, s := range pc.phase.Scripts {
		if oc, ok := r.recorded(pc, s); ok && oc.OutputLost {
			lost = append(lost, s.Name)
		}
	}
	if len(lost) > 0 {
		msg += "; the output of " + strings.Join(lost, ", ") + " could not be kept"
	}
	return msg
}

// runPhase runs one phase's batches in the plan's order and returns how many scripts failed.
func (r *run) runPhase(ctx context.Context, pc *phaseCtx) (int, error) {
	r.forgetDevices()
	pc.plan = Plan(pc.phase.Scripts)
	for i, b := range pc.plan {
		if err := r.stopped(ctx); err != nil {
			return 0, err
		}
		pc.batch, pc.batchStart = i, time.Now()
		r.runBatch(ctx, pc, b)
	}
	if err := r.stopped(ctx); err != nil {
		return 0, err
	}
	fails := 0
	for _, s := range pc.phase.Scripts {
		oc, ok := r.recorded(pc, s)
		if !ok {
			return 0, fmt.Errorf("%s: no result recorded", s.Name)
		}
		if oc.Failed() {
			fails++
		}
	}
	return fails, nil
}

// runBatch runs a batch: its network configuration, its packages, then its scripts, all
// together. Scripts whose result is already recorded are left out. An instance group
// installs its packages once for all its scripts; other scripts each install their own
// before they start; a workload run installs nothing (the scripts use what the machine has).
func (r *run) runBatch(ctx context.Context, pc *phaseCtx, b Batch) {
	var todo []*Script
	for _, s := range b.Scripts {
		if oc, ok := r.recorded(pc, s); ok {
			oc.Resumed = true
			r.addOutcome(oc)
			continue
		}
		todo = append(todo, s)
	}
	if len(todo) == 0 {
		return
	}
	if b.Netconf && !r.info.Workload {
		if !r.applyNetconf(ctx, pc, todo) {
			return
		}
		defer r.restoreNetconf(ctx)
	}
	var wg sync.WaitGroup
	switch {
	case r.info.Workload:
		for _, s := range todo {
			wg.Go(func() { r.runScript(ctx, pc, s) })
		}
	case b.SharedInstall:
		if !r.install(ctx, pc, todo) {
			return
		}
		for _, s := range todo {
			wg.Go(func() { r.runScript(ctx, pc, s) })
		}
	default:
		for _, s := range todo {
			if ctx.Err() != nil {
				break
			}
			if r.install(ctx, pc, []*Script{s}) {
				wg.Go(func() { r.runScript(ctx, pc, s) })
			}
		}
	}
	wg.Wait()
}

// runScript is one script's path once its batch's network configuration and packages are in
// place (protocol.md §6.4): "Starting" journaled, its parameters resolved, its process run,
// its outcome captured from what it left, its result journaled (the uploader then delivers
// it). A step that fails records the script's failed result itself and ends the path. A
// script interrupted by the runner's own end records nothing, so that resume runs it again.
func (r *run) runScript(ctx context.Context, pc *phaseCtx, s *Script) {
	if ctx.Err() != nil {
		return
	}
	hasStarted := r.journalStart(pc, s)
	o, ok := r.prepareOutput(pc, s)
	if !ok {
		return
	}
	inv, ok := r.params(pc, s, o)
	if !ok {
		return
	}
	if reason := r.untestable(s, inv); reason != "" {
		r.recordSkipped(pc, s, o, inv, reason)
		return
	}
	res, closeErr, ok := r.execute(ctx, pc, s, o, inv, hasStarted)
	if !ok {
		return
	}
	r.journalResult(pc, s, r.capture(pc, s, o, inv, res, closeErr))
}
