package agent_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"maasgo/agent/agenttest"
	"maasgo/agent/netstate"
	"maasgo/wire"
)

// fakeNetwork is the network stack of a machine tree: it changes the tree's sysfs as the
// kernel would (a link down has no carrier; a released member has no master) and logs each
// change to the file the test's scripts log their runs to.
type fakeNetwork struct {
	mu    sync.Mutex
	sys   string // the tree's /sys
	log   string
	bonds map[string][]string
}

func (f *fakeNetwork) note(t string) {
	l, err := os.OpenFile(f.log, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err == nil {
		fmt.Fprintln(l, t)
		l.Close()
	}
}

func (f *fakeNetwork) setState(name, operstate, carrier string) error {
	dir := filepath.Join(f.sys, "class", "net", name)
	if err := os.WriteFile(filepath.Join(dir, "operstate"), []byte(operstate+"\n"), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "carrier"), []byte(carrier+"\n"), 0o644)
}

func (f *fakeNetwork) Take() (*netstate.State, error) { return &netstate.State{}, nil }
func (f *fakeNetwork) Restore(*netstate.State) error  { return nil }
func (f *fakeNetwork) BondSlaves(b string) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.bonds[b]...), nil
}
func (f *fakeNetwork) Apply(context.Context, *wire.Netplan, netstate.ApplyOptions) error {
	return nil
}

func (f *fakeNetwork) SetLinkUp(name string, up bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.note(fmt.Sprintf("%s up=%v", name, up))
	if up {
		return f.setState(name, "up", "1")
	}
	return f.setState(name, "down", "0")
}

func (f *fakeNetwork) ReleaseSlave(bond, slave string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.note("release " + slave + " from " + bond)
	var kept []string
	for _, s := range f.bonds[bond] {
		if s != slave {
			kept = append(kept, s)
		}
	}
	f.bonds[bond] = kept
	return nil
}

func (f *fakeNetwork) EnslaveSlave(bond, slave string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.note("enslave " + slave + " to " + bond)
	f.bonds[bond] = append(f.bonds[bond], slave)
	return nil
}

// TestAggregateRounds runs network tests on a bridge of two ports, a bond of two members
// one of which has no carrier, and a plain NIC, through a fake network stack: the bridge's
// test runs once per port with the other port down, and passes; the bond's runs for the
// member with carrier only, with the other member released, and fails naming the member
// without carrier; the NIC's runs once; every member is put back after its round, also
// when the test times out.
func TestAggregateRounds(t *testing.T) {
	f := agenttest.NewFake(t)
	h := agenttest.NewHarness(t, f)
	log := filepath.Join(t.TempDir(), "log")
	nw := aggregateTree(t, h, log)
	iface := func(id int, name string) map[string]wire.ResolvedParam {
		return map[string]wire.ResolvedParam{"interface": {Type: "interface",
			Value: map[string]any{"id": id, "name": name, "mac_address": fmt.Sprintf("52:54:00:00:00:%02d", id)}}}
	}
	f.Offer(t, agenttest.Script{
		Body: agenttest.NewScript("t-net", wire.ScriptTypeTesting, "hardware_type: network\nparallel: instance\nparameters: {interface: {type: interface}}",
			fmt.Sprintf(`echo "run $1" >> %s; echo "testing $1"`, log)),
		Results: []map[string]wire.ResolvedParam{iface(1, "eth0"), iface(2, "br0"), iface(3, "bond0")},
	})
	if _, err := h.Run(t); err == nil {
		t.Fatal("the run passed; want bond0's test failed")
	}
	results := map[string]agenttest.Result{}
	for _, r := range f.Results(t) {
		out := string(r.Files["t-net"].Head)
		for _, i := range []string{"eth0", "br0", "bond0"} {
			if strings.Contains(out, "--interface="+i+"\n") {
				results[i] = r
			}
		}
	}
	for _, tt := range []struct {
		iface  string
		status wire.ScriptStatus
		out    string
	}{
		{"eth0", wire.ScriptPassed, "testing --interface=eth0\n"},
		{"br0", wire.ScriptPassed, "=== br0: member eth2 (eth3 taken out) ===\ntesting --interface=br0\n" +
			"=== br0: member eth3 (eth2 taken out) ===\ntesting --interface=br0\n=== br0: every member passed (eth2, eth3) ===\n"},
		{"bond0", wire.ScriptFailed, "=== bond0: member eth4 (eth5 taken out) ===\ntesting --interface=bond0\n" +
			"=== bond0: member eth5 (eth4 taken out) ===\n" +
			"FAIL eth5  member of bond0 is down, no carrier: the round fails without running the test\n" +
			"=== bond0: FAILED on member eth5 ===\n"},
	} {
		r, ok := results[tt.iface]
		if !ok {
			t.Errorf("no result for %s", tt.iface)
			continue
		}
		if got := string(r.Files["t-net.out"].Head); r.Status != tt.status || got != tt.out {
			t.Errorf("%s: %v, output\n%s\nwant %v, output\n%s", tt.iface, r.Status, got, tt.status, tt.out)
		}
	}
	data, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	// The rounds of one aggregate are in order; the three tests run side by side.
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	for iface, want := range map[string][]string{
		"br0":   {"eth3 up=false", "run --interface=br0", "eth3 up=true", "eth2 up=false", "run --interface=br0", "eth2 up=true"},
		"bond0": {"release eth5 from bond0", "run --interface=bond0", "enslave eth5 to bond0"},
		"eth0":  {"run --interface=eth0"},
	} {
		var got []string
		for _, l := range lines {
			if strings.Contains(l, iface) || (iface == "br0" && strings.HasPrefix(l, "eth") && !strings.Contains(l, "bond")) {
				got = append(got, l)
			}
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s: the log says\n%s\nwant\n%s", iface, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
	if got := nw.bonds["bond0"]; len(got) != 2 {
		t.Errorf("bond0's members afterwards: %v", got)
	}
}

// aggregateTree makes the machine tree of the aggregate tests: eth0; br0 over eth2 and eth3;
// bond0 over eth4 and eth5 (without carrier); the fake network stack logs to log.
func aggregateTree(t *testing.T, h *agenttest.Harness, log string) *fakeNetwork {
	sysNet := filepath.Join(h.Agent.Roots.Sys, "class", "net")
	for i, l := range []struct {
		name, carrier, master string
		mac                   int
	}{
		{"eth0", "1", "", 1}, {"eth2", "1", "br0", 12}, {"eth3", "1", "br0", 13}, {"eth4", "1", "bond0", 14}, {"eth5", "0", "bond0", 15},
		{"br0", "1", "", 2}, {"bond0", "1", "", 3},
	} {
		dir := filepath.Join(sysNet, l.name)
		operstate := map[string]string{"1": "up", "0": "down"}[l.carrier]
		mustWrite(t, filepath.Join(dir, "operstate"), operstate+"\n")
		mustWrite(t, filepath.Join(dir, "carrier"), l.carrier+"\n")
		mustWrite(t, filepath.Join(dir, "ifindex"), fmt.Sprintf("%d\n", i+2))
		mustWrite(t, filepath.Join(dir, "address"), fmt.Sprintf("52:54:00:00:00:%02d\n", l.mac))
		if l.master != "" {
			mustWrite(t, filepath.Join(dir, "brport", "state"), "3\n")
		}
	}
	mustWrite(t, filepath.Join(sysNet, "br0", "bridge", "stp_state"), "0\n")
	for _, p := range []string{"eth2", "eth3"} {
		mustWrite(t, filepath.Join(sysNet, "br0", "brif", p, "state"), "3\n")
	}
	mustWrite(t, filepath.Join(sysNet, "bond0", "bonding", "mode"), "active-backup 1\n")
	nw := &fakeNetwork{sys: h.Agent.Roots.Sys, log: log, bonds: map[string][]string{"bond0": {"eth4", "eth5"}}}
	h.Agent.Network = nw
	return nw

}

// TestAggregateRoundTimeout: a bridge's test that times out in each round has every port put
// back after its round.
func TestAggregateRoundTimeout(t *testing.T) {
	f := agenttest.NewFake(t)
	h := agenttest.NewHarness(t, f)
	log := filepath.Join(t.TempDir(), "log")
	aggregateTree(t, h, log)
	f.Offer(t, agenttest.Script{
		Body: agenttest.NewScript("t-hang", wire.ScriptTypeTesting, "hardware_type: network\ntimeout: 1\nparameters: {interface: {type: interface}}",
			fmt.Sprintf(`echo "run $1" >> %s; sleep 30`, log)),
		Results: []map[string]wire.ResolvedParam{{"interface": {Type: "interface",
			Value: map[string]any{"id": 2, "name": "br0", "mac_address": "52:54:00:00:00:02"}}}},
	})
	if _, err := h.Run(t); err == nil {
		t.Fatal("the run passed; want the test timed out")
	}
	if r := f.Results(t); len(r) != 1 || r[0].Status != wire.ScriptTimedOut {
		t.Errorf("results %+v; want one timed out", r)
	}
	data, _ := os.ReadFile(log)
	want := "eth3 up=false\nrun --interface=br0\neth3 up=true\neth2 up=false\nrun --interface=br0\neth2 up=true\n"
	if string(data) != want {
		t.Errorf("the log says\n%s\nwant\n%s", data, want)
	}
}
