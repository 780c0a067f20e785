package agent

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"gopkg.in/yaml.v3"

	"maasgo/client"
	"maasgo/wire"
)

// Creds is a machine's credentials file as register-machine and get-machine-token write it
// and report-results reads it (protocol.md §2.4): the token nested under reporting: maas:,
// with the status endpoint <MAAS URL>/metadata/status/<system_id>. TLS comes from the
// top-level keys tls_ca and tls_fingerprint: cloud-init builds its webhook reporter from
// every key of reporting: maas: and fails on one it does not know, so they stay out of it.
type Creds struct {
	wire.Credentials
	Endpoint string
	TLS      client.Trust
}

// NewCreds are the credentials of machine systemID on the region at maasURL
// (http://host:5240/MAAS).
func NewCreds(maasURL, systemID string, c wire.Credentials) Creds {
	return Creds{Credentials: c, Endpoint: strings.TrimRight(maasURL, "/") + "/metadata/status/" + systemID}
}

// Marshal renders the file as upstream dumps it: block-style YAML, keys sorted, two spaces
// of indentation. consumer_secret is written only when set (the region's tokens have none).
func (c Creds) Marshal() ([]byte, error) {
	m := map[string]string{"consumer_key": c.ConsumerKey, "endpoint": c.Endpoint, "token_key": c.TokenKey,
		"token_secret": c.TokenSecret}
	if c.ConsumerSecret != "" {
		m["consumer_secret"] = c.ConsumerSecret
	}
	doc := map[string]any{"reporting": map[string]any{"maas": m}}
	if c.TLS.CA != "" {
		doc["tls_ca"] = c.TLS.CA
	}
	if c.TLS.Fingerprint != "" {
		doc["tls_fingerprint"] = c.TLS.Fingerprint
	}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("credentials file: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("credentials file: %w", err)
	}
	return b.Bytes(), nil
}

// ParseCreds reads a credentials file: a YAML mapping with reporting: maas: holding
// consumer_key, token_key, token_secret, endpoint and optionally consumer_secret (other keys,
// such as type: webhook, are ignored), and at the top level the optional tls_ca and
// tls_fingerprint (see Creds). Missing keys stay empty; the caller decides which it needs,
// since command-line flags may supply them. A tls_ca without a certificate or a
// tls_fingerprint that is not a SHA-256 is an error.
func ParseCreds(data []byte) (Creds, error) {
	var c Creds
	if len(data) > maxConfigSize {
		return c, fmt.Errorf("larger than %d bytes", maxConfigSize)
	}
	root, err := decodeYAMLDoc(data)
	if err != nil {
		return c, err
	}
	if root == nil || root.Kind != yaml.MappingNode {
		return c, errors.New("want a YAML mapping with a reporting.maas section")
	}
	rep := mappingValue(root, "reporting")
	if rep == nil || rep.Kind != yaml.MappingNode {
		return c, errors.New("no reporting: mapping")
	}
	m := mappingValue(rep, "maas")
	if m == nil || m.Kind != yaml.MappingNode {
		return c, errors.New("no reporting: maas: mapping")
	}
	fields := map[string]*string{
		"consumer_key": &c.ConsumerKey, "consumer_secret": &c.ConsumerSecret, "token_key": &c.TokenKey,
		"token_secret": &c.TokenSecret, "endpoint": &c.Endpoint,
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := deref(m.Content[i]), deref(m.Content[i+1])
		dst, ok := fields[k.Value]
		if k.Kind != yaml.ScalarNode || !ok {
			continue
		}
		if v.Kind != yaml.ScalarNode {
			return Creds{}, fmt.Errorf("reporting.maas.%s: want a string", k.Value)
		}
		if v.ShortTag() == "!!null" {
			continue
		}
		*dst = v.Value
	}
	for key, dst := range map[string]*string{"tls_ca": &c.TLS.CA, "tls_fingerprint": &c.TLS.Fingerprint} {
		v := mappingValue(root, key)
		if v == nil || v.ShortTag() == "!!null" {
			continue
		}
		if v.Kind != yaml.ScalarNode {
			return Creds{}, fmt.Errorf("%s: want a string", key)
		}
		*dst = v.Value
	}
	if _, err := c.TLS.Config(); err != nil {
		return Creds{}, err
	}
	return c, nil
}

// ReportMetadataURL is the versioned metadata URL report-results talks to, built from the
// credentials file's endpoint (or --metadata-url): scheme://host[:port], then the path before
// "/metadata" when the endpoint has one, else "/MAAS" (upstream always uses "/MAAS"), then
// "/metadata/<apiVersion>/".
//
//	http://10.0.0.2:5240/MAAS/metadata/status/abc123 → http://10.0.0.2:5240/MAAS/metadata/2012-03-01/
//	https://maas.example/region/MAAS/metadata/       → https://maas.example/region/MAAS/metadata/2012-03-01/
//	http://10.0.0.2:5240                             → http://10.0.0.2:5240/MAAS/metadata/2012-03-01/
func ReportMetadataURL(endpoint, apiVersion string) (string, error) {
	endpoint = strings.TrimSpace(endpoint)
	if endpoint == "" {
		return "", errors.New("no MAAS URL set: give a credentials file with reporting.maas.endpoint, or --metadata-url")
	}
	u, err := url.Parse(endpoint)
	if err != nil {
		return "", fmt.Errorf("endpoint %q: %w", endpoint, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return "", fmt.Errorf("endpoint %q: want http(s)://host[:port]/MAAS/metadata/status/SYSTEM_ID", endpoint)
	}
	prefix := "/MAAS"
	p := u.EscapedPath()
	if i := strings.Index(p+"/", "/metadata/"); i >= 0 {
		prefix = strings.TrimRight(p[:i], "/")
	}
	return u.Scheme + "://" + u.Host + prefix + "/metadata/" + apiVersion + "/", nil
}
