package lifecycle

import (
	"errors"
	"fmt"
	"math"
	"path"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"maasgo/region/store"
	"maasgo/wire"
)

// Signal is one op=signal request of a machine (protocol.md §4.3).
type Signal struct {
	Status          string
	Error           string
	ScriptResultID  *int64
	ExitStatus      *int
	Runtime         *float64 // seconds
	Name            string
	ScriptVersionID *int64
	// Files are the uploaded parts by name: <script> (combined), <script>.out, .err, .yaml.
	Files           map[string][]byte
	PowerType       string
	PowerParameters map[string]any
}

// MaxResultsPerSet bounds the results one run (script set) holds, so that a machine naming
// new files in every signal cannot fill the region's disk with results.
const MaxResultsPerSet = 1000

func countIn(rs []store.ScriptResult, set int64) int {
	n := 0
	for _, r := range rs {
		if r.SetID == set {
			n++
		}
	}
	return n
}

// maxResultName bounds the name of a result file a machine uploads.
const maxResultName = 255

// ValidateResultName checks the name of a file a machine uploads, which names a script
// result and becomes a file name in downloads: one path component of printable characters.
func ValidateResultName(name string) error {
	switch {
	case name == "":
		return errors.New("a result file has no name")
	case len(name) > maxResultName:
		return fmt.Errorf("result file name %.40q… is longer than %d bytes", name, maxResultName)
	case !utf8.ValidString(name):
		return fmt.Errorf("result file name %q is not valid UTF-8", name)
	case name == "." || name == ".." || strings.ContainsAny(name, "/\\"):
		return fmt.Errorf("result file name %q is not a plain file name: it may not contain / or \\ or be . or ..", name)
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		return fmt.Errorf("result file name %q contains control characters", name)
	}
	return nil
}

// ResultHook is told about every result a signal stores, inside the signal's transaction, so
// the region can act on a script's output (the inventory of 50-maas-01-commissioning).
type ResultHook func(tx *store.Tx, m *store.Machine, r *store.ScriptResult) error

// Signals processes machines' signals.
type Signals struct {
	// Stored, when set, is called for each result a signal stored.
	Stored ResultHook
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

func (p *Signals) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

// resultFiles groups uploaded files by the script they belong to.
type resultFiles struct {
	output, stdout, stderr, result []byte
	has                            map[string]bool
}

func groupFiles(files map[string][]byte) (map[string]*resultFiles, []string) {
	out := map[string]*resultFiles{}
	var order []string
	for name, data := range files {
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

// Process applies one signal: stores its results, moves their statuses, records the
// heartbeat and moves the machine as the protocol says. A signal the machine's status does
// not allow is a *StateError (409); the caller rolls the transaction back.
func (p *Signals) Process(tx *store.Tx, m *store.Machine, sig Signal) error {
	if !wire.ValidSignalStatus(sig.Status) {
		if sig.Status == "" {
			return &FieldError{Field: "status", Msg: "This field is required."}
		}
		return &FieldError{Field: "status", Msg: fmt.Sprintf("Unknown status: '%s'", sig.Status)}
	}
	for name := range sig.Files {
		if err := ValidateResultName(name); err != nil {
			return &FieldError{Field: "files", Msg: err.Error()}
		}
	}
	switch m.Status {
	case wire.NodeBroken, wire.NodeFailedCommissioning, wire.NodeFailedDeployment, wire.NodeReady,
		wire.NodeFailedEnteringRescueMode, wire.NodeFailedTesting:
		return nil // upstream ignores signals from machines in these states
	case wire.NodeCommissioning, wire.NodeTesting, wire.NodeDeployed, wire.NodeDeploying, wire.NodeRescueMode,
		wire.NodeEnteringRescueMode, wire.NodeReleasing, wire.NodeDiskErasing, wire.NodeNew:
	default:
		return StateErrorf("Machine status isn't valid (status is %s)", m.Status.Label())
	}
	now := p.now()
	// Upstream copies every signal's message (progress included) into the machine's error;
	// here only a failure sets it and a final OK clears it. Progress goes to the events.
	switch sig.Status {
	case wire.SignalFailed, wire.SignalTimedOut:
		m.ErrorDescription = sig.Error
	case wire.SignalOK:
		m.ErrorDescription = ""
	}
	results, err := tx.ScriptResults(currentSets(m), false)
	if err != nil {
		return err
	}
	byID := func(id int64) *store.ScriptResult {
		for i := range results {
			if results[i].ID == id {
				return &results[i]
			}
		}
		return nil
	}
	byName := func(name string) *store.ScriptResult {
		set := setFor(m)
		for i := range results {
			if results[i].ScriptName == name && (set == nil || results[i].SetID == *set) {
				return &results[i]
			}
		}
		return nil
	}

	// 1-2. Store the uploaded files with the exit status.
	groups, order := groupFiles(sig.Files)
	stored := map[int64]bool{}
	for _, name := range order {
		f := groups[name]
		var r *store.ScriptResult
		if sig.ScriptResultID != nil {
			r = byID(*sig.ScriptResultID)
			if r != nil && r.ScriptName != name && len(groups) > 1 {
				r = nil // several scripts' files in one signal: match each by name
			}
		}
		if r == nil {
			r = byName(name)
		}
		if r == nil {
			set := setFor(m)
			if set == nil {
				return &FieldError{Field: "script_result_id", Msg: fmt.Sprintf("The machine has no current script set to store %s in.", name)}
			}
			if n := countIn(results, *set); n >= MaxResultsPerSet {
				return &FieldError{Field: "files", Msg: fmt.Sprintf("The machine's current run already holds %d results, the most one run may; %s is not stored.", n, name)}
			}
			r = &store.ScriptResult{SetID: *set, ScriptName: name, Status: wire.ScriptRunning, Parameters: []byte("{}")}
			if s, err := tx.ScriptByName(name); err == nil {
				r.ScriptID = &s.ID
			}
			started := now
			r.Started = &started
			if err := tx.CreateScriptResult(r); err != nil {
				return err
			}
			results = append(results, *r)
			r = &results[len(results)-1]
		}
		full, err := tx.ScriptResultByID(r.ID, true)
		if err != nil {
			return err
		}
		if f.has[""] {
			full.Output = f.output
		}
		if f.has[".out"] {
			full.Stdout = f.stdout
		}
		if f.has[".err"] {
			full.Stderr = f.stderr
		}
		if f.has[".yaml"] {
			full.Result = f.result
		}
		if err := p.storeResult(tx, m, full, sig, now); err != nil {
			return err
		}
		*r = *full
		stored[r.ID] = true
	}
	if len(order) == 0 && sig.ScriptResultID != nil && sig.ExitStatus != nil && sig.Status != wire.SignalWorking {
		// A result without files (e.g. a failed install with no log): store its status.
		if r := byID(*sig.ScriptResultID); r != nil {
			full, err := tx.ScriptResultByID(r.ID, true)
			if err != nil {
				return err
			}
			if err := p.storeResult(tx, m, full, sig, now); err != nil {
				return err
			}
			*r = *full
			stored[r.ID] = true
		}
	}

	// 3. The heartbeat.
	if set := setFor(m); set != nil {
		if err := tx.TouchScriptSet(*set, now); err != nil {
			return err
		}
	}

	// 4. Status side effects on the named result.
	var target *store.ScriptResult
	if sig.ScriptResultID != nil {
		target = byID(*sig.ScriptResultID)
	} else if sig.Name != "" && sig.Status == wire.SignalWorking {
		target = byName(sig.Name)
	}
	if target != nil && !stored[target.ID] {
		changed := true
		switch {
		case sig.Status == wire.SignalApplyingNetconf && target.Status == wire.ScriptPending:
			target.Status = wire.ScriptApplyingNetconf
		case sig.Status == wire.SignalInstalling && (target.Status == wire.ScriptPending || target.Status == wire.ScriptApplyingNetconf):
			target.Status = wire.ScriptInstalling
		case sig.Status == wire.SignalWorking && (target.Status == wire.ScriptPending || target.Status == wire.ScriptApplyingNetconf || target.Status == wire.ScriptInstalling):
			target.Status = wire.ScriptRunning
			started := now
			target.Started = &started
			if sig.ScriptVersionID != nil {
				target.ScriptVersionID = sig.ScriptVersionID
			}
		default:
			changed = false
		}
		if changed {
			if err := tx.UpdateScriptResult(target); err != nil {
				return err
			}
			if target.Status == wire.ScriptRunning {
				if err := tx.AddEvent(&store.Event{NodeID: m.ID, Type: "Script", Level: "DEBUG", Description: target.ScriptName + " running"}); err != nil {
					return err
				}
			}
		}
	}
	if sig.PowerType != "" {
		m.PowerType = sig.PowerType
		if sig.PowerParameters != nil {
			m.PowerParameters = sig.PowerParameters
		}
	}

	// 5. Move the machine.
	if err := p.transition(tx, m, sig, results); err != nil {
		return err
	}
	if m.EnableHWSync {
		t := now
		m.LastSync = &t
	}
	return tx.UpdateMachine(m)
}

// storeResult records one result's files and exit status and derives its status
// (upstream's ScriptResult.store_result).
func (p *Signals) storeResult(tx *store.Tx, m *store.Machine, r *store.ScriptResult, sig Signal, now time.Time) error {
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
	if err := p.applyResultYAML(tx, m, r); err != nil {
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
	if p.Stored != nil {
		return p.Stored(tx, m, r)
	}
	return nil
}

// applyResultYAML lets the result YAML override the status and set the link state of the
// result's interface. A bad file fails the result and says why in an event; the uploaded
// output is kept.
func (p *Signals) applyResultYAML(tx *store.Tx, m *store.Machine, r *store.ScriptResult) error {
	res, err := wire.ParseResult(r.Result)
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
	if res.LinkConnected != nil {
		iface, err := tx.InterfaceByID(m.ID, *r.InterfaceID)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		} else if err != nil {
			return err
		}
		iface.LinkConnected = *res.LinkConnected
		if !iface.LinkConnected {
			iface.LinkSpeed = 0
		}
		return tx.UpdateInterface(iface)
	}
	return nil
}

// transition moves the machine after a signal (upstream's _process_* handlers).
func (p *Signals) transition(tx *store.Tx, m *store.Machine, sig Signal, results []store.ScriptResult) error {
	failedIn := func(set *int64) bool {
		if set == nil {
			return false
		}
		for _, r := range results {
			if r.SetID == *set && r.Status.Failed() && !r.Suppressed {
				return true
			}
		}
		return false
	}
	var to wire.NodeStatus
	switch m.Status {
	case wire.NodeNew:
		if sig.Status != wire.SignalCommissioning {
			return nil
		}
		to = wire.NodeCommissioning
	case wire.NodeCommissioning:
		switch sig.Status {
		case wire.SignalOK:
			to = wire.NodeReady
			if m.Enlisting {
				to = wire.NodeNew
			}
		case wire.SignalFailed:
			to = wire.NodeFailedCommissioning
		case wire.SignalTesting:
			to = wire.NodeTesting
		default:
			return nil
		}
		if to != wire.NodeFailedCommissioning && failedIn(m.CurrentCommissioningSet) {
			to = wire.NodeFailedCommissioning
		}
	case wire.NodeTesting:
		switch sig.Status {
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
		case wire.SignalFailed:
			to = wire.NodeFailedTesting
		default:
			return nil
		}
	case wire.NodeDeployed:
		switch sig.Status {
		case wire.SignalOK:
			to = wire.NodeReady
			if failedIn(m.CurrentCommissioningSet) {
				to = wire.NodeFailedCommissioning
			}
		case wire.SignalTesting:
			to = wire.NodeTesting
		case wire.SignalFailed:
			to = wire.NodeFailedCommissioning
		default:
			return nil
		}
	case wire.NodeDeploying:
		switch sig.Status {
		case wire.SignalFailed:
			to = wire.NodeFailedDeployment
		case wire.SignalOK:
			to = wire.NodeDeployed
		default:
			return nil
		}
	case wire.NodeEnteringRescueMode:
		if sig.Status != wire.SignalOK && sig.Status != wire.SignalWorking {
			return nil
		}
		to = wire.NodeRescueMode
	default:
		return nil
	}
	if to == m.Status {
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
	if to == wire.NodeTesting {
		// The tests now run; the machine has node_timeout to report on them.
		if m.CurrentTestingSet != nil {
			if err := tx.TouchScriptSet(*m.CurrentTestingSet, p.now()); err != nil {
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
