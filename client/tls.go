package client

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Trust is how a client checks the region's TLS certificate. Every client of the region
// (the CLI, the agent, the tools under hack/) builds its tls.Config from one with Config.
//
//   - CA, a PEM bundle, is the only set of authorities trusted: the region's chain must lead
//     to one of them and name the host of the URL (as a browser checks).
//   - Fingerprint pins the region's own certificate: the SHA-256 of the leaf certificate's
//     DER encoding, as `openssl x509 -noout -fingerprint -sha256` prints it (hex, colons and
//     case optional, an optional "sha256:" prefix). A pinned certificate is trusted whoever
//     issued it and whatever host it names, while it is within its validity period. With CA
//     too, both checks must pass.
//   - Insecure skips every check; callers warn about it.
//
// With none of them set, the system's authorities are trusted.
type Trust struct {
	CA          string `json:"ca,omitempty"`
	Fingerprint string `json:"fingerprint,omitempty"`
	// Insecure is never saved: skipping the checks is a choice made again on every run.
	Insecure bool `json:"-"`
}

// IsZero reports whether t trusts the system's authorities (nothing set).
func (t Trust) IsZero() bool { return t.CA == "" && t.Fingerprint == "" && !t.Insecure }

// Config builds the tls.Config: TLS 1.2 at least. It is nil when t is zero (Go's defaults:
// the system's authorities). It fails when CA holds no certificate or Fingerprint is not a
// SHA-256 digest.
func (t Trust) Config() (*tls.Config, error) {
	if t.IsZero() {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if t.Insecure {
		cfg.InsecureSkipVerify = true
		return cfg, nil
	}
	if t.CA != "" {
		pool, err := CAPool([]byte(t.CA))
		if err != nil {
			return nil, &TrustError{Err: err}
		}
		cfg.RootCAs = pool
	}
	if t.Fingerprint == "" {
		return cfg, nil
	}
	pin, err := ParseFingerprint(t.Fingerprint)
	if err != nil {
		return nil, &TrustError{Err: err}
	}
	roots := cfg.RootCAs
	// The standard verification would refuse a self-signed certificate that the pin alone
	// vouches for: it is turned off and VerifyConnection does the checks instead, the chain
	// to the CA included when one is given. Resumed sessions go through VerifyConnection too.
	cfg.InsecureSkipVerify = true
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("the region sent no certificate")
		}
		leaf := cs.PeerCertificates[0]
		got := sha256.Sum256(leaf.Raw)
		if !bytes.Equal(got[:], pin) {
			return &PinError{Subject: leaf.Subject.String(), Got: got[:], Want: pin}
		}
		if roots != nil {
			inter := x509.NewCertPool()
			for _, c := range cs.PeerCertificates[1:] {
				inter.AddCert(c)
			}
			_, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, DNSName: cs.ServerName})
			if err != nil {
				return &tls.CertificateVerificationError{UnverifiedCertificates: cs.PeerCertificates, Err: err}
			}
			return nil
		}
		if now := time.Now(); now.Before(leaf.NotBefore) || now.After(leaf.NotAfter) {
			return &tls.CertificateVerificationError{UnverifiedCertificates: cs.PeerCertificates,
				Err: x509.CertificateInvalidError{Cert: leaf, Reason: x509.Expired,
					Detail: fmt.Sprintf("the pinned certificate is valid from %s to %s, not at %s",
						leaf.NotBefore.UTC().Format(time.RFC3339), leaf.NotAfter.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))}}
		}
		return nil
	}
	return cfg, nil
}

// TLSConfig is how to check the region's certificate: caPEM, when set, holds the only
// authorities trusted; insecure skips the check. It is nil when neither is given (the
// system's authorities). It is Trust{CA: caPEM, Insecure: insecure}.Config().
func TLSConfig(caPEM string, insecure bool) (*tls.Config, error) {
	return Trust{CA: caPEM, Insecure: insecure}.Config()
}

// CAPool reads a PEM bundle of authorities; it fails when the bundle holds no certificate
// or a CERTIFICATE block that does not parse.
func CAPool(pemData []byte) (*x509.CertPool, error) {
	certs, err := ParseCertificates(pemData)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	for _, c := range certs {
		pool.AddCert(c)
	}
	return pool, nil
}

// ParseCertificates reads the CERTIFICATE blocks of a PEM bundle (other blocks are skipped);
// it fails when there is none or one does not parse.
func ParseCertificates(pemData []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	rest := pemData
	for {
		block, r := pem.Decode(rest)
		if block == nil {
			break
		}
		rest = r
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d of the CA bundle: %w", len(out)+1, err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, errors.New("no PEM certificates in the CA bundle")
	}
	return out, nil
}

// ParseFingerprint reads a SHA-256 fingerprint: 64 hex digits, in pairs separated by colons
// or not, in either case, with an optional "sha256:" or "SHA256 Fingerprint=" prefix (as
// openssl prints it).
func ParseFingerprint(s string) ([]byte, error) {
	v := strings.TrimSpace(s)
	for _, p := range []string{"sha256 fingerprint=", "sha256:", "sha256="} {
		if strings.HasPrefix(strings.ToLower(v), p) {
			v = v[len(p):]
			break
		}
	}
	v = strings.ReplaceAll(v, ":", "")
	b, err := hex.DecodeString(v)
	if err != nil || len(b) != sha256.Size {
		return nil, fmt.Errorf("TLS fingerprint %q: want the SHA-256 of the region's certificate, 64 hex digits (colons allowed)", truncate(s, 120))
	}
	return b, nil
}

// Fingerprint is the SHA-256 of a certificate's DER encoding, as colon-separated upper-case
// hex pairs (openssl's format).
func Fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	return colonHex(sum[:])
}

func colonHex(b []byte) string {
	h := strings.ToUpper(hex.EncodeToString(b))
	var sb strings.Builder
	for i := 0; i < len(h); i += 2 {
		if i > 0 {
			sb.WriteByte(':')
		}
		sb.WriteString(h[i : i+2])
	}
	return sb.String()
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// PinError says the region's certificate is not the pinned one.
type PinError struct {
	Subject   string
	Got, Want []byte
}

func (e *PinError) Error() string {
	return fmt.Sprintf("the region's TLS certificate (%s) has SHA-256 fingerprint %s, not the pinned %s", e.Subject, colonHex(e.Got), colonHex(e.Want))
}

// TrustError says the settings that check the region's certificate are unusable (a CA
// bundle without certificates, a malformed fingerprint).
type TrustError struct{ Err error }

func (e *TrustError) Error() string { return "TLS settings: " + e.Err.Error() }
func (e *TrustError) Unwrap() error { return e.Err }

// IsCertificateError reports whether err is the region's certificate failing the checks
// (an unknown authority, another host's name, an expired or pinned-out certificate), or the
// settings that check it being unusable (*TrustError): a retry cannot mend it.
func IsCertificateError(err error) bool {
	var (
		te  *TrustError
		pe  *PinError
		cve *tls.CertificateVerificationError
		ua  x509.UnknownAuthorityError
		he  x509.HostnameError
		ci  x509.CertificateInvalidError
	)
	return errors.As(err, &te) || errors.As(err, &pe) || errors.As(err, &cve) || errors.As(err, &ua) || errors.As(err, &he) || errors.As(err, &ci)
}
