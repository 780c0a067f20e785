package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	"gopkg.in/yaml.v3"

	"maasgo/agent/netstate"
	"maasgo/internal/netnstest"
	"maasgo/region/regiontest"
	"maasgo/region/store/storetest"
)

// e2eNet is the network of TestNetworkE2E: a machine namespace with two NICs (eth0, eth1)
// and a bridge br0 over two more (eth2, eth3), each a veth whose peer is in the router
// namespace; the router has an address (.1: DHCP server, region, throughput peer) and a
// gateway (.254) on each subnet, and plays the internet at 203.0.113.10.
//
//	machine                      router
//	eth0 10.71.0.2/24  ───────── r0  10.71.0.1 + .254/24  DHCP, region proxy :5240, throughput :5249
//	eth1 10.71.1.2/24  ───────── r1  10.71.1.1 + .254/24  DHCP
//	br0  10.71.2.2/24            rbr 10.71.2.1 + .254/24  DHCP (bridge; r2, r3 isolated ports)
//	 ├ eth2            ───────── r2
//	 └ eth3            ───────── r3
//	                             lo 203.0.113.10/32: HTTP "internet"
type e2eNet struct {
	machine, router *netnstest.Netns
}

const (
	e2eInternet    = "203.0.113.10"
	e2eUnreachable = "203.0.113.99" // routed nowhere: the router answers "net unreachable"
	e2eRegionIP    = "10.71.0.1"
)

func newE2ENet(t *testing.T) *e2eNet {
	t.Helper()
	n := &e2eNet{machine: netnstest.New(t), router: netnstest.New(t)}
	m, r := n.machine, n.router
	// Whatever the machine left running goes before the namespaces do.
	t.Cleanup(func() { killNetnsProcs(t, m.Name); killNetnsProcs(t, r.Name) })
	netnstest.Veth(t, m, "eth0", "10.71.0.2/24", r, "r0", "10.71.0.1/24")
	netnstest.Veth(t, m, "eth1", "10.71.1.2/24", r, "r1", "10.71.1.1/24")
	netnstest.Veth(t, m, "eth2", "", r, "r2", "")
	netnstest.Veth(t, m, "eth3", "", r, "r3", "")
	m.IP(t, "link", "add", "br0", "type", "bridge", "stp_state", "0", "forward_delay", "0")
	for _, p := range []string{"eth2", "eth3"} {
		m.IP(t, "link", "set", p, "master", "br0")
	}
	m.IP(t, "addr", "add", "10.71.2.2/24", "dev", "br0")
	m.IP(t, "link", "set", "br0", "up")
	r.IP(t, "link", "add", "rbr", "type", "bridge", "stp_state", "0", "forward_delay", "0")
	for _, p := range []string{"r2", "r3"} {
		r.IP(t, "link", "set", p, "master", "rbr")
		// The machine's bridge joins eth2 and eth3 already: isolated ports keep the router's
		// bridge from closing the loop.
		r.IP(t, "link", "set", "dev", p, "type", "bridge_slave", "isolated", "on")
	}
	r.IP(t, "addr", "add", "10.71.2.1/24", "dev", "rbr")
	r.IP(t, "link", "set", "rbr", "up")
	for _, gw := range []struct{ addr, dev string }{{"10.71.0.254/24", "r0"}, {"10.71.1.254/24", "r1"}, {"10.71.2.254/24", "rbr"}} {
		r.IP(t, "addr", "add", gw.addr, "dev", gw.dev)
	}
	r.IP(t, "addr", "add", e2eInternet+"/32", "dev", "lo")
	if out, err := exec.Command("ip", "netns", "exec", r.Name, "sysctl", "-qw", "net.ipv4.ip_forward=1").CombinedOutput(); err != nil {
		t.Fatalf("router forwarding: %v %s", err, out)
	}
	// The configured networking renders the addresses the machine had while commissioning
	// as DHCP: the router leases each link the same address back, with its gateway.
	for i, dev := range []string{"r0", "r1", "rbr"} {
		netnstest.DHCPServer{
			Offer:  netip.MustParsePrefix(fmt.Sprintf("10.71.%d.2/24", i)),
			Router: netip.MustParseAddr(fmt.Sprintf("10.71.%d.254", i)),
			Server: netip.MustParseAddr(fmt.Sprintf("10.71.%d.1", i)),
			Lease:  600,
		}.Serve(t, r, dev)
	}
	return n
}

// killNetnsProcs kills the processes still running in a namespace.
func killNetnsProcs(t *testing.T, ns string) {
	out, err := exec.Command("ip", "netns", "pids", ns).Output()
	if err != nil {
		return
	}
	for _, f := range strings.Fields(string(out)) {
		var pid int
		if _, err := fmt.Sscan(f, &pid); err == nil && pid > 1 {
			t.Logf("killing process %d left in namespace %s", pid, ns)
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// listenIn opens a TCP listener inside ns (it stays there when used from other goroutines).
func listenIn(t *testing.T, ns *netnstest.Netns, addr string) net.Listener {
	t.Helper()
	var l net.Listener
	if err := ns.Do(func() (err error) { l, err = net.Listen("tcp", addr); return err }); err != nil {
		t.Fatalf("listen on %s in %s: %v", addr, ns.Name, err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// proxy forwards every connection accepted on l to target (dialled from the host namespace:
// the region on loopback).
func proxy(l net.Listener, target string) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			u, err := net.Dial("tcp", target)
			if err != nil {
				return
			}
			defer u.Close()
			done := make(chan struct{}, 2)
			go func() { io.Copy(u, c); u.(*net.TCPConn).CloseWrite(); done <- struct{}{} }()
			go func() { io.Copy(c, u); c.(*net.TCPConn).CloseWrite(); done <- struct{}{} }()
			<-done
			<-done
		}()
	}
}

// lldpFrame builds an LLDP frame as a switch port sends it: chassis (MAC), port (interface
// name), TTL, port description, system name, port VLAN id (802.1 TLV), end.
func lldpFrame(src net.HardwareAddr, port, sysName string, vlan uint16) []byte {
	f := append([]byte{0x01, 0x80, 0xc2, 0x00, 0x00, 0x0e}, src...)
	f = append(f, 0x88, 0xcc)
	tlv := func(typ int, v []byte) {
		f = binary.BigEndian.AppendUint16(f, uint16(typ<<9|len(v)))
		f = append(f, v...)
	}
	tlv(1, append([]byte{4}, src...))               // chassis id: MAC address
	tlv(2, append([]byte{5}, port...))              // port id: interface name
	tlv(3, binary.BigEndian.AppendUint16(nil, 120)) // TTL
	tlv(4, []byte("e2e "+port))                     // port description
	tlv(5, []byte(sysName))                         // system name
	tlv(127, binary.BigEndian.AppendUint16([]byte{0x00, 0x80, 0xc2, 0x01}, vlan))
	tlv(0, nil)
	return f
}

// sendLLDP sends an LLDP frame from every router port of the machine's NICs every 500 ms
// until ctx ends, as switches do (faster: the listener waits less than 30 s).
func (n *e2eNet) sendLLDP(ctx context.Context, t *testing.T) {
	type port struct {
		fd    int
		to    *unix.SockaddrLinklayer
		frame []byte
	}
	var ports []port
	err := n.router.Do(func() error {
		for i, name := range []string{"r0", "r1", "r2", "r3"} {
			ifi, err := net.InterfaceByName(name)
			if err != nil {
				return err
			}
			fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				return err
			}
			to := &unix.SockaddrLinklayer{Ifindex: ifi.Index, Halen: 6}
			copy(to.Addr[:], []byte{0x01, 0x80, 0xc2, 0x00, 0x00, 0x0e})
			ports = append(ports, port{fd, to, lldpFrame(ifi.HardwareAddr, name, "e2e-router", uint16(100+i))})
		}
		return nil
	})
	if err != nil {
		t.Fatalf("LLDP sockets: %v", err)
	}
	go func() {
		defer func() {
			for _, p := range ports {
				unix.Close(p.fd)
			}
		}()
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		for {
			for _, p := range ports {
				unix.Sendto(p.fd, p.frame, 0, p.to) // a port that is down drops it
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
}

// e2eMachine is the machine the region knows, run by the real agent in the machine namespace.
type e2eMachine struct {
	n     *e2eNet
	r     *regiontest.Region
	id    string
	creds string
	bin   string
}

// run runs the agent once in the machine namespace (commissioning or testing, whatever the
// region has for it) and checks that the namespace's network is as it was afterwards.
func (m *e2eMachine) run(t *testing.T, what string) string {
	t.Helper()
	stack := netstate.Stack{Do: m.n.machine.Do}
	before, err := stack.Take()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", m.n.machine.Name, m.bin, "run", "--config", m.creds, t.TempDir())
	cmd.Env = append(os.Environ(), "PATH=/usr/sbin:/usr/bin:/sbin:/bin")
	start := time.Now()
	out, err := cmd.CombinedOutput()
	t.Logf("%s: the agent ran for %s", what, time.Since(start).Round(100*time.Millisecond))
	if err != nil {
		// Failed tests make the agent exit non-zero; the results say more.
		t.Logf("%s: agent: %v", what, err)
	}
	after, err := stack.Take()
	if err != nil {
		t.Fatal(err)
	}
	if d := netstate.Diff(before, after); len(d) > 0 {
		t.Errorf("%s: the machine's network changed:\n  %s\nagent output:\n%s", what, strings.Join(d, "\n  "), out)
	}
	return string(out)
}

// result is one result of a run, as the API gives it.
type e2eResult struct {
	name, iface, status string
	linkConnected       any
	output              string
	results             map[string]any
}

// results reads the machine's current results of a kind ("commissioning", "testing").
func (m *e2eMachine) results(t *testing.T, kind string) []e2eResult {
	t.Helper()
	s := m.r.Client().Must(t, 200, "GET", "api/2.0/nodes/"+m.id+"/results/current-"+kind+"/", url.Values{"include_output": {"true"}}).(map[string]any)
	var out []e2eResult
	for _, x := range s["results"].([]any) {
		res := x.(map[string]any)
		r := e2eResult{name: res["name"].(string), status: fmt.Sprint(res["status_name"]), linkConnected: res["link_connected"],
			output: decode(t, res["output"])}
		if i, ok := res["interface"].(map[string]any); ok {
			r.iface = fmt.Sprint(i["name"])
		}
		var doc struct {
			Results map[string]any `yaml:"results"`
		}
		if y, _ := res["result"].(string); y != "" {
			if err := yaml.Unmarshal([]byte(decode(t, y)), &doc); err != nil {
				t.Errorf("%s result file: %v", r.name, err)
			}
		}
		r.results = doc.Results
		out = append(out, r)
	}
	return out
}

// byKey indexes results by "name iface".
func byKey(rs []e2eResult) map[string]e2eResult {
	out := map[string]e2eResult{}
	for _, r := range rs {
		out[strings.TrimSpace(r.name+" "+r.iface)] = r
	}
	return out
}

func (m *e2eMachine) test(t *testing.T, form url.Values) {
	t.Helper()
	form.Set("op", "test")
	m.r.Client().Must(t, 200, "POST", "api/2.0/machines/"+m.id+"/", form)
}

func (m *e2eMachine) interfaces(t *testing.T) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	for _, x := range m.r.Client().Must(t, 200, "GET", "api/2.0/nodes/"+m.id+"/interfaces/", nil).([]any) {
		i := x.(map[string]any)
		out[fmt.Sprint(i["name"])] = i
	}
	return out
}

// onlyFailed checks that test passed on every interface but failed, where it failed and its
// output says why.
func (m *e2eMachine) onlyFailed(t *testing.T, test, failed, why string) {
	t.Helper()
	rs := byKey(m.results(t, "testing"))
	for _, i := range []string{"eth0", "eth1", "br0"} {
		res := rs[test+" "+i]
		want := "Passed"
		if i == failed {
			want = "Failed"
		}
		if res.status != want {
			t.Errorf("%s %s: %s; want %s\n%s", test, i, res.status, want, res.output)
		}
		if i == failed && !strings.Contains(res.output, why) {
			t.Errorf("%s %s does not say %q:\n%s", test, i, why, res.output)
		}
	}
}

// e2eCommissioning are the commissioning scripts the test selects besides the ones that
// always run: the inventory and the LLDP neighbours are what it checks.
const e2eCommissioning = "20-maas-03-machine-resources,maas-lldp-neighbours"

// TestNetworkE2E builds a small network of namespaces (e2eNet) and runs the real agent in
// the machine namespace against the real region: commissioning with the network-validation
// tests and the throughput test stores every interface's link state and speeds, the LLDP
// neighbours the router sends, and passes every test; then one peer down, a gateway
// removed, one bridge member's peer down and an unreachable URL each fail the right test on
// the right interface, and after every run the machine's links, addresses, routes and
// memberships are as they were.
func TestNetworkE2E(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the agent against the region several times (about a minute)")
	}
	n := newE2ENet(t)
	bin := regiontest.Build(t, "maasgo/cmd/maas-run-scripts")
	r := regiontest.Start(t, storetest.SQLite(t), "--monitor-interval", "1h")
	u, _ := url.Parse(r.URL)
	go proxy(listenIn(t, n.router, "0.0.0.0:5240"), u.Host)

	// The internet: an HTTP server in the router namespace.
	web := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") }),
		ReadHeaderTimeout: 10 * time.Second}
	go web.Serve(listenIn(t, n.router, e2eInternet+":80"))
	t.Cleanup(func() { web.Close() })

	// The throughput peer.
	tp := exec.Command("ip", "netns", "exec", n.router.Name, bin, "throughput", "serve", "--listen", e2eRegionIP+":5249")
	tpOut, err := tp.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := tp.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tp.Process.Signal(os.Interrupt); tp.Wait() })
	if !bufio.NewScanner(tpOut).Scan() { // it says it listens
		t.Fatal("throughput serve did not start")
	}
	go io.Copy(io.Discard, tpOut)

	admin := r.Client()
	mm := admin.Must(t, 200, "POST", "api/2.0/machines/", url.Values{"hostname": {"e2e"}, "architecture": {"amd64"}, "commission": {"false"}}).(map[string]any)
	m := &e2eMachine{n: n, r: r, id: mm["system_id"].(string), bin: bin}
	tok := admin.Must(t, 200, "GET", "api/2.0/machines/"+m.id+"/", url.Values{"op": {"get_token"}}).(map[string]any)
	m.creds = filepath.Join(t.TempDir(), "creds.yaml")
	cfg := fmt.Sprintf("datasource:\n  MAAS:\n    metadata_url: http://%s:5240/MAAS/metadata/\n    consumer_key: %s\n    token_key: %s\n    token_secret: %s\n",
		e2eRegionIP, tok["consumer_key"], tok["token_key"], tok["token_secret"])
	if err := os.WriteFile(m.creds, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	good := "http://" + e2eInternet + "/"
	start := time.Now()
	var mu sync.Mutex
	step := func(name string, f func(t *testing.T)) {
		mu.Lock()
		defer mu.Unlock()
		s := time.Now()
		ok := t.Run(name, f)
		t.Logf("%s: %s (%s since the start)", name, time.Since(s).Round(100*time.Millisecond), time.Since(start).Round(time.Second))
		if !ok && name == "commission" {
			t.FailNow()
		}
	}

	// 1. All connected: commissioning, with the network-validation tag and the throughput
	// test, passes everything and stores link state, speeds and neighbours.
	step("commission", func(t *testing.T) {
		lctx, stop := context.WithCancel(context.Background())
		defer stop()
		n.sendLLDP(lctx, t)
		admin.Must(t, 200, "POST", "api/2.0/machines/"+m.id+"/", url.Values{"op": {"commission"},
			"commissioning_scripts":           {e2eCommissioning},
			"testing_scripts":                 {"network-validation,network-throughput"},
			"maas-lldp-neighbours_wait":       {"3s"},
			"internet-connectivity_url":       {good},
			"network-throughput_peer":         {e2eRegionIP},
			"network-throughput_duration":     {"1s"},
			"network-throughput_min-fraction": {"0"},
		})
		out := m.run(t, "commission")
		rs := m.results(t, "testing")
		want := map[string]bool{}
		for _, test := range []string{"internet-connectivity", "gateway-connectivity", "rack-controller-connectivity", "network-throughput"} {
			for _, i := range []string{"eth0", "eth1", "br0"} {
				want[test+" "+i] = true
			}
		}
		for _, res := range rs {
			k := res.name + " " + res.iface
			if !want[k] {
				t.Errorf("unexpected test result %s (%s)", k, res.status)
				continue
			}
			delete(want, k)
			if res.status != "Passed" {
				t.Errorf("%s: %s, want Passed; link_connected %v\n%s", k, res.status, res.linkConnected, res.output)
			}
			if res.linkConnected != true {
				t.Errorf("%s: link_connected %v, want true", k, res.linkConnected)
			}
			if res.name == "network-throughput" {
				for _, f := range []string{"send_mbps", "receive_mbps"} {
					if v, err := strconv.ParseFloat(fmt.Sprint(res.results[f]), 64); err != nil || v <= 0 {
						t.Errorf("%s: %s = %v, want a figure", k, f, res.results[f])
					}
				}
				t.Logf("%s: %v Mbit/s out, %v Mbit/s in", k, res.results["send_mbps"], res.results["receive_mbps"])
			}
		}
		for k := range want {
			t.Errorf("no test result %s", k)
		}
		for _, res := range m.results(t, "commissioning") {
			if res.status != "Passed" {
				t.Errorf("commissioning %s: %s\n%s", res.name, res.status, res.output)
			}
		}
		ifs := m.interfaces(t)
		for _, name := range []string{"eth0", "eth1", "eth2", "eth3", "br0"} {
			i, ok := ifs[name]
			if !ok {
				t.Errorf("no interface %s: %v", name, ifs)
				continue
			}
			// A veth reports 10 Gbit/s; a bridge, its fastest port's speed.
			if got := fmt.Sprint(i["link_connected"], " ", i["link_speed"]); got != "true 10000" {
				t.Errorf("%s: link_connected, link_speed %s; want true 10000", name, got)
			}
		}
		for i, name := range []string{"eth0", "eth1", "eth2", "eth3"} {
			var got []string
			for _, nb := range ifs[name]["neighbours"].([]any) {
				nb := nb.(map[string]any)
				got = append(got, fmt.Sprint(nb["system_name"], " ", nb["port_id"], " ", nb["vlan"]))
			}
			if want := fmt.Sprintf("e2e-router r%d %d", i, 100+i); strings.Join(got, "; ") != want {
				t.Errorf("%s neighbours %q; want %q", name, got, want)
			}
		}
		if t.Failed() {
			t.Logf("agent output:\n%s", out)
		}
	})

	// 2. One peer down: that interface fails with link_connected false, the others pass.
	step("peer down", func(t *testing.T) {
		n.router.IP(t, "link", "set", "r1", "down")
		defer n.router.IP(t, "link", "set", "r1", "up")
		m.test(t, url.Values{"testing_scripts": {"gateway-connectivity,rack-controller-connectivity"}})
		out := m.run(t, "peer down")
		rs := byKey(m.results(t, "testing"))
		for _, test := range []string{"gateway-connectivity", "rack-controller-connectivity"} {
			for _, i := range []string{"eth0", "eth1", "br0"} {
				res, ok := rs[test+" "+i]
				switch {
				case !ok:
					t.Errorf("no result %s %s", test, i)
				case i == "eth1" && (res.status != "Failed" || res.linkConnected != false):
					t.Errorf("%s eth1: %s, link_connected %v; want Failed, false\n%s", test, res.status, res.linkConnected, res.output)
				case i != "eth1" && res.status != "Passed":
					t.Errorf("%s %s: %s; want Passed\n%s", test, i, res.status, res.output)
				}
			}
		}
		if got := m.interfaces(t)["eth1"]; got["link_connected"] != false {
			t.Errorf("eth1 after the test: link_connected %v, want false", got["link_connected"])
		}
		if t.Failed() {
			t.Logf("agent output:\n%s", out)
		}
	})

	// 3. A gateway removed: gateway-connectivity fails on that interface only.
	step("gateway removed", func(t *testing.T) {
		n.router.IP(t, "addr", "del", "10.71.1.254/24", "dev", "r1")
		defer n.router.IP(t, "addr", "add", "10.71.1.254/24", "dev", "r1")
		m.test(t, url.Values{"testing_scripts": {"gateway-connectivity"}})
		out := m.run(t, "gateway removed")
		m.onlyFailed(t, "gateway-connectivity", "eth1", "10.71.1.254")
		if got := m.interfaces(t)["eth1"]; got["link_connected"] != true {
			t.Errorf("eth1 after a test with its peer back up: link_connected %v, want true", got["link_connected"])
		}
		if t.Failed() {
			t.Logf("agent output:\n%s", out)
		}
	})

	// 4. One bridge member's peer down: the bridge's tests fail and name the member (the
	// runner tests an aggregate's members one at a time).
	step("bridge member down", func(t *testing.T) {
		n.router.IP(t, "link", "set", "r3", "down")
		defer n.router.IP(t, "link", "set", "r3", "up")
		m.test(t, url.Values{"testing_scripts": {"gateway-connectivity"}})
		out := m.run(t, "bridge member down")
		m.onlyFailed(t, "gateway-connectivity", "br0", "=== br0: FAILED on member eth3 ===")
		if t.Failed() {
			t.Logf("agent output:\n%s", out)
		}
	})

	// 5. An unreachable URL in the list: internet-connectivity fails naming it.
	step("unreachable url", func(t *testing.T) {
		bad := "http://" + e2eUnreachable + "/"
		m.test(t, url.Values{"testing_scripts": {"internet-connectivity"}, "internet-connectivity_url": {good + "," + bad}})
		out := m.run(t, "unreachable url")
		rs := byKey(m.results(t, "testing"))
		for _, i := range []string{"eth0", "eth1", "br0"} {
			res := rs["internet-connectivity "+i]
			if res.status != "Failed" {
				t.Errorf("internet-connectivity %s: %s; want Failed\n%s", i, res.status, res.output)
			}
			var failed, ok bool
			for _, l := range strings.Split(res.output, "\n") {
				failed = failed || strings.HasPrefix(l, "FAIL") && strings.Contains(l, e2eUnreachable)
				ok = ok || strings.HasPrefix(l, "OK") && strings.Contains(l, e2eInternet)
			}
			if !failed || !ok {
				t.Errorf("internet-connectivity %s: want a FAIL line naming %s and an OK line for %s:\n%s", i, bad, good, res.output)
			}
		}
		if t.Failed() {
			t.Logf("agent output:\n%s", out)
		}
	})
	t.Logf("the whole test took %s", time.Since(start).Round(time.Second))
}
