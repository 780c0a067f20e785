// Package config defines the region's settings: their names (upstream's, with underscores;
// hyphens are accepted too), defaults, validation, and their storage in the database.
package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"maasgo/region/store"
)

// Setting is one configuration item.
type Setting struct {
	Name    string
	Default any // string, int64 or bool
	Doc     string
	// Secret settings are read by administrators only.
	Secret bool
	// check validates and normalises a value given as text.
	check func(string) (any, error)
}

func intRange(min, max int64) func(string) (any, error) {
	return func(v string) (any, error) {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not a whole number", v)
		}
		if n < min || n > max {
			return nil, fmt.Errorf("%d is out of range (%d to %d)", n, min, max)
		}
		return n, nil
	}
}

func boolean(v string) (any, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "1", "true", "yes", "on":
		return true, nil
	case "0", "false", "no", "off":
		return false, nil
	}
	return nil, fmt.Errorf("%q is not a boolean (use true or false)", v)
}

func text(v string) (any, error) { return v, nil }

// targets is a comma-separated list of hosts, IP addresses or URLs (internet-connectivity's
// url parameter): at least one, none empty or with spaces or control characters.
func targets(v string) (any, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil, errors.New("want at least one host, IP address or URL")
	}
	for _, t := range strings.Split(v, ",") {
		t = strings.TrimSpace(t)
		if t == "" {
			return nil, fmt.Errorf("%q has an empty entry", v)
		}
		if strings.IndexFunc(t, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0 {
			return nil, fmt.Errorf("%q is not a host, IP address or URL", t)
		}
	}
	return v, nil
}

// httpURL accepts an http:// or https:// URL with a host.
func httpURL(v string) (any, error) {
	u, err := url.Parse(strings.TrimSpace(v))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%q is not an http:// or https:// URL with a host", v)
	}
	return strings.TrimRight(u.String(), "/"), nil
}

func choice(opts ...string) func(string) (any, error) {
	return func(v string) (any, error) {
		for _, o := range opts {
			if v == o {
				return v, nil
			}
		}
		return nil, fmt.Errorf("%q is not one of %s", v, strings.Join(opts, ", "))
	}
}

func duration(v string) (any, error) {
	d, err := time.ParseDuration(strings.TrimSpace(v))
	if err != nil || d <= 0 {
		return nil, fmt.Errorf("%q is not a positive duration such as 15m or 1h", v)
	}
	return v, nil
}

var settings = []*Setting{
	{Name: "maas_name", Default: "maas", Doc: "The name of this region.", check: text},
	{Name: "maas_url", Default: "", Doc: "The URL machines and clients reach the region at; maas-region serve records it when it starts, user-data uses it.", check: httpURL},
	{Name: "node_timeout", Default: int64(30), Doc: "Minutes a commissioning, testing, deploying or disk-erasing machine may stay silent before it is marked failed.", check: intRange(1, 60*24*7)},
	{Name: "max_node_commissioning_results", Default: int64(10), Doc: "Commissioning script sets kept per machine.", check: intRange(1, 1000)},
	{Name: "max_node_testing_results", Default: int64(10), Doc: "Testing script sets kept per machine.", check: intRange(1, 1000)},
	{Name: "max_node_installation_results", Default: int64(3), Doc: "Installation script sets kept per machine.", check: intRange(1, 1000)},
	{Name: "max_node_release_results", Default: int64(3), Doc: "Release script sets kept per machine.", check: intRange(1, 1000)},
	{Name: "enable_anonymous_enlistment", Default: true, Doc: "Let machines the region does not know enlist themselves without credentials (anonymous machines create, scripts and preseed).", check: boolean},
	{Name: "enlist_commissioning", Default: true, Doc: "Run the built-in commissioning scripts on enlisting machines.", check: boolean},
	{Name: "default_osystem", Default: "ubuntu", Doc: "Operating system deployed by default.", check: text},
	{Name: "default_distro_series", Default: "noble", Doc: "Release deployed by default.", check: text},
	{Name: "commissioning_distro_series", Default: "noble", Doc: "Release of the commissioning environment.", check: text},
	{Name: "default_min_hwe_kernel", Default: "", Doc: "Minimum kernel version deployed by default.", check: text},
	{Name: "hardware_sync_interval", Default: "15m", Doc: "How often deployed machines with hardware sync report their hardware.", check: duration},
	{Name: "network_test_url", Default: "https://connectivity-check.ubuntu.com", Doc: "What internet-connectivity checks when its url is not given: hosts, IP addresses or URLs, comma-separated.", check: targets},
	{Name: "enable_disk_erasing_on_release", Default: false, Doc: "Erase disks when a machine is released.", check: boolean},
	{Name: "disk_erase_with_secure_erase", Default: false, Doc: "Erase disks with the drives' secure erase when they support it (falls back to zeroing).", check: boolean},
	{Name: "disk_erase_with_quick_erase", Default: false, Doc: "Erase only the first and last 2 MiB of each disk (partition tables and superblocks).", check: boolean},
	{Name: "metrics_token", Default: "", Doc: "When set, /MAAS/metrics answers only scrapes that send it as Authorization: Bearer TOKEN.", Secret: true, check: text},
	{Name: "maas_auto_ipmi_user", Default: "maas", Doc: "User the BMC detection script creates.", check: text},
	{Name: "maas_auto_ipmi_user_privilege_level", Default: "ADMIN", Doc: "Privilege level of that BMC user.", check: choice("USER", "OPERATOR", "ADMIN")},
	{Name: "maas_auto_ipmi_k_g_bmc_key", Default: "", Doc: "IPMI K_g key set on detected BMCs.", check: text},
	{Name: "maas_auto_ipmi_cipher_suite_id", Default: "3", Doc: "IPMI cipher suite used with detected BMCs.", check: choice("", "3", "8", "12", "17")},
}

// Names lists every setting name, sorted.
func Names() []string {
	out := make([]string, len(settings))
	for i, s := range settings {
		out[i] = s.Name
	}
	sort.Strings(out)
	return out
}

// Lookup finds a setting by name; the seed's hyphenated spelling (node-timeout) and any case
// are accepted.
func Lookup(name string) (*Setting, error) {
	n := strings.ToLower(strings.ReplaceAll(strings.TrimSpace(name), "-", "_"))
	for _, s := range settings {
		if s.Name == n {
			return s, nil
		}
	}
	return nil, fmt.Errorf("unknown configuration name %q", name)
}

// Parse validates a value given as text and returns it normalised.
func (s *Setting) Parse(v string) (any, error) {
	val, err := s.check(v)
	if err != nil {
		return nil, fmt.Errorf("invalid value for %s: %w", s.Name, err)
	}
	return val, nil
}

// Get reads a setting's value (its default when never set).
func Get(tx *store.Tx, name string) (any, error) {
	s, err := Lookup(name)
	if err != nil {
		return nil, err
	}
	raw, ok, err := tx.Config(s.Name)
	if err != nil || !ok {
		return s.Default, err
	}
	var v any
	if err := json.Unmarshal([]byte(raw), &v); err != nil {
		return nil, fmt.Errorf("stored value of %s is corrupt: %w", s.Name, err)
	}
	if f, ok := v.(float64); ok {
		return int64(f), nil
	}
	return v, nil
}

// Set validates and stores a setting.
func Set(tx *store.Tx, name, value string) error {
	s, err := Lookup(name)
	if err != nil {
		return err
	}
	v, err := s.Parse(value)
	if err != nil {
		return err
	}
	b, _ := json.Marshal(v)
	return tx.SetConfig(s.Name, string(b))
}

// Int reads an integer setting.
func Int(tx *store.Tx, name string) (int64, error) {
	v, err := Get(tx, name)
	if err != nil {
		return 0, err
	}
	n, ok := v.(int64)
	if !ok {
		return 0, fmt.Errorf("setting %s is not a number", name)
	}
	return n, nil
}

// Bool reads a boolean setting.
func Bool(tx *store.Tx, name string) (bool, error) {
	v, err := Get(tx, name)
	if err != nil {
		return false, err
	}
	b, ok := v.(bool)
	if !ok {
		return false, fmt.Errorf("setting %s is %v, not a boolean", name, v)
	}
	return b, nil
}

// String reads a text setting.
func String(tx *store.Tx, name string) (string, error) {
	v, err := Get(tx, name)
	if err != nil {
		return "", err
	}
	str, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("setting %s is not text", name)
	}
	return str, nil
}

// NodeTimeout is how long a busy machine may stay silent.
func NodeTimeout(tx *store.Tx) (time.Duration, error) {
	n, err := Int(tx, "node_timeout")
	return time.Duration(n) * time.Minute, err
}
