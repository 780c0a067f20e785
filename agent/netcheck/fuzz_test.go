package netcheck

import (
	"strings"
	"testing"
)

// FuzzParseTarget checks that any string is either refused or read as a target whose
// canonical spelling reads back as the same target, with a host that is an IP literal or a
// host name and a port where the kind needs one.
func FuzzParseTarget(f *testing.F) {
	for _, s := range []string{
		"example.com", "10.0.0.1", "2001:db8::1", "[fe80::1%eth0]", "icmp://gw", "https://connectivity-check.ubuntu.com",
		"http://[::1]:8080/a?b#c", "tcp://h:22", "ftp://u:p@h/x", "smtp://h:25", "file:///x", "host:80", "http://%zz/",
		"HTTP://Host.Example.:80/", "icmp://[::ffff:10.0.0.1]", "a,b", "http://h:/",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseTarget(s)
		if err != nil {
			if got != (Target{}) {
				t.Fatalf("ParseTarget(%q) = %+v with error %v", s, got, err)
			}
			return
		}
		if got.Host == "" || strings.ContainsAny(got.Host, "[]/ ") {
			t.Fatalf("ParseTarget(%q): host %q", s, got.Host)
		}
		switch got.Kind {
		case Ping:
			if got.Port != 0 || got.URL != "" || got.Scheme != "icmp" {
				t.Fatalf("ParseTarget(%q) = %+v", s, got)
			}
		case Connect:
			if got.Port == 0 || got.URL != "" {
				t.Fatalf("ParseTarget(%q) = %+v", s, got)
			}
		case Fetch:
			if !strings.HasPrefix(got.URL, got.Scheme+"://") {
				t.Fatalf("ParseTarget(%q) = %+v", s, got)
			}
		default:
			t.Fatalf("ParseTarget(%q): kind %v", s, got.Kind)
		}
		again, err := ParseTarget(got.String())
		if err != nil || again != got {
			t.Fatalf("ParseTarget(%q) = %+v, %v; want %+v (from %q)", got.String(), again, err, got, s)
		}
	})
}
