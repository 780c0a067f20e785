package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/spf13/pflag"

	"maasgo/agent"
	"maasgo/client"
)

// trustOpts are the flags that say how to check the region's TLS certificate. They win over
// the config's tls_ca and tls_fingerprint.
type trustOpts struct {
	caFile      string
	fingerprint string
	insecure    bool
	// warned is set once the --insecure warning is printed.
	warned bool
	// stderr receives the --insecure warning (nil: os.Stderr).
	stderr io.Writer
}

func (o *trustOpts) addFlags(fl *pflag.FlagSet) {
	fl.StringVar(&o.caFile, "tls-ca", "", "check the region's TLS certificate against the PEM authorities in `FILE` (instead of the config's tls_ca)")
	fl.StringVar(&o.fingerprint, "tls-fingerprint", "", "trust only the region certificate whose SHA-256 fingerprint is `HEX` (openssl x509 -fingerprint -sha256; instead of the config's tls_fingerprint)")
	fl.BoolVar(&o.insecure, "insecure", false, "do NOT check the region's TLS certificate (a warning is printed on every run)")
}

// flagTrust is what the flags alone say.
func (o *trustOpts) flagTrust() (client.Trust, error) {
	if o.insecure && (o.caFile != "" || o.fingerprint != "") {
		return client.Trust{}, fmt.Errorf("--insecure cannot be used with --tls-ca or --tls-fingerprint")
	}
	var t client.Trust
	if o.caFile != "" {
		b, err := os.ReadFile(o.caFile)
		if err != nil {
			return t, fmt.Errorf("read --tls-ca: %w", err)
		}
		if _, err := client.ParseCertificates(b); err != nil {
			return t, fmt.Errorf("--tls-ca %s: %w", o.caFile, err)
		}
		t.CA = string(b)
	}
	if o.fingerprint != "" {
		if _, err := client.ParseFingerprint(o.fingerprint); err != nil {
			return t, fmt.Errorf("--tls-fingerprint: %w", err)
		}
		t.Fingerprint = o.fingerprint
	}
	t.Insecure = o.insecure
	o.warn()
	return t, nil
}

// override lays the flags over t (the config's or a saved run's settings): --insecure
// replaces them all, --tls-ca and --tls-fingerprint replace their own. The result is checked.
func (o *trustOpts) override(t client.Trust) (client.Trust, error) {
	f, err := o.flagTrust()
	if err != nil {
		return t, err
	}
	switch {
	case f.Insecure:
		return f, nil
	case f.CA != "" || f.Fingerprint != "":
		if f.CA != "" {
			t.CA = f.CA
		}
		if f.Fingerprint != "" {
			t.Fingerprint = f.Fingerprint
		}
	}
	if _, err := t.Config(); err != nil {
		return t, err
	}
	return t, nil
}

// warn prints agent.InsecureWarning once per command with --insecure.
func (o *trustOpts) warn() {
	if !o.insecure || o.warned {
		return
	}
	o.warned = true
	w := o.stderr
	if w == nil {
		w = os.Stderr
	}
	fmt.Fprintln(w, agent.InsecureWarning)
}

// httpClient is an HTTP client for the region that checks its certificate as t says, with
// idle as its idle timeout.
func httpClient(t client.Trust, idle time.Duration) (*http.Client, error) {
	tc, err := t.Config()
	if err != nil {
		return nil, err
	}
	return client.NewHTTPClient(client.Options{Idle: idle, TLS: tc}), nil
}

// storedTrust is what a credentials file keeps of t: never Insecure.
func storedTrust(t client.Trust) client.Trust {
	return client.Trust{CA: t.CA, Fingerprint: t.Fingerprint}
}
