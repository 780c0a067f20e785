package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"time"

	"maasgo/client"
	"maasgo/wire"
)

// The plan step: a round's scripts come from the region's tar (download, extracted into the
// storage directory) or, for a resumed run, from the index snapshot the round took when it
// started; Order and Plan then put a phase's scripts in upstream's order and batches.

// index returns the index of a round: the snapshot taken when the round started, or a new
// download. ok is false when the region had nothing to run.
func (r *run) index(ctx context.Context, round int) (*Index, bool, error) {
	snap := filepath.Join(r.dir, fmt.Sprintf("index.%d.json", round))
	if data, err := os.ReadFile(snap); err == nil {
		x, err := ParseIndex(data)
		return x, err == nil, err
	}
	noContent := fmt.Sprintf("r%d/no-content", round)
	if _, ok := r.j.Lookup(noContent); ok {
		return nil, false, nil
	}
	if r.noDownload() {
		if round > 0 {
			return nil, false, nil
		}
		if !r.a.NoDownload {
			fmt.Fprintf(r.a.Out, "--no-send makes no network request: running the scripts already in %s\n", r.scriptsDir)
		}
	} else {
		ok, err := r.download(ctx)
		if err != nil {
			return nil, false, err
		}
		if !ok {
			r.emit(noContent, kindMark, Signal{}, nil)
			return nil, false, r.fatalErr()
		}
	}
	indexFile := filepath.Join(r.scriptsDir, "index.json")
	if _, err := os.Stat(indexFile); err != nil && r.noDownload() {
		return nil, false, fmt.Errorf("no scripts to run in %s (%w): run once without --no-download or --no-send", r.scriptsDir, err)
	}
	x, data, err := ReadIndex(indexFile)
	if err != nil {
		return nil, false, r.refuse(err)
	}
	if err := writeFileAtomic(snap, data, 0o600); err != nil {
		return nil, false, fmt.Errorf("save index: %w", err)
	}
	return x, true, nil
}

// trackingReader remembers the error of the reader it wraps, to tell a broken download from
// a malformed archive.
type trackingReader struct {
	r   io.Reader
	err error
}

func (t *trackingReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		t.err = err
	}
	return n, err
}

// download fetches and extracts the scripts tar, retrying transport failures with backoff.
// ok is false on 204.
func (r *run) download(ctx context.Context) (bool, error) {
	fmt.Fprintf(r.a.Out, "Downloading and extracting %smaas-scripts to %s\n", r.a.Endpoint.MetadataURL, r.scriptsDir)
	first := time.Now()
	refused := 0
	for attempt := 1; ; attempt++ {
		body, ok, err := r.a.Region.Scripts(ctx)
		if err == nil {
			if !ok {
				return false, nil
			}
			tr := &trackingReader{r: body}
			err = ExtractScripts(tr, r.scriptsDir, r.configDir)
			body.Close()
			if err == nil {
				return true, nil
			}
			if tr.err == nil {
				return false, r.refuse(fmt.Errorf("scripts tar: %w", err))
			}
		}
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		if client.IsCertificateError(err) {
			// No retry mends a certificate the runner does not trust.
			return false, fmt.Errorf("%w: %w", ErrUntrustedRegion, err)
		}
		if r.info.Workload && isUnauthorized(err) {
			// The first 401 taught the signer the region's clock; a second one means the
			// credentials themselves are refused, which no retry mends.
			if refused++; refused >= 2 {
				return false, fmt.Errorf("%w: %w", ErrUnauthorized, err)
			}
			continue
		}
		if r.a.GiveUpAfter > 0 && time.Since(first) >= r.a.GiveUpAfter {
			return false, fmt.Errorf("download scripts: gave up after %s: %w", r.a.GiveUpAfter, err)
		}
		d := r.a.Backoff.Delay(attempt)
		r.a.Log.Warn("download scripts failed; retrying", "error", err, "in", d.Round(time.Millisecond))
		if err := sleepCtx(ctx, d); err != nil {
			return false, err
		}
	}
}

// refuse reports scripts the runner will not run (a malformed or unsafe tar, a bad
// index.json): FAILED with the reason, journaled and delivered like every signal, so that the
// region fails the machine now and says why instead of waiting for node_timeout. A workload
// run sends nothing: a deployed machine's FAILED is refused by the region (409) for ever.
func (r *run) refuse(reason error) error {
	msg := "Refused the scripts from the region: " + reason.Error()
	if r.info.Workload {
		fmt.Fprintln(r.a.Out, msg)
	} else if err := r.finalSignal(wire.SignalFailed, msg); err != nil {
		return err
	}
	return fmt.Errorf("%w: %w", ErrScriptsRefused, reason)
}

// Order sorts scripts as upstream's runner does: by hardware type (cpu, memory, storage,
// network, gpu, then node), then by name; the sort is stable, so results of one script keep
// the index's order.
func Order(list []*Script) {
	sort.SliceStable(list, func(i, j int) bool {
		a, b := list[i].HardwareType.SortKey(), list[j].HardwareType.SortKey()
		if a != b {
			return a < b
		}
		return list[i].Name < list[j].Name
	})
}

// Batch is a set of scripts that run together after one network-configuration step.
type Batch struct {
	// Scripts run concurrently; a serial batch holds one script.
	Scripts []*Script
	// SharedInstall says the packages are installed once, from the first script, for all of
	// them (an instance group); otherwise each script installs its own before it starts.
	SharedInstall bool
	// Netconf says the batch needs the machine's configured networking applied.
	Netconf bool
}

// Plan splits a phase's scripts (already in run order) into batches as upstream runs them
// (protocol.md §6.3): serial scripts one at a time; then each instance group (all results of
// one name) together; then the "any" pool, the scripts without configured networking first,
// then those with it. Inside a pool, scripts without packages start first (upstream sorts the
// pool by the number of package kinds, then by name).
func Plan(list []*Script) []Batch {
	var out []Batch
	var instance, anyPool []*Script
	for _, s := range list {
		switch s.Parallel {
		case wire.ParallelInstance:
			instance = append(instance, s)
		case wire.ParallelAny:
			anyPool = append(anyPool, s)
		default:
			out = append(out, Batch{Scripts: []*Script{s}, Netconf: s.ApplyConfiguredNetworking})
		}
	}
	done := map[*Script]bool{}
	for _, s := range instance {
		if done[s] {
			continue
		}
		var group []*Script
		for _, o := range instance {
			if !done[o] && o.Name == s.Name {
				group = append(group, o)
				done[o] = true
			}
		}
		out = append(out, Batch{Scripts: group, SharedInstall: true, Netconf: group[0].ApplyConfiguredNetworking})
	}
	var plain, netconf []*Script
	for _, s := range anyPool {
		if s.ApplyConfiguredNetworking {
			netconf = append(netconf, s)
		} else {
			plain = append(plain, s)
		}
	}
	for _, pool := range []struct {
		list    []*Script
		netconf bool
	}{{plain, false}, {netconf, true}} {
		if len(pool.list) == 0 {
			continue
		}
		sorted := append([]*Script(nil), pool.list...)
		sort.SliceStable(sorted, func(i, j int) bool {
			a, b := packageKinds(sorted[i].Packages), packageKinds(sorted[j].Packages)
			if a != b {
				return a < b
			}
			return sorted[i].Name < sorted[j].Name
		})
		out = append(out, Batch{Scripts: sorted, Netconf: pool.netconf})
	}
	return out
}

// packageKinds counts the kinds of packages (apt, snap, url) a script needs.
func packageKinds(p wire.Packages) int {
	n := 0
	for _, k := range []int{len(p.Apt), len(p.Snap), len(p.URL)} {
		if k > 0 {
			n++
		}
	}
	return n
}
