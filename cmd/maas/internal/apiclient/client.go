package apiclient

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"maasgo/wire"
)

// Client sends API calls, signed when it has a Signer.
type Client struct {
	HTTP *http.Client
	// Signer signs every attempt; nil sends anonymous requests.
	Signer *wire.Signer
}

// Do sends r. A 401 whose Date header changes the learnt clock skew is retried once with the
// corrected timestamp (protocol.md §2.3). The caller closes the response body.
func (c *Client) Do(ctx context.Context, r *Request) (*http.Response, error) {
	resp, err := c.attempt(ctx, r)
	if err != nil {
		return nil, err
	}
	if c.Signer != nil && c.Signer.Observe(resp) && resp.StatusCode == http.StatusUnauthorized {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		return c.attempt(ctx, r)
	}
	return resp, nil
}

func (c *Client) attempt(ctx context.Context, r *Request) (*http.Response, error) {
	req, err := r.HTTP(ctx)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept-Encoding", "identity")
	if c.Signer != nil {
		c.Signer.Sign(req)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", r.Method, redact(req), unwrapURLError(err))
	}
	return resp, nil
}

// redact names the request without its query string (which may carry values the user
// would rather not see echoed).
func redact(req *http.Request) string {
	u := *req.URL
	u.RawQuery = ""
	return u.String()
}

// unwrapURLError drops *url.Error's "Get URL:" prefix; the caller names the request.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) && ue.Err != nil {
		return ue.Err
	}
	return err
}

// TLSOptions say how to check the region's certificate.
type TLSOptions struct {
	// CACerts is PEM; when set, only these authorities are trusted.
	CACerts string
	// Insecure skips verification.
	Insecure bool
}

// NewHTTPClient returns an HTTP client for the TLS options. Redirects are not followed for
// requests with a body, so a POST never turns into a GET.
func NewHTTPClient(o TLSOptions) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DisableCompression = true
	if o.Insecure || o.CACerts != "" {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12}
		if o.Insecure {
			cfg.InsecureSkipVerify = true
		} else {
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM([]byte(o.CACerts)) {
				return nil, errors.New("no PEM certificates in the CA file")
			}
			cfg.RootCAs = pool
		}
		tr.TLSClientConfig = cfg
	}
	return &http.Client{
		Transport: tr,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 10 {
				return errors.New("stopped after 10 redirects")
			}
			if req.Method != http.MethodGet && req.Method != http.MethodHead {
				return http.ErrUseLastResponse
			}
			return nil
		},
	}, nil
}
