package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"maasgo/internal/tlstest"
)

// tlsServer serves "ok" over HTTPS with leaf; maxVersion, when set, caps the TLS version.
func tlsServer(t *testing.T, leaf *tlstest.Leaf, maxVersion uint16) string {
	t.Helper()
	cert, err := tls.X509KeyPair(leaf.CertPEM, leaf.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MaxVersion: maxVersion}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.URL
}

func get(t *testing.T, tr Trust, url string) error {
	t.Helper()
	tc, err := tr.Config()
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	hc := NewHTTPClient(Options{TLS: tc, Idle: 10 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	return nil
}

// TestTrust checks every way of checking the region's certificate against a real TLS
// server: the right CA or pin is accepted, anything else refused with an error that names
// the certificate problem and counts as a certificate error, and --insecure accepts all.
func TestTrust(t *testing.T) {
	ca, other := tlstest.NewCA(t, "region CA"), tlstest.NewCA(t, "another CA")
	issued := ca.Issue(t, "127.0.0.1")
	wrongHost := ca.Issue(t, "region.example")
	self := tlstest.SelfSigned(t, "127.0.0.1")
	expiredByCA := ca.IssueValid(t, time.Now().Add(-2*time.Hour), time.Now().Add(-time.Hour), "127.0.0.1")
	hexFP := func(l *tlstest.Leaf) string { return hex.EncodeToString(l.Fingerprint()) }
	colonFP := Fingerprint(issued.Cert.Raw)

	urlIssued := tlsServer(t, issued, 0)
	urlWrongHost := tlsServer(t, wrongHost, 0)
	urlSelf := tlsServer(t, self, 0)
	urlExpired := tlsServer(t, expiredByCA, 0)
	urlOld := tlsServer(t, issued, tls.VersionTLS11)

	for _, tc := range []struct {
		name    string
		trust   Trust
		url     string
		wantErr string // "" for success
	}{
		{"the region's CA", Trust{CA: string(ca.PEM)}, urlIssued, ""},
		{"a bundle holding the region's CA", Trust{CA: string(other.PEM) + string(ca.PEM)}, urlIssued, ""},
		{"another CA", Trust{CA: string(other.PEM)}, urlIssued, "certificate signed by unknown authority"},
		{"the system's authorities", Trust{}, urlIssued, "certificate signed by unknown authority"},
		{"a certificate for another host", Trust{CA: string(ca.PEM)}, urlWrongHost, "cannot validate certificate for 127.0.0.1"},
		{"an expired certificate", Trust{CA: string(ca.PEM)}, urlExpired, "expired"},
		{"a self-signed certificate as its own CA", Trust{CA: string(self.CertPEM)}, urlSelf, ""},
		{"the pinned self-signed certificate", Trust{Fingerprint: hexFP(self)}, urlSelf, ""},
		{"the pinned certificate in openssl's format", Trust{Fingerprint: "SHA256 Fingerprint=" + colonFP}, urlIssued, ""},
		{"a pin of another certificate", Trust{Fingerprint: hexFP(issued)}, urlSelf, "not the pinned " + colonFP},
		{"a pin and the CA", Trust{CA: string(ca.PEM), Fingerprint: hexFP(issued)}, urlIssued, ""},
		{"a pin and another CA", Trust{CA: string(other.PEM), Fingerprint: hexFP(issued)}, urlIssued, "unknown authority"},
		{"a pinned expired certificate", Trust{Fingerprint: hexFP(expiredByCA)}, urlExpired, "the pinned certificate is valid from"},
		{"TLS 1.1", Trust{CA: string(ca.PEM)}, urlOld, "protocol version"},
		{"insecure, self-signed", Trust{Insecure: true}, urlSelf, ""},
		{"insecure, another host", Trust{Insecure: true}, urlWrongHost, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := get(t, tc.trust, tc.url)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.wantErr == "":
			case err == nil:
				t.Fatalf("accepted; want an error with %q", tc.wantErr)
			case !strings.Contains(err.Error(), tc.wantErr):
				t.Fatalf("error %q; want %q", err, tc.wantErr)
			case tc.name != "TLS 1.1" && !IsCertificateError(err):
				t.Fatalf("%v is not a certificate error", err)
			}
		})
	}
	// A refused pin says which certificate was seen.
	err := get(t, Trust{Fingerprint: hexFP(issued)}, urlSelf)
	var pe *PinError
	if !errors.As(err, &pe) || !bytes.Equal(pe.Got, self.Fingerprint()) || !strings.Contains(err.Error(), "self-signed region") {
		t.Errorf("pin error: %v", err)
	}
}

func TestTrustConfig(t *testing.T) {
	ca := tlstest.NewCA(t, "region CA")
	if c, err := (Trust{}).Config(); c != nil || err != nil {
		t.Errorf("zero trust: %v %v; want nil (the system's authorities)", c, err)
	}
	c, err := Trust{CA: string(ca.PEM)}.Config()
	if err != nil || c.MinVersion != tls.VersionTLS12 || c.InsecureSkipVerify {
		t.Errorf("CA: %+v %v", c, err)
	}
	for _, bad := range []Trust{
		{CA: "not PEM"},
		{CA: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"},
		{Fingerprint: "abcd"},
		{Fingerprint: strings.Repeat("zz", 32)},
		{CA: string(ca.PEM), Fingerprint: strings.Repeat("a", 63)},
	} {
		_, err := bad.Config()
		var te *TrustError
		if !errors.As(err, &te) || !IsCertificateError(err) {
			t.Errorf("%+v: %v; want a TrustError", bad, err)
		}
	}
	// The old entry point still works: the CLI's --cacerts and --insecure.
	if c, err := TLSConfig(string(ca.PEM), false); err != nil || c.RootCAs == nil {
		t.Errorf("TLSConfig: %v %v", c, err)
	}
	if c, err := TLSConfig("", true); err != nil || !c.InsecureSkipVerify {
		t.Errorf("TLSConfig insecure: %v %v", c, err)
	}
}

func TestParseFingerprint(t *testing.T) {
	want := bytes.Repeat([]byte{0xab}, 32)
	for _, s := range []string{
		strings.Repeat("ab", 32),
		strings.Repeat("AB", 32),
		strings.TrimSuffix(strings.Repeat("AB:", 32), ":"),
		"sha256:" + strings.Repeat("ab", 32),
		"SHA256 Fingerprint=" + strings.TrimSuffix(strings.Repeat("AB:", 32), ":"),
		"  " + strings.Repeat("ab", 32) + "\n",
	} {
		got, err := ParseFingerprint(s)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("ParseFingerprint(%q) = %x, %v", s, got, err)
		}
	}
	for _, s := range []string{"", "ab", strings.Repeat("ab", 31), strings.Repeat("ab", 33), "sha1:" + strings.Repeat("ab", 32), strings.Repeat("g", 64)} {
		if _, err := ParseFingerprint(s); err == nil {
			t.Errorf("ParseFingerprint(%q) accepted", s)
		}
	}
	if got := Fingerprint([]byte("x")); len(got) != 95 || strings.ToUpper(got) != got {
		t.Errorf("Fingerprint: %q", got)
	}
}

func FuzzParseFingerprint(f *testing.F) {
	f.Add(strings.Repeat("ab", 32))
	f.Add("sha256:" + strings.TrimSuffix(strings.Repeat("AB:", 32), ":"))
	f.Add("SHA256 Fingerprint=")
	f.Fuzz(func(t *testing.T, s string) {
		b, err := ParseFingerprint(s)
		if err == nil && len(b) != 32 {
			t.Fatalf("%q gave %d bytes", s, len(b))
		}
		if err == nil {
			if again, err := ParseFingerprint(Fingerprint0(b)); err != nil || !bytes.Equal(again, b) {
				t.Fatalf("round trip of %x: %x %v", b, again, err)
			}
		}
	})
}

// Fingerprint0 formats a digest as Fingerprint does.
func Fingerprint0(sum []byte) string { return colonHex(sum) }

func FuzzParseCertificates(f *testing.F) {
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"))
	f.Add([]byte("-----BEGIN X-----\n-----END X-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		certs, err := ParseCertificates(data)
		if err == nil && len(certs) == 0 {
			t.Fatal("no certificates and no error")
		}
	})
}
