package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"maasgo/client"
	"maasgo/wire"
)

// DefaultConfigPath is where the ephemeral environment keeps the runner's credentials.
const DefaultConfigPath = "/etc/cloud/cloud.cfg.d/91_kernel_cmdline_url.cfg"

// DefaultAPIVersion is the metadata API version the clients use.
const DefaultAPIVersion = "2012-03-01"

// CredsFileName is the config the commissioning user data writes into its directory
// (/tmp/user_data.sh.XXXXXX/creds.yaml, mode 0600) and starts the runner with.
const CredsFileName = "creds.yaml"

// ConfigSearchPath lists, in order, where a runner given neither --config nor --url looks for
// its config: the user data's CredsFileName in the storage directory, then in the parent of
// the directory of the binary self (the user data's bin/), then DefaultConfigPath. Both
// directories come from the command line and the running binary, never from a request.
// Empty arguments and system directories are skipped, and no path is listed twice.
func ConfigSearchPath(storage, self string) []string {
	var out []string
	add := func(p string) {
		for _, q := range out {
			if q == p {
				return
			}
		}
		out = append(out, p)
	}
	if storage != "" {
		add(filepath.Join(filepath.Clean(storage), CredsFileName))
	}
	if self != "" && filepath.IsAbs(self) {
		switch dir := filepath.Dir(filepath.Dir(self)); dir {
		case "/", "/usr", "/usr/local", "/opt":
		default:
			add(filepath.Join(dir, CredsFileName))
		}
	}
	add(DefaultConfigPath)
	return out
}

// Config is what the runner needs to reach the region: the settings of the cloud-init MAAS
// datasource (protocol.md §2.4), read by ParseConfig from the keys metadata_url,
// consumer_key, token_key, token_secret, consumer_secret and config_path, and this
// implementation's tls_ca (the PEM authorities that vouch for the region's certificate) and
// tls_fingerprint (the SHA-256 of the region's certificate), which cloud-init ignores.
type Config struct {
	MetadataURL string
	wire.Credentials
	ConfigPath string
	TLS        client.Trust
}

// Fill sets every empty field of c from o: values given on the command line win, as upstream.
func (c *Config) Fill(o Config) {
	fill := func(dst *string, v string) {
		if *dst == "" {
			*dst = v
		}
	}
	fill(&c.MetadataURL, o.MetadataURL)
	fill(&c.ConsumerKey, o.ConsumerKey)
	fill(&c.TokenKey, o.TokenKey)
	fill(&c.TokenSecret, o.TokenSecret)
	fill(&c.ConsumerSecret, o.ConsumerSecret)
	fill(&c.ConfigPath, o.ConfigPath)
	fill(&c.TLS.CA, o.TLS.CA)
	fill(&c.TLS.Fingerprint, o.TLS.Fingerprint)
}

// maxConfigSize bounds a config file; real ones are a few hundred bytes.
const maxConfigSize = 1 << 20

// ParseConfig reads a cloud-init style config: a YAML mapping holding the keys directly or
// under datasource: MAAS:. Keys it does not know are ignored; values must be scalars. A
// tls_ca without a certificate or a tls_fingerprint that is not a SHA-256 is an error.
func ParseConfig(data []byte) (Config, error) {
	var c Config
	if len(data) > maxConfigSize {
		return c, fmt.Errorf("config: larger than %d bytes", maxConfigSize)
	}
	root, err := decodeYAMLDoc(data)
	if err != nil {
		return c, fmt.Errorf("config: %w", err)
	}
	if root == nil || root.Kind != yaml.MappingNode {
		return c, errors.New("config: want a YAML mapping")
	}
	if ds := mappingValue(root, "datasource"); ds != nil {
		m := mappingValue(ds, "MAAS")
		if m == nil || m.Kind != yaml.MappingNode {
			return c, errors.New("config: datasource has no MAAS mapping")
		}
		root = m
	}
	fields := map[string]*string{
		"metadata_url": &c.MetadataURL, "consumer_key": &c.ConsumerKey, "token_key": &c.TokenKey,
		"token_secret": &c.TokenSecret, "consumer_secret": &c.ConsumerSecret, "config_path": &c.ConfigPath,
		"tls_ca": &c.TLS.CA, "tls_fingerprint": &c.TLS.Fingerprint,
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := deref(root.Content[i]), deref(root.Content[i+1])
		dst, ok := fields[k.Value]
		if k.Kind != yaml.ScalarNode || !ok {
			continue
		}
		if v.Kind != yaml.ScalarNode {
			return Config{}, fmt.Errorf("config: %s: want a string", k.Value)
		}
		if v.ShortTag() == "!!null" {
			continue
		}
		*dst = v.Value
	}
	if _, err := c.TLS.Config(); err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	return c, nil
}

// LoadConfig reads the config at location: an http(s) URL is downloaded (with client), a
// file:// URL or a plain path is read.
func LoadConfig(ctx context.Context, client *http.Client, location string) (Config, error) {
	data, err := readLocation(ctx, client, location)
	if err != nil {
		return Config{}, err
	}
	c, err := ParseConfig(data)
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", location, err)
	}
	return c, nil
}

func readLocation(ctx context.Context, client *http.Client, location string) ([]byte, error) {
	if strings.HasPrefix(location, "http://") || strings.HasPrefix(location, "https://") {
		if client == nil {
			client = &http.Client{Timeout: time.Minute}
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, location, nil)
		if err != nil {
			return nil, fmt.Errorf("read config: %w", err)
		}
		resp, err := client.Do(req)
		if err != nil {
			return nil, fmt.Errorf("read config: %w", err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("read config %s: %s", location, resp.Status)
		}
		data, err := io.ReadAll(io.LimitReader(resp.Body, maxConfigSize+1))
		if err != nil {
			return nil, fmt.Errorf("read config %s: %w", location, err)
		}
		return data, nil
	}
	path := strings.TrimPrefix(location, "file://")
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxConfigSize+1))
	if err != nil {
		return nil, fmt.Errorf("read config %s: %w", path, err)
	}
	return data, nil
}

// MetadataURL builds the versioned metadata URL the runner talks to: base with any trailing
// "/" removed, then "/<apiver>/" (http://host:5248/MAAS/metadata/2012-03-01/).
func MetadataURL(base, apiVersion string) (string, error) {
	base = strings.TrimSpace(base)
	if base == "" {
		return "", errors.New("no metadata URL: give --url or a config with metadata_url")
	}
	u, err := url.Parse(base)
	if err != nil {
		return "", fmt.Errorf("metadata URL %q: %w", base, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return "", fmt.Errorf("metadata URL %q: want http://host[:port]/path", base)
	}
	base = strings.TrimSuffix(base, "/")
	return base + "/" + apiVersion + "/", nil
}

// BaseURL is scheme://host[:port] of a URL (the scripts' MAAS_BASE_URL).
func BaseURL(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.Host == "" {
		return ""
	}
	return p.Scheme + "://" + p.Host
}

// decodeYAMLDoc and deref are wire's: the config, creds and netplan files come from outside.
var (
	decodeYAMLDoc = wire.DecodeYAML
	deref         = wire.Deref
)

// mappingValue returns the value of key in mapping n, or nil.
func mappingValue(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := deref(n.Content[i]); k.Kind == yaml.ScalarNode && k.Value == key {
			return deref(n.Content[i+1])
		}
	}
	return nil
}
