package collectors

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"maasgo/collectors/schema"
)

// TestNetnsLinkState builds a veth pair in a network namespace of its own and checks
// link_detected and link_speed as the link comes up, loses its carrier (peer down) and goes
// administratively down. The collection runs in a child process started with
// "ip netns exec", so that /sys/class/net shows the namespace. Needs root and iproute2.
func TestNetnsLinkState(t *testing.T) {
	if os.Getenv(netnsChildEnv) != "" {
		t.Skip("running as the namespace child")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs iproute2")
	}
	ns := fmt.Sprintf("mrs-test-%d", os.Getpid())
	ip := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	ip("netns", "add", ns)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	ip("-n", ns, "link", "add", "va", "type", "veth", "peer", "name", "vb")

	tests := []struct {
		name       string
		setup      [][]string
		wantLink   bool
		wantSpeed  uint64
		wantState  string
		wantDuplex string
	}{
		{"both ends up", [][]string{{"va", "up"}, {"vb", "up"}}, true, 10000, "up", "full"},
		{"peer down: carrier lost", [][]string{{"va", "up"}, {"vb", "down"}}, false, 0, "up", ""},
		{"admin down", [][]string{{"va", "down"}, {"vb", "up"}}, false, 0, "down", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, s := range tt.setup {
				ip("-n", ns, "link", "set", s[0], s[1])
			}
			cmd := exec.Command("ip", "netns", "exec", ns, os.Args[0], "-test.run=^TestNetnsChild$", "-test.count=1")
			cmd.Env = append(os.Environ(), netnsChildEnv+"=va")
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("child: %v\n%s", err, out)
			}
			var res netnsResult
			line := out
			if i := strings.Index(string(out), "{"); i >= 0 {
				line = out[i:]
			}
			if j := strings.Index(string(line), "\n"); j >= 0 {
				line = line[:j]
			}
			if err := json.Unmarshal(line, &res); err != nil {
				t.Fatalf("child output %q: %v", out, err)
			}
			if res.Error != "" {
				t.Fatal(res.Error)
			}
			if c, known := res.PortState.Connected(); !known || c != tt.wantLink || res.PortState.LinkSpeed != tt.wantSpeed {
				t.Errorf("ReadPortState: %+v; want connected %v, link speed %d", res.PortState, tt.wantLink, tt.wantSpeed)
			}
			p := res.Port
			if p.LinkDetected != tt.wantLink || p.LinkSpeed != tt.wantSpeed || p.LinkDuplex != tt.wantDuplex || res.State.State != tt.wantState {
				t.Errorf("link_detected %v link_speed %d duplex %q state %s; want %v %d %q %s",
					p.LinkDetected, p.LinkSpeed, p.LinkDuplex, res.State.State, tt.wantLink, tt.wantSpeed, tt.wantDuplex, tt.wantState)
			}
		})
	}
}

const netnsChildEnv = "MACHINE_RESOURCES_NETNS_CHILD"

type netnsResult struct {
	Port  schema.NetworkCardPort `json:"port"`
	State schema.NetworkState    `json:"state"`
	// PortState is what the runner reports with a network test's result.
	PortState PortState `json:"port_state"`
	Error     string    `json:"error,omitempty"`
}

// TestNetnsChild runs inside the namespace and prints the port and state of one interface.
func TestNetnsChild(t *testing.T) {
	name := os.Getenv(netnsChildEnv)
	if name == "" {
		t.Skip("only run by TestNetnsLinkState")
	}
	var res netnsResult
	defer func() {
		data, _ := json.Marshal(res)
		fmt.Println(string(data))
	}()
	seams, closeSeams, err := LiveSeams()
	if err != nil {
		res.Error = err.Error()
		return
	}
	defer closeSeams()
	env := NewEnv(HostRoots(), seams, nil, nil)
	links, err := env.Links()
	if err != nil {
		res.Error = err.Error()
		return
	}
	carrier := map[string]bool{}
	for _, l := range links {
		carrier[l.Name] = l.Flags&unix.IFF_LOWER_UP != 0
	}
	if res.Port, err = readPort(env, name, carrier); err != nil {
		res.Error = err.Error()
		return
	}
	doc := NewDocument()
	if err := (networksCollector{}).Collect(t.Context(), env, doc); err != nil {
		res.Error = err.Error()
		return
	}
	res.State = doc.Networks[name]
	if res.PortState, err = ReadPortState(env.FS, seams, name); err != nil {
		res.Error = err.Error()
	}
}
