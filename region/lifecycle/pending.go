package lifecycle

import (
	"encoding/json"
	"errors"
	"slices"
	"sort"

	"maasgo/region/store"
	"maasgo/wire"
)

// Pending is one result a machine should produce, with what the maas-scripts tar carries for it.
type Pending struct {
	List    string // commissioning_scripts, testing_scripts or release_scripts
	Result  store.ScriptResult
	Script  store.Script
	Version store.ScriptVersion // the script's current body
	Entry   wire.IndexEntry
}

// PendingScripts lists what the machine's next maas-scripts download carries (protocol.md
// §4.2): the unfinished results of its current commissioning set (all of them for a deployed
// machine, which re-runs them to report its hardware), of its current testing set, or of its
// release set. Finished commissioning results are never listed again for a machine that is
// not deployed, so the runner does not loop. Results whose script was deleted are dropped.
func PendingScripts(tx *store.Tx, m *store.Machine) ([]Pending, error) {
	type pick struct {
		list     string
		set      *int64
		finished bool
	}
	var picks []pick
	switch m.Status {
	case wire.NodeCommissioning, wire.NodeEnteringRescueMode, wire.NodeRescueMode:
		picks = append(picks, pick{"commissioning_scripts", m.CurrentCommissioningSet, false})
	case wire.NodeDeployed:
		picks = append(picks, pick{"commissioning_scripts", m.CurrentCommissioningSet, true})
	case wire.NodeReleasing, wire.NodeDiskErasing:
		picks = append(picks, pick{"release_scripts", m.CurrentReleaseSet, false})
	}
	if m.Status != wire.NodeReleasing && m.Status != wire.NodeDiskErasing {
		picks = append(picks, pick{"testing_scripts", m.CurrentTestingSet, false})
	}
	var out []Pending
	versions := map[int64]*store.ScriptVersion{}
	for _, p := range picks {
		if p.set == nil {
			continue
		}
		rs, err := tx.ScriptResults([]int64{*p.set}, false)
		if err != nil {
			return nil, err
		}
		for _, r := range rs {
			if !p.finished && !r.Status.Unfinished() {
				continue
			}
			if r.ScriptID == nil {
				continue
			}
			s, err := tx.ScriptByID(*r.ScriptID)
			if errors.Is(err, store.ErrNotFound) {
				if err := tx.DeleteScriptResult(r.ID); err != nil {
					return nil, err
				}
				continue
			} else if err != nil {
				return nil, err
			}
			v := versions[s.CurrentVersion]
			if v == nil {
				if v, err = tx.ScriptVersion(s.CurrentVersion); err != nil {
					return nil, err
				}
				versions[s.CurrentVersion] = v
			}
			out = append(out, Pending{List: p.list, Result: r, Script: *s, Version: *v, Entry: indexEntry(&r, s)})
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].List != out[j].List {
			return out[i].List < out[j].List
		}
		if out[i].Entry.Name != out[j].Entry.Name {
			return out[i].Entry.Name < out[j].Entry.Name
		}
		return out[i].Result.ID < out[j].Result.ID
	})
	return out, nil
}

// EstimateEntries sets each unfinished entry's expected runtime, when one is known
// (ExpectedRuntimes), so the runner can say how long its run has left. It only reads: the
// region runs it in a read transaction of its own, outside the one that picks the scripts.
func (rt *Runtimes) EstimateEntries(tx *store.Tx, m *store.Machine, out []Pending) error {
	var names []string
	first := int64(0)
	for _, p := range out {
		if p.Result.Status.Unfinished() && !slices.Contains(names, p.Result.ScriptName) {
			names = append(names, p.Result.ScriptName)
			if first == 0 || p.Result.SetID < first {
				first = p.Result.SetID
			}
		}
	}
	if len(names) == 0 {
		return nil
	}
	expected, err := rt.Expected(tx, m, names, first)
	if err != nil {
		return err
	}
	for i := range out {
		if d, ok := expected[out[i].Result.ScriptName]; ok && out[i].Result.Status.Unfinished() {
			out[i].Entry.EstimatedSeconds = d.Seconds()
		}
	}
	return nil
}

// indexEntry renders a result as an index.json entry.
func indexEntry(r *store.ScriptResult, s *store.Script) wire.IndexEntry {
	id := r.ID
	started := r.Status != wire.ScriptPending
	finished := !r.Status.Unfinished()
	def := s.Default
	params := map[string]wire.ResolvedParam{}
	json.Unmarshal(r.Parameters, &params)
	pk := s.Packages
	if len(pk) == 0 {
		pk = json.RawMessage("{}")
	}
	return wire.IndexEntry{
		Name: s.Name, Path: s.Type.Dir() + "/" + s.Name, ScriptResultID: &id, ScriptVersionID: s.CurrentVersion,
		TimeoutSeconds: s.Timeout.Seconds(), Parallel: s.Parallel, HardwareType: s.HardwareType,
		Parameters: params, Packages: pk, ForHardware: orEmptySlice(s.ForHardware),
		ApplyConfiguredNetworking: s.ApplyConfiguredNetworking, HasStarted: &started, HasFinished: &finished,
		Default: &def, Tags: slices.Clone(s.Tags),
	}
}

func orEmptySlice(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}
