package netcheck

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"maasgo/internal/netnstest"
)

// The tests below send real packets between two network namespaces of their own: a
// "machine" with three NICs (m0, m1, m2; veth pairs) and a "router" at their other ends
// (r0, r1, r2) that is the gateway of m0 and m1 (IPv4 and IPv6) and plays the internet: on
// its loopback it has 192.0.2.80 and 2001:db8:ff::80 with an HTTP server (port 80), an HTTPS
// server (443, with a certificate of the test's own CA) and a DNS server (53) that answers
// for *.test. m2 has an address but no gateway. The router's servers are opened in this
// process, on a thread moved into its namespace; netcheck runs in a child process (this test
// binary) started with "ip netns exec", so that it sees the machine's links, routes and
// resolv.conf (/etc/netns/<machine>/resolv.conf names the router's DNS server). Nothing
// leaves the two namespaces.

// childEnv makes the test binary run netcheck (TestNetcheckChild) with the options it holds.
const childEnv = "MAASGO_NETCHECK_CHILD"

// childRequest is what the child runs: netcheck's Run, or (SocketOf) only one ping, to report
// which kind of ICMP socket it used.
type childRequest struct {
	Options  Options
	SocketOf string
}

// childReply is what the child prints after its output, on a line of its own.
type childReply struct {
	Report Report
	Out    string
	Err    string
	Raw    bool
}

func TestNetcheckChild(t *testing.T) {
	spec := os.Getenv(childEnv)
	if spec == "" {
		t.Skip("runs only as the child of the namespace tests")
	}
	var req childRequest
	if err := json.Unmarshal([]byte(spec), &req); err != nil {
		t.Fatal(err)
	}
	var rep childReply
	if req.SocketOf != "" {
		b := &binder{ifname: req.Options.Interface}
		dst := netip.MustParseAddr(req.SocketOf)
		p, err := b.openPinger(dst)
		if err != nil {
			rep.Err = err.Error()
		} else {
			rep.Raw = p.raw
			p.Close()
			if _, err := b.ping(context.Background(), dst); err != nil {
				rep.Err = err.Error()
			}
		}
	} else {
		var out bytes.Buffer
		r, err := Run(context.Background(), req.Options, &out)
		rep.Report, rep.Out = r, out.String()
		if err != nil {
			rep.Err = err.Error()
		}
	}
	b, _ := json.Marshal(rep)
	fmt.Printf("\nCHILD-REPLY %s\n", b)
}

// topo is the test's two namespaces and the router's servers.
type topo struct {
	machine string
	mns     *netnstest.Netns
	router  *netnstest.Netns
	caFile  string
	mu      sync.Mutex
	peers   []string // remote addresses the HTTP server saw
}

func newTopo(t *testing.T) *topo {
	t.Helper()
	m, r := netnstest.New(t), netnstest.New(t)
	tp := &topo{machine: m.Name, mns: m, router: r}
	// No duplicate address detection (links would wait a second for their link-local
	// addresses), and the router keeps its IPv6 addresses while a link is down.
	for _, ns := range []*netnstest.Netns{m, r} {
		err := ns.Do(func() error {
			if err := os.WriteFile("/proc/sys/net/ipv6/conf/default/accept_dad", []byte("0"), 0o644); err != nil {
				return err
			}
			return os.WriteFile("/proc/sys/net/ipv6/conf/default/keep_addr_on_down", []byte("1"), 0o644)
		})
		if err != nil {
			t.Fatalf("sysctl in %s: %v", ns.Name, err)
		}
	}
	for i := range 3 {
		mi, ri := fmt.Sprintf("m%d", i), fmt.Sprintf("r%d", i)
		netnstest.Veth(t, m, mi, fmt.Sprintf("10.61.%d.2/24", i), r, ri, fmt.Sprintf("10.61.%d.1/24", i))
		m.IP(t, "addr", "add", fmt.Sprintf("2001:db8:%d::2/64", i), "dev", mi, "nodad")
		r.IP(t, "addr", "add", fmt.Sprintf("2001:db8:%d::1/64", i), "dev", ri, "nodad")
	}
	r.IP(t, "addr", "add", "192.0.2.80/32", "dev", "lo")
	r.IP(t, "addr", "add", "2001:db8:ff::80/128", "dev", "lo")
	// Two default routes on the machine, one per NIC; m2 has none.
	m.IP(t, "route", "add", "default", "via", "10.61.0.1", "dev", "m0", "metric", "100")
	m.IP(t, "route", "add", "default", "via", "10.61.1.1", "dev", "m1", "metric", "200")
	m.IP(t, "-6", "route", "add", "default", "via", "2001:db8:0::1", "dev", "m0", "metric", "100")
	m.IP(t, "-6", "route", "add", "default", "via", "2001:db8:1::1", "dev", "m1", "metric", "200")

	etc := filepath.Join("/etc/netns", m.Name)
	if err := os.MkdirAll(etc, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(etc) })
	if err := os.WriteFile(filepath.Join(etc, "resolv.conf"), []byte("nameserver 192.0.2.80\noptions timeout:1 attempts:1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tp.serve(t)
	return tp
}

// serve opens the router's servers: listeners made on a thread moved into the router's
// namespace belong to it, whichever thread serves them afterwards.
func (tp *topo) serve(t *testing.T) {
	cert, caPEM := testCert(t)
	tp.caFile = filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(tp.caFile, caPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	var lns []net.Listener
	var dns []net.PacketConn
	err := tp.router.Do(func() error {
		for _, a := range []string{"192.0.2.80:80", "[2001:db8:ff::80]:80", "192.0.2.80:443"} {
			ln, err := net.Listen("tcp", a)
			if err != nil {
				return err
			}
			lns = append(lns, ln)
		}
		for _, a := range []string{"192.0.2.80:53", "[2001:db8:ff::80]:53"} {
			pc, err := net.ListenPacket("udp", a)
			if err != nil {
				return err
			}
			dns = append(dns, pc)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("router's servers: %v", err)
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tp.mu.Lock()
		tp.peers = append(tp.peers, r.RemoteAddr)
		tp.mu.Unlock()
		if r.URL.Path == "/moved" {
			http.Redirect(w, r, "/", http.StatusFound)
			return
		}
		fmt.Fprintln(w, "the internet")
	})
	for i, ln := range lns {
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
		if i == 2 {
			srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
			go srv.ServeTLS(ln, "", "")
		} else {
			go srv.Serve(ln)
		}
		t.Cleanup(func() { srv.Close() })
	}
	for _, pc := range dns {
		go serveDNS(pc)
		t.Cleanup(func() { pc.Close() })
	}
}

// serveDNS answers A and AAAA queries for names under .test with the router's internet
// addresses, and anything else with NXDOMAIN.
func serveDNS(pc net.PacketConn) {
	buf := make([]byte, 1500)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			return
		}
		if ans := dnsAnswer(buf[:n]); ans != nil {
			pc.WriteTo(ans, from)
		}
	}
}

func dnsAnswer(q []byte) []byte {
	if len(q) < 12 || q[2]&0x80 != 0 || binary.BigEndian.Uint16(q[4:]) != 1 {
		return nil
	}
	var labels []string
	i := 12
	for i < len(q) && q[i] != 0 {
		l := int(q[i])
		if l > 63 || i+1+l > len(q) {
			return nil
		}
		labels = append(labels, strings.ToLower(string(q[i+1:i+1+l])))
		i += 1 + l
	}
	if i+5 > len(q) {
		return nil
	}
	qtype := binary.BigEndian.Uint16(q[i+1:])
	question := q[12 : i+5]
	resp := append([]byte(nil), q[:2]...)
	resp = append(resp, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0) // response, RD, RA; one question
	resp = append(resp, question...)
	if len(labels) < 2 || labels[len(labels)-1] != "test" {
		resp[3] |= 3 // NXDOMAIN
		return resp
	}
	var rdata []byte
	switch qtype {
	case 1:
		a := netip.MustParseAddr("192.0.2.80").As4()
		rdata = a[:]
	case 28:
		a := netip.MustParseAddr("2001:db8:ff::80").As16()
		rdata = a[:]
	default:
		return resp
	}
	resp[7] = 1                                       // one answer
	resp = append(resp, 0xc0, 12)                     // the question's name
	resp = binary.BigEndian.AppendUint16(resp, qtype) // type
	resp = append(resp, 0, 1, 0, 0, 0, 60)            // class IN, TTL 60
	resp = binary.BigEndian.AppendUint16(resp, uint16(len(rdata)))
	return append(resp, rdata...)
}

// testCert makes a CA and a server certificate for internet.test and 192.0.2.80 it signed;
// it returns the server's key pair and the CA's certificate in PEM.
func testCert(t *testing.T) (tls.Certificate, []byte) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "netcheck test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "internet.test"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), DNSNames: []string{"internet.test"},
		IPAddresses: []net.IP{net.ParseIP("192.0.2.80")}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key},
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
}

// check runs netcheck in the machine's namespace.
func (tp *topo) check(t *testing.T, req childRequest) childReply {
	t.Helper()
	spec, _ := json.Marshal(req)
	cmd := exec.Command("ip", "netns", "exec", tp.machine, os.Args[0], "-test.run=^TestNetcheckChild$", "-test.count=1")
	for _, kv := range os.Environ() {
		// The router plays the internet: no proxy stands between.
		if k, _, _ := strings.Cut(kv, "="); !strings.EqualFold(k, "http_proxy") && !strings.EqualFold(k, "https_proxy") &&
			!strings.EqualFold(k, "all_proxy") && !strings.EqualFold(k, "no_proxy") && k != "SSL_CERT_FILE" && k != "SSL_CERT_DIR" {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, childEnv+"="+string(spec), "SSL_CERT_FILE="+tp.caFile)
	out, err := cmd.CombinedOutput()
	_, after, found := bytes.Cut(out, []byte("\nCHILD-REPLY "))
	if !found {
		t.Fatalf("netcheck child: %v\n%s", err, out)
	}
	line, _, _ := bytes.Cut(after, []byte("\n"))
	var rep childReply
	if err := json.Unmarshal(line, &rep); err != nil {
		t.Fatalf("netcheck child reply %q: %v", line, err)
	}
	return rep
}

// inMachine runs ip with args in the machine's namespace.
func (tp *topo) inMachine(t *testing.T, args ...string) {
	t.Helper()
	tp.mns.IP(t, args...)
}

// inRouter runs ip with args in the router's namespace.
func (tp *topo) inRouter(t *testing.T, args ...string) {
	t.Helper()
	tp.router.IP(t, args...)
}

func (tp *topo) sawPeer(prefix string) bool {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	for _, p := range tp.peers {
		if strings.HasPrefix(p, prefix) {
			return true
		}
	}
	return false
}

var okLine = regexp.MustCompile(`^OK  (\S+)  [0-9.]+(µs|ms|s)(  \(.*\))?$`)

// wantLines checks the output: one line per target, OK for those in ok and FAIL for the
// others, in order.
func wantLines(t *testing.T, rep childReply, targets []string, failing ...string) {
	t.Helper()
	t.Logf("output:\n%s", rep.Out)
	if rep.Err != "" {
		t.Fatalf("netcheck: %s\n%s", rep.Err, rep.Out)
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(rep.Out), "\n") {
		if !strings.HasPrefix(l, "SKIP ") {
			lines = append(lines, l)
		}
	}
	if len(lines) != len(targets) {
		t.Fatalf("got %d lines, want %d (%q):\n%s", len(lines), len(targets), targets, rep.Out)
	}
	for i, target := range targets {
		fail := false
		for _, f := range failing {
			fail = fail || f == target
		}
		switch {
		case fail && !strings.HasPrefix(lines[i], "FAIL "+target+"  "):
			t.Errorf("line %d = %q, want FAIL %s", i, lines[i], target)
		case !fail && (!okLine.MatchString(lines[i]) || okLine.FindStringSubmatch(lines[i])[1] != target):
			t.Errorf("line %d = %q, want OK %s with a latency", i, lines[i], target)
		}
	}
	if got := rep.Report.Failed(); got != len(failing) {
		t.Errorf("%d failed, want %d:\n%s", got, len(failing), rep.Out)
	}
}

// everything is a target of each kind, resolved through the interface where it is a name.
var everything = []string{"internet.test", "192.0.2.80", "icmp://[2001:db8:ff::80]", "http://internet.test/moved",
	"https://internet.test/", "https://192.0.2.80/", "http://[2001:db8:ff::80]/", "tcp://internet.test:80"}

func TestNetcheckNetns(t *testing.T) {
	tp := newTopo(t)

	t.Run("all reachable, on each interface", func(t *testing.T) {
		for i, ifname := range []string{"m0", "m1"} {
			rep := tp.check(t, childRequest{Options: Options{Interface: ifname, Targets: everything, Gateways: true, Timeout: 5 * time.Second}})
			gws := []string{fmt.Sprintf("10.61.%d.1", i), strings.Replace(fmt.Sprintf("2001:db8:%d::1", i), ":0:", ":", 1)}
			wantLines(t, rep, append(slices.Clone(everything), gws...))
			if !strings.Contains(rep.Out, "(HTTP 200 from http://internet.test/)") || !strings.Contains(rep.Out, "OK  internet.test  ") {
				t.Errorf("output:\n%s", rep.Out)
			}
			// The router saw the fetches come from this interface's address: the probes
			// were bound to it, not routed by the machine's preferred default route (m0).
			if !tp.sawPeer(fmt.Sprintf("10.61.%d.2:", i)) || !tp.sawPeer(strings.Replace(fmt.Sprintf("[2001:db8:%d::2]:", i), ":0:", ":", 1)) {
				t.Errorf("the router saw no fetch from %s's addresses: %q", ifname, tp.peers)
			}
		}
	})

	t.Run("peer down", func(t *testing.T) {
		tp.inRouter(t, "link", "set", "r0", "down")
		defer tp.inRouter(t, "link", "set", "r0", "up")
		targets := []string{"internet.test", "192.0.2.80", "https://192.0.2.80/", "tcp://192.0.2.80:80"}
		rep := tp.check(t, childRequest{Options: Options{Interface: "m0", Targets: targets, Timeout: 2 * time.Second}})
		wantLines(t, rep, targets, targets...)
		// Nothing is tried through a link without carrier: each target fails at once, with
		// the link's state.
		if strings.Count(rep.Out, "  not tried: m0: down, no carrier\n") != len(targets) {
			t.Errorf("want every target failed with the state of m0 told:\n%s", rep.Out)
		}
		// The gateways of a link without carrier fail; once its routes are gone too (as a
		// DHCP client's are), the check still fails, it is not skipped.
		rep = tp.check(t, childRequest{Options: Options{Interface: "m0", Gateways: true, Timeout: 2 * time.Second}})
		if rep.Report.Skipped != "" || len(rep.Report.Results) != 2 || rep.Report.Failed() != 2 {
			t.Errorf("want both gateways failed on m0 without carrier: %+v", rep)
		}
		tp.inMachine(t, "addr", "flush", "dev", "m0", "scope", "global")
		tp.inMachine(t, "-6", "route", "del", "default", "dev", "m0")
		defer func() {
			tp.inMachine(t, "addr", "add", "10.61.0.2/24", "dev", "m0")
			tp.inMachine(t, "addr", "add", "2001:db8::2/64", "dev", "m0", "nodad")
			tp.inMachine(t, "route", "add", "default", "via", "10.61.0.1", "dev", "m0", "metric", "100")
			tp.inMachine(t, "-6", "route", "add", "default", "via", "2001:db8::1", "dev", "m0", "metric", "100")
		}()
		rep = tp.check(t, childRequest{Options: Options{Interface: "m0", Gateways: true, Timeout: 2 * time.Second}})
		if rep.Report.Skipped != "" || rep.Report.Failed() != 1 || !strings.Contains(rep.Out, "FAIL gateways  no gateway can be reached (m0: down, no carrier, no address)") {
			t.Errorf("want the gateways failed on m0 without carrier or routes: %+v", rep)
		}
		// m1 is not concerned.
		wantLines(t, tp.check(t, childRequest{Options: Options{Interface: "m1", Targets: targets, Timeout: 5 * time.Second}}), targets)
	})

	t.Run("unreachable URL", func(t *testing.T) {
		targets := []string{"http://internet.test/", "http://192.0.2.81/", "tcp://192.0.2.80:9", "http://nowhere.invalid/", "https://internet.test:80/"}
		rep := tp.check(t, childRequest{Options: Options{Interface: "m1", Targets: targets, Timeout: 3 * time.Second}})
		wantLines(t, rep, targets, targets[1:]...)
		for _, want := range []string{"FAIL http://192.0.2.81/  ", "FAIL tcp://192.0.2.80:9  dial tcp 192.0.2.80:9: connect: connection refused", "no such host"} {
			if !strings.Contains(rep.Out, want) {
				t.Errorf("want %q in:\n%s", want, rep.Out)
			}
		}
	})

	t.Run("certificate checked", func(t *testing.T) {
		// The router's certificate names internet.test and 192.0.2.80, not the IPv6 address.
		targets := []string{"https://[2001:db8:ff::80]:443/"}
		rep := tp.check(t, childRequest{Options: Options{Interface: "m0", Targets: targets, Timeout: 3 * time.Second}})
		if !strings.Contains(rep.Out, "FAIL https://[2001:db8:ff::80]:443/  ") {
			t.Errorf("output:\n%s", rep.Out)
		}
	})

	t.Run("gateway removed", func(t *testing.T) {
		tp.inRouter(t, "addr", "del", "10.61.1.1/24", "dev", "r1")
		defer tp.inRouter(t, "addr", "add", "10.61.1.1/24", "dev", "r1")
		rep := tp.check(t, childRequest{Options: Options{Interface: "m1", Gateways: true, Timeout: 2 * time.Second}})
		wantLines(t, rep, []string{"10.61.1.1", "2001:db8:1::1"}, "10.61.1.1")
		rep = tp.check(t, childRequest{Options: Options{Interface: "m0", Gateways: true, Timeout: 2 * time.Second}})
		wantLines(t, rep, []string{"10.61.0.1", "2001:db8::1"})
	})

	t.Run("no gateway", func(t *testing.T) {
		rep := tp.check(t, childRequest{Options: Options{Interface: "m2", Gateways: true, Timeout: 2 * time.Second}})
		if rep.Err != "" || rep.Report.Skipped == "" || len(rep.Report.Results) != 0 ||
			strings.TrimSpace(rep.Out) != "SKIP gateways  no IPv4 or IPv6 gateway is routed through m2" {
			t.Errorf("want a skip: %+v", rep)
		}
		// With another target, the test is not skipped.
		rep = tp.check(t, childRequest{Options: Options{Interface: "m2", Gateways: true, Targets: []string{"10.61.2.1"}, Timeout: 2 * time.Second}})
		if rep.Report.Skipped != "" || !strings.Contains(rep.Out, "OK  10.61.2.1  ") {
			t.Errorf("want the target checked: %+v", rep)
		}
	})

	t.Run("no such interface", func(t *testing.T) {
		rep := tp.check(t, childRequest{Options: Options{Interface: "m9", Targets: []string{"10.61.0.1"}}})
		if !strings.Contains(rep.Err, "find interface m9") {
			t.Errorf("want an error naming m9: %+v", rep)
		}
	})

	t.Run("ICMP sockets", func(t *testing.T) {
		// Root without a ping group range gets a raw socket; with one, an unprivileged
		// ICMP datagram socket (net.ipv4.ping_group_range is the namespace's own, and it
		// covers ICMPv6 too).
		for _, dgram := range []bool{false, true} {
			if dgram {
				if out, err := exec.Command("ip", "netns", "exec", tp.machine, "sh", "-c", "echo 0 2147483647 > /proc/sys/net/ipv4/ping_group_range").CombinedOutput(); err != nil {
					t.Fatalf("set ping_group_range: %v\n%s", err, out)
				}
			}
			for _, c := range []struct{ ifname, dst string }{{"m0", "10.61.0.1"}, {"m1", "2001:db8:1::1"}} {
				rep := tp.check(t, childRequest{Options: Options{Interface: c.ifname}, SocketOf: c.dst})
				if rep.Err != "" || rep.Raw == dgram {
					t.Errorf("ping %s (datagram socket allowed: %v): raw %v, %s", c.dst, dgram, rep.Raw, rep.Err)
				}
			}
		}
	})
}
