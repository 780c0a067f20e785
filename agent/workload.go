package agent

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"maasgo/wire"
)

// DeployInfoTag marks the commissioning scripts that report the hardware of a machine that
// already runs a workload (protocol.md §7).
const DeployInfoTag = "deploy-info"

// ErrUnauthorized says the region refused the machine's credentials even with its clock
// learnt: the machine was deleted or its token replaced. Retrying cannot help.
var ErrUnauthorized = errors.New("the region refused the machine's credentials")

// ErrNothingToReport says the region offered no deploy-info scripts to run.
var ErrNothingToReport = errors.New("nothing to report")

// A Workload run (Agent.Workload, maas-run-scripts report-results) reports the hardware of a
// deployed machine: it downloads the scripts once and runs only the commissioning entries
// that are default and tagged deploy-info, through the same journal, retries and output
// files as a commissioning run. Unlike commissioning it applies no configured networking,
// installs no packages, takes no BMC configuration, sends no heartbeat and sends no final OK
// or FAILED: the machine stays DEPLOYED (the region answers FAILED from a deployed machine
// with 409, and OK would make it Ready). Every result carries its script's real exit status.
// A 401 on the download that persists once the signer knows the region's clock ends the run
// with ErrUnauthorized instead of retrying.
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

// DeployInfoPhase returns the phase report-results runs: the index's commissioning scripts
// that are default and tagged deploy-info, in run order, numbered anew. It returns nil when
// there are none. The index itself is left as it was.
func DeployInfoPhase(idx *Index) *Phase {
	c := idx.Phase(wire.ScriptTypeCommissioning)
	if c == nil {
		return nil
	}
	p := &Phase{Type: c.Type}
	for _, s := range c.Scripts {
		if s.Default != nil && *s.Default && slices.Contains(s.Tags, DeployInfoTag) {
			cp := *s
			p.Scripts = append(p.Scripts, &cp)
		}
	}
	if len(p.Scripts) == 0 {
		return nil
	}
	for i, s := range p.Scripts {
		s.Pos, s.Of = i+1, len(p.Scripts)
	}
	return p
}

// isUnauthorized reports whether err is the region's 401.
func isUnauthorized(err error) bool {
	var he *HTTPError
	return errors.As(err, &he) && he.StatusCode == http.StatusUnauthorized
}
