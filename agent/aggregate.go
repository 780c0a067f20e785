package agent

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"maasgo/collectors"
	"maasgo/wire"
)

// An aggregate's member rounds (issue: network tests per interface). A network test whose
// interface is a bond or a bridge over two or more links is run once per member, with the
// other members taken out: a bond's are released from it (written to its bonding/slaves, as
// upstream's test does), a bridge's ports are brought down. A member without carrier fails
// its round without running the test. Every member is put back after its round, whatever
// the round's end (pass, fail, timeout, the runner stopped). The result is one, as the
// region asked: its output holds every round under a header, then the verdict naming the
// members that failed; its exit status is the first failed round's.

// aggregate is an aggregate a network test runs on, and its members.
type aggregate struct {
	name    string
	bond    bool // else a bridge
	members []string
}

// aggregateOf finds the aggregate of a network test's interface: nil when the interface is
// not a bond or bridge over two or more members, or the runner cannot change the network
// (no stack: a machine tree elsewhere), or the test is not a network test.
func (r *run) aggregateOf(s *Script, inv invocation) *aggregate {
	if s.HardwareType != wire.HardwareNetwork || inv.Interface == "" || r.network() == nil || !ifaceName(inv.Interface) {
		return nil
	}
	f := collectors.NewFS(r.a.Roots, nil)
	dir := "/sys/class/net/" + inv.Interface
	ag := &aggregate{name: inv.Interface}
	switch {
	case f.IsDir(dir + "/bonding"):
		slaves, err := r.network().BondSlaves(inv.Interface)
		if err != nil {
			r.logf("%s: %v: the bond is tested whole", inv.Interface, err)
			return nil
		}
		ag.bond, ag.members = true, slaves
	case f.IsDir(dir + "/bridge"):
		ents, err := f.ReadDir(dir + "/brif")
		if err != nil {
			r.logf("%s: list the bridge's ports: %v: the bridge is tested whole", inv.Interface, err)
			return nil
		}
		for _, e := range ents {
			ag.members = append(ag.members, e.Name)
		}
	}
	if len(ag.members) < 2 {
		return nil
	}
	return ag
}

// ifaceName reports whether name can be an interface name (and so a sysfs path element).
func ifaceName(name string) bool {
	return name != "" && len(name) <= 15 && name != "." && name != ".." && !strings.ContainsAny(name, "/ \t\n\x00")
}

// aggregateLock is the lock of an aggregate's rounds: the tests of one aggregate take turns
// (a round takes links out from under the others); tests of other interfaces go on.
func (r *run) aggregateLock(name string) *sync.Mutex {
	r.net.mu.Lock()
	defer r.net.mu.Unlock()
	if r.net.aggregates == nil {
		r.net.aggregates = map[string]*sync.Mutex{}
	}
	l, ok := r.net.aggregates[name]
	if !ok {
		l = &sync.Mutex{}
		r.net.aggregates[name] = l
	}
	return l
}

// runRounds runs a network test once per member of its aggregate (see above) into sink,
// and returns how the test as a whole ended.
func (r *run) runRounds(ctx context.Context, ag *aggregate, o outputFiles, run func() procResult, sink *outputSink) procResult {
	l := r.aggregateLock(ag.name)
	l.Lock()
	defer l.Unlock()
	var total procResult
	var failed []string
	first := true
	for _, m := range ag.members {
		if ctx.Err() != nil {
			break
		}
		others := without(ag.members, m)
		fmt.Fprintf(sink.Stdout, "=== %s: member %s (%s taken out) ===\n", ag.name, m, strings.Join(others, ", "))
		res := r.round(ctx, ag, m, others, run, sink)
		total.Runtime += res.Runtime
		if res.StartErr != nil {
			res.Runtime = total.Runtime
			return res
		}
		if res.ExitStatus != 0 || res.TimedOut {
			failed = append(failed, m)
			if first {
				total.ExitStatus, total.TimedOut = res.ExitStatus, res.TimedOut
				first = false
			}
		}
	}
	if len(failed) == 0 {
		fmt.Fprintf(sink.Stdout, "=== %s: every member passed (%s) ===\n", ag.name, strings.Join(ag.members, ", "))
		return total
	}
	fmt.Fprintf(sink.Stdout, "=== %s: FAILED on member %s ===\n", ag.name, strings.Join(failed, ", "))
	fmt.Fprintf(sink.Stderr, "%s failed through member %s\n", ag.name, strings.Join(failed, ", "))
	// A round that had nothing to check marked the result skipped; a failed round wins.
	if data, err := os.ReadFile(o.Result); err == nil && strings.TrimSpace(string(data)) == "status: skipped" {
		if err := writeReplacing(o.Result, nil); err != nil {
			r.logf("%s: %v", ag.name, err)
		}
	}
	return total
}

// round runs one member's round: the other members taken out, the test run (unless the
// member has no carrier), the members put back.
func (r *run) round(ctx context.Context, ag *aggregate, member string, others []string, run func() procResult, sink *outputSink) procResult {
	if st, err := r.portState(member); err == nil {
		if c, known := st.Connected(); known && !c {
			fmt.Fprintf(sink.Stdout, "FAIL %s  member of %s is %s: the round fails without running the test\n", member, ag.name, st.Describe())
			return procResult{ExitStatus: 1}
		}
	}
	var wasUp []string
	for _, m := range others {
		if st, err := r.portState(m); err == nil {
			if c, _ := st.Connected(); c {
				wasUp = append(wasUp, m)
			}
		}
	}
	out, undo := r.takeOut(ag, others)
	defer func() {
		for _, err := range undo() {
			r.logf("WARNING: %s: put a member back: %v", ag.name, err)
			fmt.Fprintf(sink.Stderr, "WARNING: %s: put a member back: %v\n", ag.name, err)
		}
		// The next round, or test, finds the members as they were: connected again (a link
		// brought up takes a moment), and forwarding.
		r.waitConnected(ctx, wasUp)
		if !ag.bond {
			r.waitForwarding(ctx, ag.name, out)
		}
	}()
	if len(out) < len(others) {
		fmt.Fprintf(sink.Stderr, "%s: only %d of %d other members could be taken out\n", ag.name, len(out), len(others))
	}
	if !ag.bond {
		r.waitForwarding(ctx, ag.name, []string{member})
	}
	return run()
}

// takeOut takes members out of an aggregate and returns those it took out, and what puts
// them back (the errors of what could not be).
func (r *run) takeOut(ag *aggregate, members []string) ([]string, func() []error) {
	nw := r.network()
	var out []string
	for _, m := range members {
		var err error
		if ag.bond {
			err = nw.ReleaseSlave(ag.name, m)
		} else {
			err = nw.SetLinkUp(m, false)
		}
		if err != nil {
			r.logf("%s: take %s out: %v", ag.name, m, err)
			continue
		}
		out = append(out, m)
	}
	return out, func() []error {
		var errs []error
		for _, m := range out {
			var err error
			if ag.bond {
				err = nw.EnslaveSlave(ag.name, m)
			} else {
				err = nw.SetLinkUp(m, true)
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", m, err))
			}
		}
		return errs
	}
}

// memberWait bounds the wait for a member put back to be connected again.
const memberWait = 10 * time.Second

// waitConnected waits until links are connected (up, with carrier), within memberWait.
func (r *run) waitConnected(ctx context.Context, links []string) {
	deadline := time.Now().Add(memberWait)
	for _, l := range links {
		for {
			st, err := r.portState(l)
			if err != nil {
				break
			}
			if c, _ := st.Connected(); c || time.Now().After(deadline) {
				break
			}
			if sleepCtx(ctx, 100*time.Millisecond) != nil {
				return
			}
		}
	}
}

// waitForwarding waits until the bridge's ports forward again: with STP on, a port that
// comes up (or becomes the bridge's only way out) listens and learns for twice the forward
// delay first. The wait is bounded by that, and a port that does not forward by then is
// left to the test.
func (r *run) waitForwarding(ctx context.Context, bridge string, ports []string) {
	f := collectors.NewFS(r.a.Roots, nil)
	if stp, err := f.ReadString("/sys/class/net/" + bridge + "/bridge/stp_state"); err != nil || stp == "0" {
		return
	}
	delay := 15 * time.Second
	if cs, err := f.ReadString("/sys/class/net/" + bridge + "/bridge/forward_delay"); err == nil {
		if n, err := strconv.Atoi(cs); err == nil {
			delay = time.Duration(n) * 10 * time.Millisecond
		}
	}
	deadline := time.Now().Add(2*delay + 2*time.Second)
	for _, p := range ports {
		for {
			st, err := f.ReadString("/sys/class/net/" + p + "/brport/state")
			if err != nil || st == "3" || time.Now().After(deadline) { // 3: forwarding
				break
			}
			if sleepCtx(ctx, 200*time.Millisecond) != nil {
				return
			}
		}
	}
}

func without(list []string, x string) []string {
	var out []string
	for _, s := range list {
		if s != x {
			out = append(out, s)
		}
	}
	return out
}
