package netcheck

import (
	"encoding/binary"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func TestParseTarget(t *testing.T) {
	tests := []struct {
		in   string
		want Target
		err  string // a part of the error; "" for none
	}{
		{in: "example.com", want: Target{Kind: Ping, Scheme: "icmp", Host: "example.com"}},
		{in: "  Example.COM. ", want: Target{Kind: Ping, Scheme: "icmp", Host: "example.com."}},
		{in: "10.0.0.1", want: Target{Kind: Ping, Scheme: "icmp", Host: "10.0.0.1"}},
		{in: "2001:DB8::1", want: Target{Kind: Ping, Scheme: "icmp", Host: "2001:db8::1"}},
		{in: "[2001:db8::1]", want: Target{Kind: Ping, Scheme: "icmp", Host: "2001:db8::1"}},
		{in: "fe80::1%eth0", want: Target{Kind: Ping, Scheme: "icmp", Host: "fe80::1%eth0"}},
		{in: "icmp://gw.example", want: Target{Kind: Ping, Scheme: "icmp", Host: "gw.example"}},
		{in: "ICMP://10.0.0.1/", want: Target{Kind: Ping, Scheme: "icmp", Host: "10.0.0.1"}},
		{in: "icmp://[fe80::1%eth1]", want: Target{Kind: Ping, Scheme: "icmp", Host: "fe80::1%eth1"}},
		{in: "https://connectivity-check.ubuntu.com", want: Target{Kind: Fetch, Scheme: "https", Host: "connectivity-check.ubuntu.com", URL: "https://connectivity-check.ubuntu.com"}},
		{in: "http://10.0.0.1:8080/MAAS/", want: Target{Kind: Fetch, Scheme: "http", Host: "10.0.0.1", Port: 8080, URL: "http://10.0.0.1:8080/MAAS/"}},
		{in: "HTTP://[2001:db8::1]/x?y=1", want: Target{Kind: Fetch, Scheme: "http", Host: "2001:db8::1", URL: "http://[2001:db8::1]/x?y=1"}},
		{in: "http://host:/", want: Target{Kind: Fetch, Scheme: "http", Host: "host", URL: "http://host/"}},
		{in: "tcp://db.example:5432", want: Target{Kind: Connect, Scheme: "tcp", Host: "db.example", Port: 5432}},
		{in: "tcp://[2001:db8::1]:22/", want: Target{Kind: Connect, Scheme: "tcp", Host: "2001:db8::1", Port: 22}},
		{in: "ftp://ftp.example/pub/", want: Target{Kind: Connect, Scheme: "ftp", Host: "ftp.example", Port: 21}},
		{in: "smtp://mail.example:2525", want: Target{Kind: Connect, Scheme: "smtp", Host: "mail.example", Port: 2525}},

		{in: "", err: "empty target"},
		{in: "   ", err: "empty target"},
		{in: "host:80", err: "write tcp://host:port"},
		{in: "tcp://host", err: "want tcp://host:port"},
		{in: "tcp://host:0", err: "from 1 to 65535"},
		{in: "tcp://host:65536", err: "from 1 to 65535"},
		{in: "tcp://host:http", err: "from 1 to 65535"},
		{in: "http://", err: "has no host"},
		{in: "http:///path", err: "has no host"},
		{in: "http://exa mple.com/", err: "bad URL"},
		{in: "https://-bad-.example/", err: "not a host name"},
		{in: "file:///etc/passwd", err: "scheme file is not supported"},
		{in: "tftp://boot/pxelinux.0", err: "scheme tftp is not supported"},
		{in: "1ab://x", err: "not a URL scheme"},
		{in: "://x", err: "not a URL scheme"},
		{in: "[10.0.0.1]", err: "not an IPv6 address"},
		{in: "under_score.example", want: Target{Kind: Ping, Scheme: "icmp", Host: "under_score.example"}},
		{in: "a..b", err: "not a host name"},
		{in: strings.Repeat("a", 64) + ".example", err: "not a host name"},
		{in: "x" + strings.Repeat(".x", 1100), err: "longer than"},
	}
	for _, tt := range tests {
		got, err := ParseTarget(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseTarget(%q) = %+v, %v; want an error with %q", tt.in, got, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseTarget(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
			continue
		}
		again, err := ParseTarget(got.String())
		if err != nil || again != got {
			t.Errorf("ParseTarget(%q) = %+v, %v; want it back from %q", got.String(), again, err, tt.in)
		}
	}
}

func TestSplitTargets(t *testing.T) {
	got := SplitTargets([]string{"a,b", " c , d ", "", ",e,,", "http://x/?a=1,2"})
	want := []string{"a", "b", "c", "d", "e", "http://x/?a=1", "2"}
	if !slices.Equal(got, want) {
		t.Errorf("SplitTargets = %q, want %q", got, want)
	}
}

func TestEchoRequest(t *testing.T) {
	b := echoRequest(false, 0x1234, 7, []byte("abc"))
	if b[0] != icmp4Echo || binary.BigEndian.Uint16(b[4:]) != 0x1234 || binary.BigEndian.Uint16(b[6:]) != 7 || string(b[8:]) != "abc" {
		t.Errorf("echo request % x", b)
	}
	if checksum(b) != 0 {
		t.Errorf("checksum of a checksummed message is %#x, want 0", checksum(b))
	}
	if b6 := echoRequest(true, 1, 2, nil); b6[0] != icmp6Echo || b6[2] != 0 || b6[3] != 0 {
		t.Errorf("ICMPv6 echo request % x: want type 128 and the checksum left to the kernel", b6)
	}
}

func TestParseICMP(t *testing.T) {
	reply := echoRequest(false, 9, 3, []byte("token"))
	reply[0] = icmp4EchoReply
	m, ok := parseICMP(false, reply)
	if !ok || !m.echoReply || m.id != 9 || m.seq != 3 || string(m.data) != "token" {
		t.Errorf("echo reply: %+v %v", m, ok)
	}
	// A host unreachable quoting our request to 10.0.0.9.
	req := echoRequest(false, 9, 4, []byte("token"))
	ip := make([]byte, 20)
	ip[0], ip[9] = 0x45, 1
	copy(ip[16:], []byte{10, 0, 0, 9})
	unreach := append([]byte{icmp4Unreachable, 1, 0, 0, 0, 0, 0, 0}, append(ip, req[:8]...)...)
	m, ok = parseICMP(false, unreach)
	if !ok || m.err != "host unreachable" || m.id != 9 || m.seq != 4 || m.echoTo != netip.MustParseAddr("10.0.0.9") {
		t.Errorf("unreachable: %+v %v", m, ok)
	}
	// ICMPv6 address unreachable quoting a request to 2001:db8::9.
	req6 := echoRequest(true, 5, 6, nil)
	ip6 := make([]byte, 40)
	ip6[0], ip6[6] = 0x60, 58
	dst := netip.MustParseAddr("2001:db8::9").As16()
	copy(ip6[24:], dst[:])
	m, ok = parseICMP(true, append([]byte{icmp6Unreachable, 3, 0, 0, 0, 0, 0, 0}, append(ip6, req6[:8]...)...))
	if !ok || m.err != "address unreachable" || m.id != 5 || m.seq != 6 || m.echoTo != netip.MustParseAddr("2001:db8::9") {
		t.Errorf("unreachable v6: %+v %v", m, ok)
	}
	for _, bad := range [][]byte{nil, {0, 0, 0}, unreach[:30], {icmp4Echo, 0, 0, 0, 0, 0, 0, 0}} {
		if m, ok := parseICMP(false, bad); ok {
			t.Errorf("parseICMP(% x) = %+v, want nothing", bad, m)
		}
	}
}

func TestResultLine(t *testing.T) {
	for _, tt := range []struct {
		r    Result
		want string
	}{
		{Result{Target: "10.0.0.1", OK: true, Latency: 1234567}, "OK  10.0.0.1  1.23ms"},
		{Result{Target: "http://x/", OK: true, Latency: 2345678901, Detail: "HTTP 200"}, "OK  http://x/  2.346s  (HTTP 200)"},
		{Result{Target: "h", OK: true, Latency: 45678}, "OK  h  46µs"},
		{Result{Target: "tcp://x:1", Detail: "connection refused"}, "FAIL tcp://x:1  connection refused"},
	} {
		if got := tt.r.Line(); got != tt.want {
			t.Errorf("Line() = %q, want %q", got, tt.want)
		}
	}
}
