package agent

import (
	"encoding/json"
	"fmt"

	"maasgo/agent/journal"
	"maasgo/wire"
)

// The journal step: every signal of a run is recorded in its journal (package journal) before
// anything is sent, under a key that names its step, so that a resumed run skips what is done
// and the uploader (upload.go) delivers each record once, in order.

// Journal record kinds.
const (
	kindSignal = "signal" // a signal to deliver
	kindMark   = "mark"   // a step the runner took that sends nothing
)

// signalRecord is the payload of a signal record. Outcome is set on the record that finishes
// a script, so that a resumed run knows the script's result without running it again.
type signalRecord struct {
	Signal  Signal   `json:"signal"`
	Outcome *Outcome `json:"outcome,omitempty"`
}

// emit journals a signal (or mark) under key. A key already journaled (a resumed run) is
// not journaled again; new reports whether this call added the record. A journal that cannot
// be written stops the run: a result that is not recorded could be lost.
func (r *run) emit(key, kind string, sig Signal, oc *Outcome) (rec journal.Record, isNew bool) {
	if key != "" {
		if rec, ok := r.j.Lookup(key); ok {
			return rec, false
		}
	}
	var data any
	var files []journal.FileSource
	if kind == kindSignal {
		data = signalRecord{Signal: sig, Outcome: oc}
		for _, f := range sig.Files {
			files = append(files, journal.FileSource{Name: f.Name, Src: f.Path})
		}
	}
	rec, err := r.j.Append(kind, key, data, files)
	if err != nil {
		if kind == kindSignal {
			r.mu.Lock()
			r.unrecorded++
			r.mu.Unlock()
		}
		r.setFatal(fmt.Errorf("record %s: %w", key, err))
		return rec, false
	}
	return rec, true
}

// emitStep journals a signal about a script.
func (r *run) emitStep(pc *phaseCtx, s *Script, step string, sig Signal) bool {
	_, isNew := r.emit(pc.key(s, step), kindSignal, sig, nil)
	return isNew
}

// journalStart journals that script s starts ("Starting <name>") and reports whether it
// started before: an interrupted invocation journaled its start, or the region says so. The
// script learns it as HAS_STARTED.
func (r *run) journalStart(pc *phaseCtx, s *Script) (hasStarted bool) {
	first := r.emitStep(pc, s, "start", s.ScriptSignal(wire.SignalWorking, "Starting "+s.MsgName()))
	return !first || (s.HasStarted != nil && *s.HasStarted)
}

// journalResult journals a script's captured result: the BMC configuration it wrote, when
// there is one, then its result.
func (r *run) journalResult(pc *phaseCtx, s *Script, c captured) {
	if c.bmc != nil {
		r.emit("bmc-config", kindSignal, *c.bmc, nil)
	}
	r.finish(pc, s, c.sig, c.oc)
}

// finish journals a script's result and reports it on the console.
func (r *run) finish(pc *phaseCtx, s *Script, sig Signal, oc Outcome) {
	r.emit(pc.key(s, "finish"), kindSignal, sig, &oc)
	r.addOutcome(oc)
	r.progress(pc, s, oc)
}

// finalSignal journals the run's last signal.
func (r *run) finalSignal(status, msg string) error {
	r.final = status
	fmt.Fprintln(r.a.Out, msg)
	r.emit("final", kindSignal, Signal{Status: status, Error: msg}, nil)
	return r.fatalErr()
}

// recorded returns the outcome recorded for a script, if its result was journaled.
func (r *run) recorded(pc *phaseCtx, s *Script) (Outcome, bool) {
	rec, ok := r.j.Lookup(pc.key(s, "finish"))
	if !ok {
		return Outcome{}, false
	}
	var sr signalRecord
	if err := json.Unmarshal(rec.Data, &sr); err != nil || sr.Outcome == nil {
		return Outcome{Phase: pc.phase.Type, Name: s.Name, ID: s.ID, Status: wire.ScriptFailed}, true
	}
	return *sr.Outcome, true
}
