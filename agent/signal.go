package agent

import (
	"context"
	"fmt"
	"io"
	"time"

	"maasgo/client"
	"maasgo/wire"
)

// Signal is one op=signal request (protocol.md §4.3); Fields is its encoding and Files its
// file parts, which a transport sends after the fields.
type Signal = wire.Signal

// File is a file part of a signal: the part name (also its filename) and the file it streams.
type File = wire.SignalFile

// PyFloat renders f as Python's repr does: "60.0", "0.052366007", "1e+16".
func PyFloat(f float64) string { return wire.PyFloat(f) }

// Region is the part of the region's metadata API the runner uses. The HTTP implementation is
// NewRegion (over maasgo/client); tests use an in-process region that speaks the same wire
// format.
type Region interface {
	// Scripts fetches the scripts tar (GET <metadata>/<ver>/maas-scripts). ok is false when
	// the region answers 204 No Content: there is nothing to run. The caller closes body.
	Scripts(ctx context.Context) (body io.ReadCloser, ok bool, err error)
	// Signal posts one signal (POST <metadata>/<ver>/ op=signal) and returns nil only when
	// the region answered 200. A non-empty idempotencyKey is sent as the Idempotency-Key
	// header; the region stores a signal whose key it has seen before only once.
	Signal(ctx context.Context, sig Signal, idempotencyKey string) error
}

// NewRegion is the region's metadata API at ep, over HTTP: requests signed with ep's
// credentials, each connection failing when it moves no data for idle (zero:
// DefaultIdleTimeout) so that the caller retries it.
//
// The region's certificate is checked as ep.TLS says; settings that cannot be used (a CA
// without certificates) make every call fail with a *client.TrustError, which the runner
// does not retry. Callers check them first with ep.TLS.Config().
func NewRegion(ep Endpoint, idle time.Duration) Region {
	if idle <= 0 {
		idle = DefaultIdleTimeout
	}
	tc, err := ep.TLS.Config()
	if err != nil {
		return brokenRegion{err}
	}
	return httpRegion{client.NewMetadata(ep.MetadataURL, ep.Credentials, client.NewHTTPClient(client.Options{Idle: idle, TLS: tc}))}
}

// brokenRegion fails every call: its TLS settings cannot be used.
type brokenRegion struct{ err error }

func (b brokenRegion) Scripts(context.Context) (io.ReadCloser, bool, error) {
	return nil, false, fmt.Errorf("download scripts: %w", b.err)
}

func (b brokenRegion) Signal(_ context.Context, sig Signal, _ string) error {
	return fmt.Errorf("signal %s: %w", sig.Status, b.err)
}

// InsecureWarning is what every command run with --insecure prints to standard error.
const InsecureWarning = "WARNING: --insecure: the region's TLS certificate is NOT checked. Anyone on the network path can " +
	"pose as the region: read this machine's credentials, hand it scripts to run as root and forge its results. " +
	"Give the region's CA (--tls-ca, tls_ca) or its certificate's fingerprint (--tls-fingerprint, tls_fingerprint) instead."

// HTTPError is an answer other than the one expected. The runner retries on any error, so
// this only carries the detail for messages (and tells a refused token, 401, apart).
type HTTPError = client.Error

// httpRegion is a Region over client.Metadata: a signal is sent as its fields, then its
// files streamed from the journal's copies.
type httpRegion struct{ m *client.Metadata }

func (r httpRegion) Scripts(ctx context.Context) (io.ReadCloser, bool, error) {
	body, ok, err := r.m.Scripts(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("download scripts: %w", err)
	}
	return body, ok, nil
}

func (r httpRegion) Signal(ctx context.Context, sig Signal, idempotencyKey string) error {
	fields := sig.Fields()
	body := make(client.Multipart, 0, len(fields)+len(sig.Files))
	for _, f := range fields {
		body = append(body, client.Part{Name: f.Name, Value: f.Value})
	}
	for _, f := range sig.Files {
		body = append(body, client.Part{Name: f.Name, File: true, Path: f.Path, Value: string(f.Data)})
	}
	if err := r.m.Signal(ctx, body, idempotencyKey); err != nil {
		return fmt.Errorf("signal %s: %w", sig.Status, err)
	}
	return nil
}
