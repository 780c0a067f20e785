package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/ulikunitz/xz"

	"maasgo/agent/journal"
	"maasgo/wire"
	"maasgo/wire/evidence"
)

// Export writes an evidence bundle (wire/evidence) of one run from its journal, as a tar.xz:
// every script's outputs and result, a JUnit file and a manifest with each file's SHA-256. It
// needs no region, so it works after a --no-send run; nobody signs it, and its manifest says
// so. Outputs a run already delivered are no longer in its journal: the manifest names them as
// missing. An empty id exports the newest run.
func Export(storage, id string, w io.Writer) (*evidence.Manifest, error) {
	if id == "" {
		ids, err := Runs(storage)
		if err != nil {
			return nil, err
		}
		if len(ids) == 0 {
			return nil, fmt.Errorf("%w in %s", ErrNoRun, storage)
		}
		if id, err = CurrentRun(storage); err != nil {
			return nil, err
		}
	}
	unlock, err := lockStorage(storage)
	if err != nil {
		return nil, err
	}
	defer unlock()
	info, err := LoadRun(storage, id)
	if err != nil {
		return nil, err
	}
	j, err := journal.Open(journalDir(storage, id))
	if err != nil {
		return nil, err
	}
	defer j.Close()
	host, _ := os.Hostname()
	m := &evidence.Manifest{Generator: "maas-run-scripts export of run " + id + " (unsigned)", Generated: time.Now().UTC().Truncate(time.Second),
		Machine: evidence.Machine{Hostname: host}}
	xw, err := xz.NewWriter(w)
	if err != nil {
		return nil, fmt.Errorf("export run %s: %w", id, err)
	}
	b := evidence.NewWriter(xw, evidence.SafeName(host, 100)+"-evidence-"+id, m.Generated)
	for _, rec := range j.Records(kindSignal) {
		var sr signalRecord
		if err := json.Unmarshal(rec.Data, &sr); err != nil {
			return nil, fmt.Errorf("export run %s: record %d: %w", id, rec.Seq, err)
		}
		oc := sr.Outcome
		if oc == nil {
			continue // a step of the run, not a script's result
		}
		run := oc.Phase.Dir() + "-" + info.ID
		exit := oc.ExitStatus
		res := evidence.Result{Run: run, Name: oc.Name, Status: oc.Status.Label(), Failed: oc.Failed(), Skipped: oc.Status == wire.ScriptSkipped,
			ExitStatus: &exit, Runtime: oc.Runtime.Seconds(), Files: []string{}}
		if end := rec.Time.UTC(); oc.Runtime > 0 {
			start := end.Add(-oc.Runtime)
			res.Started, res.Ended = &start, &end
		}
		for _, f := range rec.Files {
			data, err := os.ReadFile(j.Path(f))
			if errors.Is(err, os.ErrNotExist) {
				// Sent and dropped from the journal: the region has it.
				res.Missing = append(res.Missing, f.Name)
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("export run %s: %s of %s: %w", id, f.Name, oc.Name, err)
			}
			p, err := b.AddOutput(run, f.Name, data)
			if err != nil {
				return nil, err
			}
			res.Files = append(res.Files, p)
		}
		m.Results = append(m.Results, res)
	}
	if err := b.Close(m, nil); err != nil {
		return nil, err
	}
	if err := xw.Close(); err != nil {
		return nil, fmt.Errorf("export run %s: %w", id, err)
	}
	return m, nil
}
