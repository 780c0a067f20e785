// Package tlstest makes certificate authorities and certificates for tests: ECDSA P-256
// keys, made fresh in the test, valid for an hour.
package tlstest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// CA is a certificate authority.
type CA struct {
	Cert *x509.Certificate
	Key  *ecdsa.PrivateKey
	// PEM is the CA's certificate.
	PEM []byte
}

// Leaf is a certificate and its key.
type Leaf struct {
	Cert    *x509.Certificate
	CertPEM []byte // the certificate, then the chain given to Issue
	KeyPEM  []byte
}

// Fingerprint is the SHA-256 of the certificate, in hex.
func (l *Leaf) Fingerprint() []byte {
	sum := sha256.Sum256(l.Cert.Raw)
	return sum[:]
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func serial(t testing.TB) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// NewCA makes a root CA named name.
func NewCA(t testing.TB, name string) *CA {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: serial(t), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &CA{Cert: cert, Key: key, PEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// template is a server certificate for hosts (IP addresses or DNS names).
func template(t testing.TB, name string, hosts []string, notBefore, notAfter time.Time) *x509.Certificate {
	tmpl := &x509.Certificate{
		SerialNumber: serial(t), Subject: pkix.Name{CommonName: name},
		NotBefore: notBefore, NotAfter: notAfter,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	return tmpl
}

// Issue makes a server certificate for hosts signed by ca, valid for an hour.
func (ca *CA) Issue(t testing.TB, hosts ...string) *Leaf {
	t.Helper()
	return ca.IssueValid(t, time.Now().Add(-time.Minute), time.Now().Add(time.Hour), hosts...)
}

// IssueValid makes a server certificate for hosts signed by ca, valid from notBefore to
// notAfter.
func (ca *CA) IssueValid(t testing.TB, notBefore, notAfter time.Time, hosts ...string) *Leaf {
	t.Helper()
	key := newKey(t)
	der, err := x509.CreateCertificate(rand.Reader, template(t, "region", hosts, notBefore, notAfter), ca.Cert, key.Public(), ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	return leaf(t, der, key)
}

// SelfSigned makes a self-signed server certificate for hosts.
func SelfSigned(t testing.TB, hosts ...string) *Leaf {
	t.Helper()
	key := newKey(t)
	tmpl := template(t, "self-signed region", hosts, time.Now().Add(-time.Minute), time.Now().Add(time.Hour))
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	return leaf(t, der, key)
}

func leaf(t testing.TB, der []byte, key *ecdsa.PrivateKey) *Leaf {
	t.Helper()
	cert, _ := x509.ParseCertificate(der)
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return &Leaf{Cert: cert, CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})}
}

// Write puts data in dir/name, mode 0600, and returns its path.
func Write(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
