package lifecycle

import (
	"errors"
	"fmt"
	"math"
	"path"
	"slices"
	"strings"
	"time"

	"maasgo/region/store"
	"maasgo/wire"
)

// MaxResultsPerSet bounds the results one run (script set) holds, so that a machine naming
// new files in every signal cannot fill the region's disk with results.
const MaxResultsPerSet = 1000

// Signals processes machines' signals. Every result a signal stores is read for what the
// region applies to the machine (the inventory of 50-maas-01-commissioning, hardware.go).
type Signals struct {
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

func (p *Signals) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

// Process applies one signal (protocol.md §4.3, upstream's VersionIndexHandler.signal): it
// stores the uploaded results, moves the named result's status, records the heartbeat and
// moves the machine as the protocol says. A malformed signal is a wire.FieldErrors (400), a
// signal the machine's status does not allow a *StateError (409); the caller rolls the
// transaction back.
func (p *Signals) Process(tx *store.Tx, m *store.Machine, sig wire.Signal) error {
	return p.ProcessParsed(tx, m, sig, nil)
}

// ParsedYAML holds the result YAML files of a signal read ahead, by content.
type ParsedYAML map[string]parsedYAML

type parsedYAML struct {
	res *wire.Result
	err error
}

// ParseYAML reads the result YAML files a signal carries. Reading them is the costliest part
// of a signal that needs no transaction; done before it, it leaves the write transaction,
// which signals take one after another, only the database's work.
func ParseYAML(sig wire.Signal) ParsedYAML {
	var out ParsedYAML
	for _, f := range sig.Files {
		if path.Ext(f.Name) != ".yaml" {
			continue
		}
		if out == nil {
			out = ParsedYAML{}
		}
		res, err := wire.ParseResult(f.Data)
		out[string(f.Data)] = parsedYAML{res, err}
	}
	return out
}

// ProcessParsed is Process with the signal's result YAML files read ahead by ParseYAML.
func (p *Signals) ProcessParsed(tx *store.Tx, m *store.Machine, sig wire.Signal, parsed ParsedYAML) error {
	// The metadata API decoded and checked the signal; the status webhook's files come here
	// without that.
	if err := sig.Validate(); err != nil {
		return err
	}
	if listen, err := listensToSignals(m); !listen || err != nil {
		return err
	}
	s := &signalRun{Signals: p, tx: tx, m: m, sig: sig, at: p.now(), stored: map[int64]bool{}, parsed: parsed}
	var err error
	if s.results, err = tx.ScriptResults(currentSets(m), false); err != nil {
		return err
	}
	for _, step := range []func() error{
		s.recordError,
		s.storeFiles,
		s.storeExitStatus,
		s.heartbeat,
		s.advanceNamed,
		s.setPower,
		s.moveMachine,
		s.save,
	} {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

// listensToSignals says whether the machine's status takes signals: upstream ignores those
// of broken, failed and ready machines (false, nil) and refuses them in any status it has no
// handler for (a *StateError).
func listensToSignals(m *store.Machine) (bool, error) {
	switch m.Status {
	case wire.NodeBroken, wire.NodeFailedCommissioning, wire.NodeFailedDeployment, wire.NodeReady,
		wire.NodeFailedEnteringRescueMode, wire.NodeFailedTesting:
		return false, nil
	case wire.NodeCommissioning, wire.NodeTesting, wire.NodeDeployed, wire.NodeDeploying, wire.NodeRescueMode,
		wire.NodeEnteringRescueMode, wire.NodeReleasing, wire.NodeDiskErasing, wire.NodeNew:
		return true, nil
	}
	return false, StateErrorf("Machine status isn't valid (status is %s)", m.Status.Label())
}

// signalRun is one signal being applied to a machine inside the signal's transaction. Its
// steps change the machine, which save writes at the end.
type signalRun struct {
	*Signals
	tx  *store.Tx
	m   *store.Machine
	sig wire.Signal
	at  time.Time // when the region received the signal
	// results are those of the machine's current sets, as this signal changes them; the
	// machine's move reads the statuses stored here.
	results []store.ScriptResult
	// stored are the results this signal stored files or an exit status into.
	stored map[int64]bool
	// parsed are the signal's result YAML files read ahead (ParseYAML); may be nil.
	parsed ParsedYAML
}

// recordError keeps the machine's error message. Upstream copies every signal's message
// (progress included) into it; here only a failure sets it and a final OK clears it.
// Progress goes to the events.
func (s *signalRun) recordError() error {
	switch s.sig.Status {
	case wire.SignalFailed, wire.SignalTimedOut:
		s.m.ErrorDescription = s.sig.Error
	case wire.SignalOK:
		s.m.ErrorDescription = ""
	}
	return nil
}

// storeFiles stores the uploaded files, script by script, with the signal's exit status
// (upstream's _store_results). Files go to the result with the signal's script_result_id;
// when a signal carries several scripts' files, or names no known result, each script's
// files go to its result by name, which is created when the set has none.
func (s *signalRun) storeFiles() error {
	groups, order := groupFiles(s.sig.Files)
	for _, name := range order {
		var r *store.ScriptResult
		if s.sig.ScriptResultID != nil {
			r = s.byID(*s.sig.ScriptResultID)
			if r != nil && r.ScriptName != name && len(groups) > 1 {
				r = nil // several scripts' files in one signal: match each by name
			}
		}
		if r == nil {
			r = s.byName(name)
		}
		if r == nil {
			var err error
			if r, err = s.newResult(name); err != nil {
				return err
			}
		}
		if err := s.store(r, groups[name].attach); err != nil {
			return err
		}
	}
	return nil
}

// newResult creates a running result for files of a script the current set has no result
// for, as upstream does, up to MaxResultsPerSet.
func (s *signalRun) newResult(name string) (*store.ScriptResult, error) {
	set := setFor(s.m)
	if set == nil {
		return nil, fieldErrorf("script_result_id", "The machine has no current script set to store %s in.", name)
	}
	if n := s.inSet(*set); n >= MaxResultsPerSet {
		return nil, fieldErrorf("files", "The machine's current run already holds %d results, the most one run may; %s is not stored.", n, name)
	}
	started := s.at
	r := &store.ScriptResult{SetID: *set, ScriptName: name, Status: wire.ScriptRunning, Parameters: []byte("{}"), Started: &started}
	if sc, err := s.tx.ScriptByName(name); err == nil {
		r.ScriptID = &sc.ID
	}
	if err := s.tx.CreateScriptResult(r); err != nil {
		return nil, err
	}
	s.results = append(s.results, *r)
	return &s.results[len(s.results)-1], nil
}

// storeExitStatus stores the exit status of a result that uploaded no files (a failed
// install with no log, say). WORKING reports progress, not a result.
func (s *signalRun) storeExitStatus() error {
	sig := s.sig
	if len(sig.Files) > 0 || sig.ScriptResultID == nil || sig.ExitStatus == nil || sig.Status == wire.SignalWorking {
		return nil
	}
	if r := s.byID(*sig.ScriptResultID); r != nil {
		return s.store(r, func(*store.ScriptResult) {})
	}
	return nil
}

// store reads result r whole, lets attach put the uploaded files into it, stores it with the
// signal's exit status and marks it stored.
func (s *signalRun) store(r *store.ScriptResult, attach func(*store.ScriptResult)) error {
	full, err := s.tx.ScriptResultByID(r.ID, true)
	if err != nil {
		return err
	}
	attach(full)
	if err := s.storeResult(full); err != nil {
		return err
	}
	*r = *full
	s.stored[r.ID] = true
	return nil
}

// storeResult records one result's files and exit status and derives its status
// (upstream's ScriptResult.store_result).
func (s *signalRun) storeResult(r *store.ScriptResult) error {
	tx, m, sig, now := s.tx, s.m, s.sig, s.at
	if sig.ScriptVersionID != nil {
		r.ScriptVersionID = sig.ScriptVersionID
	}
	switch {
	case sig.Status == wire.SignalTimedOut:
		r.Status = wire.ScriptTimedOut
	default:
		exit := 0
		if sig.ExitStatus != nil {
			exit = *sig.ExitStatus
		}
		r.ExitStatus = &exit
		switch {
		case exit == 0:
			r.Status = wire.ScriptPassed
		case r.Status == wire.ScriptInstalling || sig.Status == wire.SignalInstalling:
			r.Status = wire.ScriptFailedInstalling
		case r.Status == wire.ScriptApplyingNetconf || sig.Status == wire.SignalApplyingNetconf:
			r.Status = wire.ScriptFailedApplyingNetconf
		default:
			r.Status = wire.ScriptFailed
		}
	}
	if sig.Status == wire.SignalTimedOut && sig.ExitStatus != nil {
		e := *sig.ExitStatus
		r.ExitStatus = &e
	}
	if err := applyResultYAML(tx, m, r, s.parsed); err != nil {
		return err
	}
	end := now
	r.Ended = &end
	if r.Started == nil {
		start := end
		if sig.Runtime != nil && *sig.Runtime > 0 && !math.IsInf(*sig.Runtime, 0) && *sig.Runtime < 1e9 {
			start = end.Add(-time.Duration(*sig.Runtime * float64(time.Second)))
		}
		r.Started = &start
	} else if sig.Runtime != nil && *sig.Runtime >= 0 && *sig.Runtime < 1e9 {
		// The machine measured the run; trust it over the time between two signals.
		start := end.Add(-time.Duration(*sig.Runtime * float64(time.Second)))
		r.Started = &start
	}
	r.HasOutput = true
	if err := tx.UpdateScriptResult(r); err != nil {
		return err
	}
	level := "INFO"
	if r.Status.Failed() {
		level = "ERROR"
	}
	if err := tx.AddEvent(&store.Event{NodeID: m.ID, Type: "Script result", Level: level,
		Description: fmt.Sprintf("%s %s", r.ScriptName, strings.ToLower(r.Status.Label()))}); err != nil {
		return err
	}
	return applyReported(tx, m, r)
}

// applyResultYAML lets the result YAML override the status and set the link state and
// speeds of the result's interface (links.go). A bad file fails the result and says why in an
// event; the uploaded output is kept. Speeds from a result without an interface are ignored,
// as upstream ignores keys it does not know.
func applyResultYAML(tx *store.Tx, m *store.Machine, r *store.ScriptResult, parsed ParsedYAML) error {
	r.Link = nil
	p, ok := parsed[string(r.Result)]
	if !ok {
		p.res, p.err = wire.ParseResult(r.Result)
	}
	res, err := p.res, p.err
	if err == nil && res != nil && res.LinkConnected != nil && r.InterfaceID == nil {
		err = errors.New("link_connected: allowed only for results of scripts with an interface parameter")
	}
	if err != nil {
		r.Status = wire.ScriptFailed
		return tx.AddEvent(&store.Event{NodeID: m.ID, Type: "Script result error", Level: "ERROR",
			Description: fmt.Sprintf("%s: result YAML rejected: %v", r.ScriptName, err)})
	}
	if res == nil {
		return nil
	}
	if res.Status != nil {
		r.Status = *res.Status
	}
	if r.InterfaceID == nil {
		return nil
	}
	return applyLinkReport(tx, m, r, res)
}

// heartbeat records that the machine is alive: the status monitor fails a machine whose
// current set has not been pinged for node_timeout.
func (s *signalRun) heartbeat() error {
	if set := setFor(s.m); set != nil {
		return s.tx.TouchScriptSet(*set, s.at)
	}
	return nil
}

// advanceNamed moves the result the signal names, when this signal stored nothing into it:
// APPLYING_NETCONF and INSTALLING mark the steps before a script runs, WORKING marks it
// running (and records when it started and which version runs).
func (s *signalRun) advanceNamed() error {
	sig := s.sig
	target := s.named()
	if target == nil || s.stored[target.ID] {
		return nil
	}
	switch {
	case sig.Status == wire.SignalApplyingNetconf && target.Status == wire.ScriptPending:
		target.Status = wire.ScriptApplyingNetconf
	case sig.Status == wire.SignalInstalling && (target.Status == wire.ScriptPending || target.Status == wire.ScriptApplyingNetconf):
		target.Status = wire.ScriptInstalling
	case sig.Status == wire.SignalWorking && (target.Status == wire.ScriptPending || target.Status == wire.ScriptApplyingNetconf || target.Status == wire.ScriptInstalling):
		target.Status = wire.ScriptRunning
		started := s.at
		target.Started = &started
		if sig.ScriptVersionID != nil {
			target.ScriptVersionID = sig.ScriptVersionID
		}
	default:
		return nil
	}
	if err := s.tx.UpdateScriptResult(target); err != nil {
		return err
	}
	if target.Status != wire.ScriptRunning {
		return nil
	}
	return s.tx.AddEvent(&store.Event{NodeID: s.m.ID, Type: "Script", Level: "DEBUG", Description: target.ScriptName + " running"})
}

// setPower takes the BMC a commissioning script detected and configured.
func (s *signalRun) setPower() error {
	if s.sig.PowerType == "" {
		return nil
	}
	params, err := s.sig.PowerParams()
	if err != nil {
		return wire.FieldError("power_parameters", "%s", err)
	}
	s.m.PowerType = s.sig.PowerType
	if params != nil {
		s.m.PowerParameters = params
	}
	return nil
}

// moveMachine moves the machine to the status the signal leads to (upstream's _process_*
// handlers): the move must be one the life-cycle allows (else a *StateError); a move to a
// failed status aborts the unfinished results, a move to Testing starts the tests' clock.
// Each move is an event.
func (s *signalRun) moveMachine() error {
	tx, m, sig := s.tx, s.m, s.sig
	to, ok := nextStatus(m, sig.Status, s.failedIn)
	if !ok || to == m.Status {
		return nil
	}
	if !Allowed(m.Status, to) {
		return StateErrorf("Machine %s cannot go from %s to %s (signal %s).", m.Hostname, m.Status.Label(), to.Label(), sig.Status)
	}
	from := m.Status
	if err := SetStatus(m, to); err != nil {
		return err
	}
	if strings.HasPrefix(to.String(), "FAILED_") {
		if err := abortUnfinished(tx, currentSets(m)); err != nil {
			return err
		}
	}
	if from == wire.NodeDiskErasing && to == wire.NodeReady {
		if err := finishDiskErasing(tx, m); err != nil {
			return err
		}
	}
	if to == wire.NodeTesting {
		// The tests now run; the machine has node_timeout to report on them.
		if m.CurrentTestingSet != nil {
			if err := tx.TouchScriptSet(*m.CurrentTestingSet, s.now()); err != nil {
				return err
			}
		}
	}
	desc := fmt.Sprintf("%s → %s", from.Label(), to.Label())
	if sig.Error != "" {
		desc += ": " + sig.Error
	}
	level := "INFO"
	if strings.HasPrefix(to.String(), "FAILED_") {
		level = "ERROR"
	}
	return tx.AddEvent(&store.Event{NodeID: m.ID, Type: to.Label(), Level: level, Description: desc})
}

// nextStatus is the status a signal moves a machine to, by the machine's status; ok is false
// when the signal does not move it. failedIn reports whether a set holds a failed result:
// a commissioning or testing run with one fails even when the machine signals OK.
func nextStatus(m *store.Machine, signal string, failedIn func(set *int64) bool) (to wire.NodeStatus, ok bool) {
	switch m.Status {
	case wire.NodeNew:
		return wire.NodeCommissioning, signal == wire.SignalCommissioning
	case wire.NodeCommissioning:
		switch signal {
		case wire.SignalOK:
			to = wire.NodeReady
			if m.Enlisting {
				to = wire.NodeNew
			}
		case wire.SignalFailed:
			return wire.NodeFailedCommissioning, true
		case wire.SignalTesting:
			to = wire.NodeTesting
		default:
			return 0, false
		}
		if failedIn(m.CurrentCommissioningSet) {
			to = wire.NodeFailedCommissioning
		}
		return to, true
	case wire.NodeTesting:
		switch signal {
		case wire.SignalOK:
			to = wire.NodeReady
			if m.PreviousStatus == wire.NodeDeployed {
				to = wire.NodeDeployed
			} else if m.Enlisting {
				to = wire.NodeNew
			}
			if failedIn(m.CurrentTestingSet) {
				to = wire.NodeFailedTesting
			}
			return to, true
		case wire.SignalFailed:
			return wire.NodeFailedTesting, true
		}
	case wire.NodeDeployed:
		switch signal {
		case wire.SignalOK:
			if failedIn(m.CurrentCommissioningSet) {
				return wire.NodeFailedCommissioning, true
			}
			return wire.NodeReady, true
		case wire.SignalTesting:
			return wire.NodeTesting, true
		case wire.SignalFailed:
			return wire.NodeFailedCommissioning, true
		}
	case wire.NodeDeploying:
		switch signal {
		case wire.SignalFailed:
			return wire.NodeFailedDeployment, true
		case wire.SignalOK:
			return wire.NodeDeployed, true
		}
	case wire.NodeEnteringRescueMode:
		return wire.NodeRescueMode, signal == wire.SignalOK || signal == wire.SignalWorking
	case wire.NodeDiskErasing:
		// Upstream's _process_disk_erasing: OK releases the machine, FAILED fails the erasing.
		switch signal {
		case wire.SignalOK:
			if failedIn(m.CurrentReleaseSet) {
				return wire.NodeFailedDiskErasing, true
			}
			return wire.NodeReady, true
		case wire.SignalFailed:
			return wire.NodeFailedDiskErasing, true
		}
	}
	return 0, false
}

// save writes the machine, with the time of its last hardware sync when it keeps its
// hardware in sync.
func (s *signalRun) save() error {
	if s.m.EnableHWSync {
		t := s.at
		s.m.LastSync = &t
	}
	return s.tx.UpdateMachine(s.m)
}

// failedIn reports whether a set holds a failed result that is not suppressed.
func (s *signalRun) failedIn(set *int64) bool {
	if set == nil {
		return false
	}
	for _, r := range s.results {
		if r.SetID == *set && r.Status.Failed() && !r.Suppressed {
			return true
		}
	}
	return false
}

func (s *signalRun) byID(id int64) *store.ScriptResult {
	for i := range s.results {
		if s.results[i].ID == id {
			return &s.results[i]
		}
	}
	return nil
}

// byName finds a script's result in the set the signal belongs to.
func (s *signalRun) byName(name string) *store.ScriptResult {
	set := setFor(s.m)
	for i := range s.results {
		if s.results[i].ScriptName == name && (set == nil || s.results[i].SetID == *set) {
			return &s.results[i]
		}
	}
	return nil
}

// named is the result the signal is about: the one with its script_result_id, or for
// WORKING without an id the one with its name.
func (s *signalRun) named() *store.ScriptResult {
	if s.sig.ScriptResultID != nil {
		return s.byID(*s.sig.ScriptResultID)
	}
	if s.sig.Name != "" && s.sig.Status == wire.SignalWorking {
		return s.byName(s.sig.Name)
	}
	return nil
}

// inSet counts the results of one set.
func (s *signalRun) inSet(set int64) int {
	n := 0
	for _, r := range s.results {
		if r.SetID == set {
			n++
		}
	}
	return n
}

// setFor is the set a signal's results belong to, by the machine's status.
func setFor(m *store.Machine) *int64 {
	switch m.Status {
	case wire.NodeTesting, wire.NodeFailedTesting:
		return m.CurrentTestingSet
	case wire.NodeDeploying, wire.NodeFailedDeployment:
		return m.CurrentInstallationSet
	case wire.NodeReleasing, wire.NodeDiskErasing:
		return m.CurrentReleaseSet
	}
	return m.CurrentCommissioningSet
}

// currentSets are the machine's current set ids.
func currentSets(m *store.Machine) []int64 {
	var ids []int64
	for _, p := range []*int64{m.CurrentCommissioningSet, m.CurrentTestingSet, m.CurrentInstallationSet, m.CurrentReleaseSet} {
		if p != nil {
			ids = append(ids, *p)
		}
	}
	return ids
}

// resultFiles are the uploaded files of one script result.
type resultFiles struct {
	output, stdout, stderr, result []byte
	has                            map[string]bool
}

// groupFiles groups uploaded files by the script they belong to: <name>.out is the stdout,
// .err the stderr, .yaml the result YAML of script <name>; any other file is a script's
// combined output (foo.sh is the output of script foo.sh). The scripts come sorted.
func groupFiles(files []wire.SignalFile) (map[string]*resultFiles, []string) {
	out := map[string]*resultFiles{}
	var order []string
	for _, file := range files {
		name, data := file.Name, file.Data
		ext := path.Ext(name)
		base := strings.TrimSuffix(name, ext)
		switch ext {
		case ".out", ".err", ".yaml":
		default:
			base, ext = name, ""
		}
		f := out[base]
		if f == nil {
			f = &resultFiles{has: map[string]bool{}}
			out[base] = f
			order = append(order, base)
		}
		f.has[ext] = true
		switch ext {
		case ".out":
			f.stdout = data
		case ".err":
			f.stderr = data
		case ".yaml":
			f.result = data
		default:
			f.output = data
		}
	}
	slices.Sort(order)
	return out, order
}

// attach puts the uploaded files into the result, leaving those not uploaded as they were.
func (f *resultFiles) attach(r *store.ScriptResult) {
	if f.has[""] {
		r.Output = f.output
	}
	if f.has[".out"] {
		r.Stdout = f.stdout
	}
	if f.has[".err"] {
		r.Stderr = f.stderr
	}
	if f.has[".yaml"] {
		r.Result = f.result
	}
}
