package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"sync/atomic"
	"time"

	"github.com/spf13/pflag"

	"maasgo/client"
)

// tlsOpts are serve's TLS flags.
type tlsOpts struct {
	cert string // PEM certificate chain, leaf first
	key  string // PEM private key of the leaf
	ca   string // PEM authorities handed to machines
}

func (o *tlsOpts) addFlags(f *pflag.FlagSet) {
	f.StringVar(&o.cert, "tls-cert", "", "serve HTTPS on --listen with this PEM certificate `FILE` (the chain, the region's certificate first); needs --tls-key")
	f.StringVar(&o.key, "tls-key", "", "the PEM private key `FILE` of --tls-cert")
	f.StringVar(&o.ca, "tls-ca", "", "the PEM `FILE` of the authorities machines check the region's certificate against, put in their user data (default: the last certificate of --tls-cert when it is self-signed, else none: the machines' own authorities)")
}

// regionTLS is the region's certificate, which SIGHUP reloads from the same files, and the
// authorities it hands machines.
type regionTLS struct {
	o    tlsOpts
	cert atomic.Pointer[tls.Certificate] // nil without --tls-cert
	ca   atomic.Pointer[string]          // canonical PEM, "" for none
}

// loadTLS reads the TLS flags' files; it is nil when none is given.
func loadTLS(o tlsOpts) (*regionTLS, error) {
	if o.cert == "" && o.key == "" && o.ca == "" {
		return nil, nil
	}
	if (o.cert == "") != (o.key == "") {
		return nil, errors.New("--tls-cert and --tls-key go together: give both")
	}
	t := &regionTLS{o: o}
	if err := t.load(time.Now()); err != nil {
		return nil, err
	}
	return t, nil
}

// load reads the files and, when they are all good, replaces what t serves.
func (t *regionTLS) load(now time.Time) error {
	var cert *tls.Certificate
	var ca string
	if t.o.cert != "" {
		c, err := readKeyPair(t.o.cert, t.o.key, now)
		if err != nil {
			return err
		}
		cert = c
		ca = selfSignedRoot(c)
	}
	if t.o.ca != "" {
		b, err := os.ReadFile(t.o.ca)
		if err != nil {
			return fmt.Errorf("read --tls-ca: %w", err)
		}
		roots, err := client.ParseCertificates(b)
		if err != nil {
			return fmt.Errorf("--tls-ca %s: %w", t.o.ca, err)
		}
		if cert != nil {
			if err := vouches(roots, cert, now); err != nil {
				return fmt.Errorf("--tls-ca %s does not vouch for --tls-cert %s, machines would refuse the region: %w", t.o.ca, t.o.cert, err)
			}
		}
		ca = encodeCerts(roots)
	}
	t.cert.Store(cert)
	t.ca.Store(&ca)
	return nil
}

// readKeyPair reads and checks the certificate chain and its key.
func readKeyPair(certFile, keyFile string, now time.Time) (*tls.Certificate, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("read --tls-cert: %w", err)
	}
	if _, err := client.ParseCertificates(certPEM); err != nil {
		return nil, fmt.Errorf("--tls-cert %s: %w", certFile, err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("read --tls-key: %w", err)
	}
	if b, _ := pem.Decode(keyPEM); b == nil {
		return nil, fmt.Errorf("--tls-key %s: no PEM private key in it", keyFile)
	}
	c, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("--tls-cert %s with --tls-key %s: %w", certFile, keyFile, err)
	}
	leaf := c.Leaf
	if leaf == nil {
		if leaf, err = x509.ParseCertificate(c.Certificate[0]); err != nil {
			return nil, fmt.Errorf("--tls-cert %s: %w", certFile, err)
		}
		c.Leaf = leaf
	}
	if now.After(leaf.NotAfter) || now.Before(leaf.NotBefore) {
		return nil, fmt.Errorf("--tls-cert %s: the certificate (%s) is valid from %s to %s, not now", certFile, leaf.Subject,
			leaf.NotBefore.UTC().Format(time.RFC3339), leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	return &c, nil
}

// selfSignedRoot is the PEM of the chain's last certificate when it signed itself (the
// region's own certificate, or a private root sent along), which machines can then trust;
// "" for a chain that ends below a root the machines are expected to know.
func selfSignedRoot(c *tls.Certificate) string {
	last, err := x509.ParseCertificate(c.Certificate[len(c.Certificate)-1])
	if err != nil || !bytes.Equal(last.RawSubject, last.RawIssuer) || last.CheckSignatureFrom(last) != nil {
		// CheckSignatureFrom refuses a self-signed leaf that is not a CA: check the
		// signature directly.
		if err != nil || !bytes.Equal(last.RawSubject, last.RawIssuer) ||
			last.CheckSignature(last.SignatureAlgorithm, last.RawTBSCertificate, last.Signature) != nil {
			return ""
		}
	}
	return encodeCerts([]*x509.Certificate{last})
}

// vouches checks that the chain of c leads to one of roots.
func vouches(roots []*x509.Certificate, c *tls.Certificate, now time.Time) error {
	pool, inter := x509.NewCertPool(), x509.NewCertPool()
	for _, r := range roots {
		pool.AddCert(r)
	}
	for _, der := range c.Certificate[1:] {
		if ic, err := x509.ParseCertificate(der); err == nil {
			inter.AddCert(ic)
		}
	}
	_, err := c.Leaf.Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter, CurrentTime: now})
	return err
}

func encodeCerts(certs []*x509.Certificate) string {
	var b bytes.Buffer
	for _, c := range certs {
		pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	return b.String()
}

// serving reports whether the region serves HTTPS.
func (t *regionTLS) serving() bool { return t != nil && t.cert.Load() != nil }

// machineCA is the PEM handed to machines, "" for none (a nil t included).
func (t *regionTLS) machineCA() string {
	if t == nil {
		return ""
	}
	if p := t.ca.Load(); p != nil {
		return *p
	}
	return ""
}

// serve serves srv on ln: HTTPS with the current certificate (TLS 1.2 at least, HTTP/1.1
// as on the plain port) when the region has one, else plain HTTP. It logs what an operator
// should know about the TLS setup first.
func (t *regionTLS) serve(srv *http.Server, ln net.Listener, log *slog.Logger, advertisedURL string) error {
	if t == nil {
		return srv.Serve(ln)
	}
	for _, w := range t.warnings(advertisedURL) {
		log.Warn(w)
	}
	if !t.serving() {
		log.Info("serving plain HTTP; machines are handed the --tls-ca authorities for an https:// URL", "tls_ca", t.o.ca)
		return srv.Serve(ln)
	}
	srv.TLSConfig = &tls.Config{
		MinVersion: tls.VersionTLS12,
		NextProtos: []string{"http/1.1"},
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return t.cert.Load(), nil
		},
	}
	// A non-nil empty map keeps HTTP/2 off: requests, their limits and their idle timeouts
	// work one connection per request, as on plain HTTP.
	srv.TLSNextProto = map[string]func(*http.Server, *tls.Conn, http.Handler){}
	log.Info("serving HTTPS", "cert", t.o.cert, "fingerprint", t.fingerprint(), "machines_get_ca", t.machineCA() != "")
	return srv.ServeTLS(ln, "", "")
}

// reload reads the files again on SIGHUP; on failure the region keeps what it served.
func (t *regionTLS) reload(log *slog.Logger) {
	if t == nil {
		return
	}
	if err := t.load(time.Now()); err != nil {
		log.Error("SIGHUP: TLS files not reloaded; still serving the previous certificate", "err", err)
		return
	}
	log.Info("SIGHUP: TLS files reloaded", "fingerprint", t.fingerprint())
}

// fingerprint is the SHA-256 fingerprint of the served certificate, "" without one.
func (t *regionTLS) fingerprint() string {
	if c := t.cert.Load(); c != nil {
		return client.Fingerprint(c.Certificate[0])
	}
	return ""
}

// warnings are what an operator should know about the setup: a key others can read, a
// certificate that does not name the advertised host.
func (t *regionTLS) warnings(advertisedURL string) []string {
	var out []string
	if fi, err := os.Stat(t.o.key); err == nil && fi.Mode().Perm()&0o077 != 0 {
		out = append(out, fmt.Sprintf("--tls-key %s can be read by other users (mode %04o): chmod 600 it", t.o.key, fi.Mode().Perm()))
	}
	c := t.cert.Load()
	if c == nil {
		return out
	}
	if u, err := url.Parse(advertisedURL); err == nil && u.Hostname() != "" {
		if err := c.Leaf.VerifyHostname(u.Hostname()); err != nil {
			out = append(out, fmt.Sprintf("--tls-cert %s does not name the host of the region's URL %s (%v): machines checking it against a CA will refuse the region (give --url with a name the certificate holds)", t.o.cert, advertisedURL, err))
		}
	}
	if u, err := url.Parse(advertisedURL); err == nil && u.Scheme != "https" {
		out = append(out, fmt.Sprintf("the region serves HTTPS but its URL %s is not https://", advertisedURL))
	}
	if t.machineCA() == "" {
		out = append(out, "no --tls-ca and the certificate chain does not end with a self-signed root: machines check the region's certificate against their own authorities")
	}
	return out
}

// scheme is the scheme of the URL the region advertises by default.
func (t *regionTLS) scheme() string {
	if t.serving() {
		return "https"
	}
	return "http"
}
