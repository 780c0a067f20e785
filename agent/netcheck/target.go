// Package netcheck checks that a machine reaches hosts through one network interface: the
// work of the built-in network tests (internet-connectivity, gateway-connectivity,
// rack-controller-connectivity), done without ping, curl or iproute2. Every probe is bound to
// the interface under test (SO_BINDTODEVICE, and its source address so that source routing
// applies): ICMP echo for bare hosts and icmp:// targets, HTTP(S) GET for http:// and https://
// URLs, TCP connect for tcp://host:port and the other schemes with a well-known TCP port, and
// host names are resolved through the interface too.
package netcheck

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// Kind is how a target is probed.
type Kind int

const (
	// Ping sends ICMP echo requests (bare hosts and IPs, icmp://host).
	Ping Kind = iota + 1
	// Connect opens a TCP connection (tcp://host:port, ftp://host, ...).
	Connect
	// Fetch sends an HTTP GET (http:// and https:// URLs).
	Fetch
)

func (k Kind) String() string {
	switch k {
	case Ping:
		return "icmp"
	case Connect:
		return "tcp"
	case Fetch:
		return "http"
	}
	return "unknown"
}

// Target is one thing to reach.
type Target struct {
	Kind Kind
	// Scheme is "icmp" for a pinged target, "http" or "https" for a fetched one, "tcp" or the
	// URL's scheme (ftp, smtp, ...) for a connected one.
	Scheme string
	// Host is a host name or an IP literal, without brackets; an IPv6 literal may carry a
	// zone.
	Host string
	// Port is the TCP port of a connected target.
	Port uint16
	// URL is a fetched target's URL.
	URL string
}

// String is the target's canonical spelling; ParseTarget reads it back as the same target.
func (t Target) String() string {
	switch t.Kind {
	case Ping:
		return "icmp://" + bracketed(t.Host)
	case Connect:
		return t.Scheme + "://" + net.JoinHostPort(t.Host, strconv.Itoa(int(t.Port)))
	case Fetch:
		return t.URL
	}
	return ""
}

func bracketed(host string) string {
	if strings.Contains(host, ":") {
		return "[" + host + "]"
	}
	return host
}

// maxTarget bounds the length of one target.
const maxTarget = 2048

// tcpSchemes are the URL schemes upstream's region accepts (besides http, https and icmp)
// that run over TCP, with their well-known ports: such a target is checked with a TCP
// connection to its host and port, as far as a connectivity test needs to go.
var tcpSchemes = map[string]uint16{
	"ftp": 21, "ftps": 990, "gopher": 70, "imap": 143, "imaps": 993, "ldap": 389, "ldaps": 636,
	"pop3": 110, "pop3s": 995, "rtmp": 1935, "rtsp": 554, "scp": 22, "sftp": 22, "smb": 445,
	"smbs": 445, "smtp": 25, "smtps": 465, "telnet": 23,
}

// Schemes lists the schemes a target may have, sorted.
func Schemes() []string {
	out := []string{"http", "https", "icmp", "tcp"}
	for s := range tcpSchemes {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// ParseTarget reads one target: a bare host name or IP address, or icmp://host, is pinged;
// http:// and https:// URLs are fetched; tcp://host:port, and URLs of the other TCP schemes
// (ftp://host, smtp://host:2525, ...), are connected to.
func ParseTarget(s string) (Target, error) {
	raw := strings.TrimSpace(s)
	if raw == "" {
		return Target{}, errors.New("empty target")
	}
	if len(raw) > maxTarget {
		return Target{}, fmt.Errorf("target longer than %d characters", maxTarget)
	}
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		host, err := parseHost(raw)
		if err != nil {
			return Target{}, err
		}
		return Target{Kind: Ping, Scheme: "icmp", Host: host}, nil
	}
	scheme = strings.ToLower(scheme)
	if !validScheme(scheme) {
		return Target{}, fmt.Errorf("%q is not a URL scheme", scheme)
	}
	switch scheme {
	case "icmp":
		host, err := parseHost(strings.TrimSuffix(rest, "/"))
		if err != nil {
			return Target{}, err
		}
		return Target{Kind: Ping, Scheme: scheme, Host: host}, nil
	case "tcp":
		h, p, err := net.SplitHostPort(strings.TrimSuffix(rest, "/"))
		if err != nil {
			return Target{}, fmt.Errorf("tcp target %q: want tcp://host:port", raw)
		}
		host, err := parseHost(h)
		if err != nil {
			return Target{}, err
		}
		port, err := parsePort(p)
		if err != nil {
			return Target{}, err
		}
		return Target{Kind: Connect, Scheme: scheme, Host: host, Port: port}, nil
	case "http", "https":
		u, err := parseURL(raw, scheme)
		if err != nil {
			return Target{}, err
		}
		return Target{Kind: Fetch, Scheme: scheme, Host: u.host, Port: u.port, URL: u.u.String()}, nil
	}
	def, ok := tcpSchemes[scheme]
	if !ok {
		return Target{}, fmt.Errorf("scheme %s is not supported (supported: %s)", scheme, strings.Join(Schemes(), ", "))
	}
	u, err := parseURL(raw, scheme)
	if err != nil {
		return Target{}, err
	}
	if u.port == 0 {
		u.port = def
	}
	return Target{Kind: Connect, Scheme: scheme, Host: u.host, Port: u.port}, nil
}

type parsedURL struct {
	u    *url.URL
	host string
	port uint16
}

func parseURL(raw, scheme string) (parsedURL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return parsedURL{}, fmt.Errorf("bad URL: %w", err)
	}
	u.Scheme = scheme
	if u.Opaque != "" || u.Host == "" {
		return parsedURL{}, fmt.Errorf("URL %q has no host", raw)
	}
	host, err := parseHost(u.Hostname())
	if err != nil {
		return parsedURL{}, err
	}
	var port uint16
	if p := u.Port(); p != "" {
		if port, err = parsePort(p); err != nil {
			return parsedURL{}, err
		}
	} else {
		u.Host = strings.TrimSuffix(u.Host, ":")
	}
	return parsedURL{u: u, host: host, port: port}, nil
}

func validScheme(s string) bool {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for _, c := range s {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '+' && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

func parsePort(p string) (uint16, error) {
	n, err := strconv.ParseUint(p, 10, 16)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("port %q: want a number from 1 to 65535", p)
	}
	return uint16(n), nil
}

// parseHost checks a host name or IP literal (an IPv6 one may be in brackets, and may carry
// a zone) and returns it without brackets.
func parseHost(h string) (string, error) {
	if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
		a, err := netip.ParseAddr(h[1 : len(h)-1])
		if err != nil || !a.Is6() {
			return "", fmt.Errorf("%q is not an IPv6 address", h)
		}
		return checkZone(a)
	}
	if a, err := netip.ParseAddr(h); err == nil {
		return checkZone(a)
	}
	if strings.Contains(h, ":") {
		return "", fmt.Errorf("%q is not a host: a bare target is pinged; write tcp://host:port to connect to a port", h)
	}
	if err := checkHostname(h); err != nil {
		return "", err
	}
	return strings.ToLower(h), nil
}

// checkZone accepts an IPv6 zone that is an interface name (up to 15 letters, digits,
// dots, hyphens, underscores or @) and returns the address's text.
func checkZone(a netip.Addr) (string, error) {
	z := a.Zone()
	ok := len(z) <= 15
	for _, c := range z {
		ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strings.ContainsRune("._-@", c))
	}
	if !ok {
		return "", fmt.Errorf("%q is not an interface name (in %s)", z, a)
	}
	return a.String(), nil
}

// checkHostname accepts DNS names: dot-separated labels of letters, digits, hyphens and
// underscores, each 1 to 63 characters, 253 in all, with an optional final dot.
func checkHostname(h string) error {
	name := strings.TrimSuffix(h, ".")
	if name == "" || len(name) > 253 {
		return fmt.Errorf("%q is not a host name", h)
	}
	for _, label := range strings.Split(name, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Errorf("%q is not a host name", h)
		}
		for _, c := range label {
			if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != '-' && c != '_' {
				return fmt.Errorf("%q is not a host name", h)
			}
		}
	}
	return nil
}

// SplitTargets splits target lists as the url parameter gives them (comma-separated, as
// upstream's allow_list; the runner may also split a value on white space) into single
// targets, leaving out empty ones.
func SplitTargets(values []string) []string {
	var out []string
	for _, v := range values {
		out = append(out, strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' })...)
	}
	return out
}
