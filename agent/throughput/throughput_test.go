package throughput

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"maasgo/internal/netnstest"
	"maasgo/wire"
)

const testDuration = 200 * time.Millisecond

// serve runs a server on ln until the test ends (or stop is called) and returns stop, which
// waits for the server to finish.
func serve(t *testing.T, s *Server, ln net.Listener) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Serve did not return within 5 s of its context ending")
		}
	}
	t.Cleanup(stop)
	return stop
}

// pair is a machine namespace whose eth0 (10.250.0.2/30) and eth1 (10.250.1.2/30) are
// joined to a peer namespace's peer0 (10.250.0.1) and peer1 (10.250.1.1), where a server
// listens on every address.
type pair struct {
	machine, peer *netnstest.Netns
	port          string
}

func newPair(t *testing.T, s *Server) (pair, func()) {
	t.Helper()
	p := pair{machine: netnstest.New(t), peer: netnstest.New(t)}
	netnstest.Veth(t, p.machine, "eth0", "10.250.0.2/30", p.peer, "peer0", "10.250.0.1/30")
	netnstest.Veth(t, p.machine, "eth1", "10.250.1.2/30", p.peer, "peer1", "10.250.1.1/30")
	var ln net.Listener
	if err := p.peer.Do(func() (err error) {
		ln, err = net.Listen("tcp", ":0")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	_, p.port, _ = net.SplitHostPort(ln.Addr().String())
	return p, serve(t, s, ln)
}

// run runs c from the machine namespace.
func (p pair) run(t *testing.T, c Check) (*Result, error) {
	t.Helper()
	var r *Result
	err := p.machine.Do(func() (err error) {
		r, err = c.Run(t.Context())
		return err
	})
	return r, err
}

// TestCheckNetns measures both ways over a veth pair between two namespaces, the client
// bound to eth0: the figures are positive; a link speed the veth easily reaches passes, one
// above what it can do is flagged as degraded in the result file, with the figures.
func TestCheckNetns(t *testing.T) {
	p, _ := newPair(t, &Server{})
	for _, tt := range []struct {
		name      string
		linkSpeed uint64
		status    string
		slow      []string
	}{
		{"1 Mbit/s link: passed", 1, "passed", nil},
		{"10 Pbit/s link: degraded", 10_000_000_000, "degraded", []string{"sent", "received"}},
		{"unknown link speed: passed", 0, "passed", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var asked string
			c := Check{
				Options:  Options{Interface: "eth0", Peer: net.JoinHostPort("10.250.0.1", p.port)},
				Duration: testDuration, Send: true, Receive: true, MinFraction: 0.7,
				LinkSpeed: func(ifname string) (uint64, error) { asked = ifname; return tt.linkSpeed, nil },
			}
			start := time.Now()
			r, err := p.run(t, c)
			if err != nil {
				t.Fatal(err)
			}
			if el := time.Since(start); el < 2*testDuration || el > 2*testDuration+3*time.Second {
				t.Errorf("Run took %s for two measurements of %s", el, testDuration)
			}
			if asked != "eth0" {
				t.Errorf("link speed asked of %q, want eth0", asked)
			}
			for dir, m := range map[string]*Measurement{"sent": r.Send, "received": r.Receive} {
				if m == nil || m.Bytes <= 0 || m.Mbps() <= 0 || m.Elapsed <= 0 || m.Elapsed > testDuration+time.Second {
					t.Errorf("%s: %+v, want a positive figure over about %s", dir, m, testDuration)
				}
			}
			if got := r.Slow(); strings.Join(got, ",") != strings.Join(tt.slow, ",") {
				t.Errorf("Slow() = %v, want %v", got, tt.slow)
			}
			data := r.YAML()
			res, err := wire.ParseResult(data)
			if err != nil {
				t.Fatalf("the result file does not parse: %v\n%s", err, data)
			}
			if want, _ := wire.ParseResultStatus(tt.status); res.Status == nil || *res.Status != want {
				t.Errorf("result status %v, want %s:\n%s", res.Status, tt.status, data)
			}
			want := map[string]any{"link_speed": int64(tt.linkSpeed), "min_mbps": oneDecimal(r.Threshold()),
				"send_mbps": oneDecimal(r.Send.Mbps()), "receive_mbps": oneDecimal(r.Receive.Mbps())}
			if diff := cmp.Diff(want, res.Results); diff != "" {
				t.Errorf("result metrics (-want +got):\n%s\n%s", diff, data)
			}
			var report bytes.Buffer
			r.WriteReport(&report)
			if !strings.Contains(report.String(), tt.status) || !strings.Contains(report.String(), "Mbit/s") {
				t.Errorf("report does not give the figures and %s:\n%s", tt.status, report.String())
			}
		})
	}
}

// TestCheckBindsInterface sends to the peer's eth0-side address while bound to eth1: the
// routing table would send it through eth0, the binding sends it through eth1 (Linux takes
// the address as on-link there), as the interfaces' byte counters show.
func TestCheckBindsInterface(t *testing.T) {
	p, _ := newPair(t, &Server{})
	c := Check{Options: Options{Interface: "eth1", Peer: net.JoinHostPort("10.250.0.1", p.port)}, Duration: testDuration, Send: true}
	before := p.txBytes(t)
	r, err := p.run(t, c)
	if err != nil {
		t.Fatal(err)
	}
	after := p.txBytes(t)
	if d1, d0 := after["eth1"]-before["eth1"], after["eth0"]-before["eth0"]; d1 < r.Send.Bytes || d0 > r.Send.Bytes/10 {
		t.Errorf("sent %d bytes bound to eth1; eth1 sent %d, eth0 %d", r.Send.Bytes, d1, d0)
	}
	c.Interface = "nosuch0"
	if _, err := p.run(t, c); err == nil || !strings.Contains(err.Error(), "bind to nosuch0") || !strings.Contains(err.Error(), "from nosuch0") {
		t.Errorf("Run bound to a missing interface: %v, want a bind error naming it", err)
	}
}

// txBytes reads the bytes the machine's interfaces sent.
func (p pair) txBytes(t *testing.T) map[string]int64 {
	t.Helper()
	out, err := exec.Command("ip", "-n", p.machine.Name, "-j", "-s", "link", "show").Output()
	if err != nil {
		t.Fatalf("ip -s link: %v", err)
	}
	var links []struct {
		Ifname  string `json:"ifname"`
		Stats64 struct {
			TX struct {
				Bytes int64 `json:"bytes"`
			} `json:"tx"`
		} `json:"stats64"`
	}
	if err := json.Unmarshal(out, &links); err != nil {
		t.Fatalf("ip -s link: %v\n%s", err, out)
	}
	m := map[string]int64{}
	for _, l := range links {
		m[l.Ifname] = l.Stats64.TX.Bytes
	}
	return m
}

// TestCheckServerGone checks the failure when the server has stopped: no figure, an error
// that names the peer and the refused connection, at once.
func TestCheckServerGone(t *testing.T) {
	p, stop := newPair(t, &Server{})
	stop()
	peer := net.JoinHostPort("10.250.0.1", p.port)
	start := time.Now()
	_, err := p.run(t, Check{Options: Options{Interface: "eth0", Peer: peer}, Duration: testDuration, Send: true, Receive: true, MinFraction: 0.7})
	if err == nil || !strings.Contains(err.Error(), "from eth0 to "+peer) || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("Run with the server gone: %v, want connection refused naming eth0 and %s", err, peer)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("Run took %s to fail", el)
	}
}

// TestServerOneAtATime holds the server's only turn and checks that a second client is
// told it is busy after the queue wait, and that the turn frees when the first leaves.
func TestServerOneAtATime(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serve(t, &Server{QueueWait: 200 * time.Millisecond}, ln)
	o := Options{Peer: ln.Addr().String()}
	first, err := net.Dial("tcp", o.Peer)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	if _, err := first.Write(hello{mode: modeClientReceives, duration: 5 * time.Second}.encode()); err != nil {
		t.Fatal(err)
	}
	first.SetReadDeadline(time.Now().Add(5 * time.Second))
	if a, err := readAnswer(first); err != nil || a.status != statusGo {
		t.Fatalf("first client: %+v %v, want a go", a, err)
	}
	if _, err := Send(t.Context(), o, testDuration); err == nil || !strings.Contains(err.Error(), "the server is busy") {
		t.Errorf("second client while the first measures: %v, want busy", err)
	}
	first.Close()
	m, err := Send(t.Context(), o, testDuration)
	if err != nil || m.Bytes <= 0 {
		t.Errorf("client after the first left: %+v %v, want a figure", m, err)
	}
}

// TestProtocolErrors covers the answers that are not a measurement: a duration out of the
// server's range, a peer that is not a throughput server, a client that is not one, and
// a cancelled context.
func TestProtocolErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serve(t, &Server{MaxDuration: 150 * time.Millisecond, IdleTimeout: time.Second}, ln)
	o := Options{Peer: ln.Addr().String()}
	if _, err := Receive(t.Context(), o, testDuration); err == nil || !strings.Contains(err.Error(), "the server refused: duration 200ms") {
		t.Errorf("duration beyond the server's maximum: %v, want refused", err)
	}
	if _, err := Receive(t.Context(), o, time.Millisecond); err == nil || !strings.Contains(err.Error(), "duration 1ms") {
		t.Errorf("duration below the minimum: %v, want an error", err)
	}

	// A client that is not one is dropped without an answer.
	c, err := net.Dial("tcp", o.Peer)
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("GET / HTTP/1.0\r\n\r\n"))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := c.Read(make([]byte, 64)); n != 0 || err == nil {
		t.Errorf("a non-client got %d bytes, %v; want the connection closed", n, err)
	}
	c.Close()

	// A peer that answers something else.
	other, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	go func() {
		for {
			c, err := other.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("SSH-2.0-OpenSSH_9.6\r\n"))
			c.Close()
		}
	}()
	if _, err := Send(t.Context(), Options{Peer: other.Addr().String()}, testDuration); !errors.Is(err, ErrNotServer) {
		t.Errorf("a peer that is not a server: %v, want ErrNotServer", err)
	}

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := Send(ctx, o, testDuration); err == nil {
		t.Error("Send with a cancelled context: no error")
	}
}

func TestCheckOptions(t *testing.T) {
	for _, c := range []Check{
		{MinFraction: 1.5, Send: true},
		{MinFraction: -0.1, Send: true},
		{MinFraction: 0.7},
	} {
		if _, err := c.Run(t.Context()); err == nil {
			t.Errorf("Run(%+v): no error", c)
		}
	}
}

// oneDecimal is v as the result file writes it, to 0.1.
func oneDecimal(v float64) float64 {
	f, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'f', 1, 64), 64)
	return f
}
