package agent

import (
	"errors"
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

// ErrUntrustedRegion says the runner refused the region's TLS certificate (or could not use
// the settings that check it): the run stops instead of retrying.
var ErrUntrustedRegion = errors.New("refusing the region: its TLS certificate is not trusted (check tls_ca or tls_fingerprint in the config, --tls-ca, --tls-fingerprint, or the region's --tls-cert)")

// ErrNothingToReport says the region offered no deploy-info scripts to run.
var ErrNothingToReport = errors.New("nothing to report")

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
