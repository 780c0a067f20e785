package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"

	"maasgo/client"
)

// finalStates reads every machine's status back through the API (machines/ filtered by
// system_id, 50 at a time) and counts them by status name.
func (f *fleet) finalStates(ctx context.Context) map[string]int {
	counts := map[string]int{}
	const batch = 50
	for lo := 0; lo < len(f.machines); lo += batch {
		group := f.machines[lo:min(lo+batch, len(f.machines))]
		var parts []client.Part
		for _, m := range group {
			parts = append(parts, client.Part{Name: "system_id", Value: m.systemID})
		}
		var got []struct {
			SystemID   string `json:"system_id"`
			StatusName string `json:"status_name"`
		}
		err := f.timed(ctx, kindRead, func() error {
			return f.api(ctx, f.cfg.URLs[0], http.MethodGet, "machines/", "", parts, &got)
		})
		if err != nil {
			counts["(unread)"] += len(group)
			continue
		}
		for _, g := range got {
			counts[g.StatusName]++
		}
		if missing := len(group) - len(got); missing > 0 {
			counts["(missing)"] += missing
		}
	}
	return counts
}

// verifyResults reads each played machine's current results back and checks that every result
// it uploaded is stored, once, as passed. It returns how many uploaded results are stored.
func (f *fleet) verifyResults(ctx context.Context) (stored, sent int) {
	sets := []string{"current-commissioning", "current-testing"}
	if f.cfg.Mode == modeDeployed {
		sets = sets[:1]
	}
	for _, m := range f.machines {
		sent += len(m.sent)
		if !m.done {
			continue
		}
		seen := map[int64]int{}
		for _, set := range sets {
			var rs struct {
				Results []struct {
					ID         int64  `json:"id"`
					Name       string `json:"name"`
					StatusName string `json:"status_name"`
				} `json:"results"`
			}
			err := f.timed(ctx, kindRead, func() error {
				return f.api(ctx, f.cfg.URLs[0], http.MethodGet, "nodes/"+m.systemID+"/results/"+set+"/", "", nil, &rs)
			})
			if err != nil {
				continue
			}
			for _, r := range rs.Results {
				if _, ok := m.sent[r.ID]; !ok {
					if r.StatusName == "Pending" || r.StatusName == "Running" {
						f.flowErr(m, "result %d (%s) is %s: the region never listed it to run", r.ID, r.Name, r.StatusName)
					}
					continue
				}
				seen[r.ID]++
				if r.StatusName != "Passed" {
					f.flowErr(m, "result %d (%s) is %s, not Passed", r.ID, r.Name, r.StatusName)
				}
			}
		}
		for id, name := range m.sent {
			switch seen[id] {
			case 1:
				stored++
			case 0:
				f.flowErr(m, "result %d (%s) was uploaded but is not stored", id, name)
			default:
				f.flowErr(m, "result %d (%s) is listed %d times", id, name, seen[id])
			}
		}
	}
	return stored, sent
}

// regionProc is a region process watched during the play.
type regionProc struct {
	pid           string
	before, after procSample
}

// summary is what a run measured.
type summary struct {
	cfg           config
	setupWall     time.Duration
	playWall      time.Duration
	machines      int // set up
	played        int // played to the end
	signals       int
	requests      int
	stats         []kindStats
	errors        []errorCount
	errorTotal    int
	states        map[string]int
	stored, sent  int
	verified      bool
	regions       []regionProc
	allSignals    kindStats // every signal kind together
	selfCPUDuring time.Duration
}

// print writes the report: the run, throughput, latency by kind, errors, final states, and the
// regions' CPU and memory.
func (s *summary) print(w io.Writer) {
	c := s.cfg
	fmt.Fprintf(w, "fleet: %d machines (%s mode, %s runner), %d in flight, ramp-up %s, heartbeat %s, files %d B, %d extra scripts, %d region URL(s)\n",
		c.Machines, c.Mode, c.Runner, c.Concurrency, c.RampUp, c.Heartbeat, c.FileSize, c.Extra, len(c.URLs))
	fmt.Fprintf(w, "setup: %d machines created and tokens read in %.2f s\n", s.machines, s.setupWall.Seconds())
	fmt.Fprintf(w, "play: %d of %d machines played their sequence in %.2f s\n", s.played, s.machines, s.playWall.Seconds())
	secs := s.playWall.Seconds()
	fmt.Fprintf(w, "signals: %d in %.2f s = %.1f signals/s (all metadata requests: %d = %.1f req/s)\n",
		s.signals, secs, float64(s.signals)/secs, s.requests, float64(s.requests)/secs)
	fmt.Fprintf(w, "\n%-10s %8s %9s %9s %9s %9s %9s\n", "kind", "count", "p50 ms", "p95 ms", "p99 ms", "max ms", "mean ms")
	for _, k := range s.stats {
		fmt.Fprintf(w, "%-10s %8d %9s %9s %9s %9s %9s\n", k.Kind, k.Count, ms(k.P50), ms(k.P95), ms(k.P99), ms(k.Max), ms(k.Mean))
	}
	if k := s.allSignals; k.Count > 0 {
		fmt.Fprintf(w, "%-10s %8d %9s %9s %9s %9s %9s\n", "(signals)", k.Count, ms(k.P50), ms(k.P95), ms(k.P99), ms(k.Max), ms(k.Mean))
	}
	fmt.Fprintf(w, "\nerrors: %d\n", s.errorTotal)
	for _, e := range s.errors {
		fmt.Fprintf(w, "  %-10s %-10s %6d  first: %s\n", e.Kind, e.Cause, e.Count, oneLine(e.First, 300))
	}
	var names []string
	for n := range s.states {
		names = append(names, n)
	}
	sort.Strings(names)
	var parts []string
	for _, n := range names {
		parts = append(parts, fmt.Sprintf("%s %d", n, s.states[n]))
	}
	fmt.Fprintf(w, "final states: %s\n", strings.Join(parts, ", "))
	if s.verified {
		fmt.Fprintf(w, "results stored: %d of %d uploaded\n", s.stored, s.sent)
	}
	for _, r := range s.regions {
		cpu := r.after.CPU - r.before.CPU
		perSignal := time.Duration(0)
		if s.signals > 0 {
			perSignal = cpu / time.Duration(s.signals)
		}
		fmt.Fprintf(w, "region pid %s: %.2f s CPU during the play (%.0f%% of one core), %.3f ms CPU per signal, RSS %.1f MiB, peak RSS (VmHWM) %.1f MiB\n",
			r.pid, cpu.Seconds(), 100*cpu.Seconds()/secs, float64(perSignal)/float64(time.Millisecond),
			float64(r.after.RSSKB)/1024, float64(r.after.HWMKB)/1024)
	}
	if len(s.regions) > 1 {
		var cpu time.Duration
		for _, r := range s.regions {
			cpu += r.after.CPU - r.before.CPU
		}
		fmt.Fprintf(w, "regions together: %.2f s CPU, %.3f ms CPU per signal\n", cpu.Seconds(), float64(cpu)/float64(time.Millisecond)/float64(max(1, s.signals)))
	}
	fmt.Fprintf(w, "fleet itself: %.2f s CPU during the play (%.0f%% of one core)\n", s.selfCPUDuring.Seconds(), 100*s.selfCPUDuring.Seconds()/secs)
}

// figures are the one-line figures bench-fleet.sh prints: name=value pairs.
func (s *summary) figures(w io.Writer) {
	secs := s.playWall.Seconds()
	fmt.Fprintf(w, "FIGURE signals_per_s=%.1f\n", float64(s.signals)/secs)
	for _, k := range s.stats {
		if k.Kind == kindResult {
			fmt.Fprintf(w, "FIGURE result_p50_ms=%s result_p99_ms=%s\n", ms(k.P50), ms(k.P99))
		}
	}
	fmt.Fprintf(w, "FIGURE signal_p50_ms=%s signal_p99_ms=%s\n", ms(s.allSignals.P50), ms(s.allSignals.P99))
	if len(s.regions) > 0 {
		var cpu time.Duration
		var hwm int64
		for _, r := range s.regions {
			cpu += r.after.CPU - r.before.CPU
			hwm += r.after.HWMKB
		}
		fmt.Fprintf(w, "FIGURE cpu_ms_per_signal=%.3f\n", float64(cpu)/float64(time.Millisecond)/float64(max(1, s.signals)))
		fmt.Fprintf(w, "FIGURE peak_rss_mib=%.1f\n", float64(hwm)/1024)
	}
	fmt.Fprintf(w, "FIGURE play_s=%.2f errors=%d machines_played=%d\n", secs, s.errorTotal, s.played)
}
