package client

import (
	"context"
	"io"
	"net/http"

	"maasgo/wire"
)

// Metadata is a machine's client of the region's metadata API (protocol.md §4): the scripts
// tar download and op=signal. Each call makes one attempt (the clock skew is still learnt
// from its answer): the runner retries them itself, with backoff and an idempotency key, for
// as long as the machine lives.
type Metadata struct {
	*Client
	// URL is the versioned metadata URL, ending in "/":
	// http://10.0.0.2:5248/MAAS/metadata/2012-03-01/.
	URL string
}

// NewMetadata returns a client of the versioned metadata URL u, signing with creds over hc
// (nil: http.DefaultClient), as "maas-run-scripts".
func NewMetadata(u string, creds wire.Credentials, hc *http.Client) *Metadata {
	c := New(creds, hc)
	c.UserAgent = "maas-run-scripts"
	return &Metadata{Client: c, URL: u}
}

// Scripts fetches the scripts tar (GET <URL>maas-scripts). ok is false when the region
// answers 204 No Content: there is nothing to run. Another status is an *Error. The caller
// closes body.
func (m *Metadata) Scripts(ctx context.Context) (body io.ReadCloser, ok bool, err error) {
	resp, _, err := m.attempt(ctx, &Request{Method: http.MethodGet, URL: m.URL + "maas-scripts"})
	if err != nil {
		return nil, false, err
	}
	switch resp.StatusCode {
	case http.StatusOK:
		return resp.Body, true, nil
	case http.StatusNoContent:
		resp.Body.Close()
		return nil, false, nil
	}
	defer resp.Body.Close()
	return nil, false, readError(resp)
}

// Signal posts one signal (POST <URL>, op=signal among the parts) with its form fields and
// files; it returns nil only when the region answered 200, an *Error for another status. A
// non-empty idempotencyKey is sent as the Idempotency-Key header: the region stores a signal
// whose key it has seen before only once.
func (m *Metadata) Signal(ctx context.Context, body Multipart, idempotencyKey string) error {
	r := &Request{Method: http.MethodPost, URL: m.URL, Body: body}
	if idempotencyKey != "" {
		r.Header = http.Header{"Idempotency-Key": {idempotencyKey}}
	}
	resp, _, err := m.attempt(ctx, r)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return readError(resp)
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	return nil
}
