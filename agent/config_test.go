package agent

import (
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"maasgo/client"
	"maasgo/internal/tlstest"
	"maasgo/wire"
)

func TestConfigSearchPath(t *testing.T) {
	tests := []struct {
		storage, self string
		want          []string
	}{
		{"/tmp/user_data.sh.ab12", "/tmp/user_data.sh.ab12/bin/maas-run-remote-scripts",
			[]string{"/tmp/user_data.sh.ab12/creds.yaml", DefaultConfigPath}},
		{"/var/tmp/run", "/tmp/user_data.sh.ab12/bin/maas-run-remote-scripts",
			[]string{"/var/tmp/run/creds.yaml", "/tmp/user_data.sh.ab12/creds.yaml", DefaultConfigPath}},
		{"/tmp/x/", "/usr/bin/maas-run-scripts", []string{"/tmp/x/creds.yaml", DefaultConfigPath}},
		{"", "bin/relative", []string{DefaultConfigPath}},
	}
	for _, tt := range tests {
		if got := ConfigSearchPath(tt.storage, tt.self); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ConfigSearchPath(%q, %q) = %q; want %q", tt.storage, tt.self, got, tt.want)
		}
	}
}

// indentPEM indents a PEM block for a YAML literal block.
func indentPEM(pem []byte, prefix string) string {
	var b strings.Builder
	for _, l := range strings.SplitAfter(string(pem), "\n") {
		if l != "" {
			b.WriteString(prefix + l)
		}
	}
	return b.String()
}

func TestParseConfigTLS(t *testing.T) {
	ca := tlstest.NewCA(t, "region CA")
	fp := strings.Repeat("ab", 32)
	data := "datasource:\n  MAAS:\n    metadata_url: 'https://r:5240/MAAS/metadata/'\n    consumer_key: 'c'\n    tls_ca: |\n" +
		indentPEM(ca.PEM, "      ") + "    tls_fingerprint: '" + fp + "'\n"
	c, err := ParseConfig([]byte(data))
	if err != nil {
		t.Fatal(err)
	}
	if c.TLS.CA != string(ca.PEM) || c.TLS.Fingerprint != fp || c.TLS.Insecure || c.MetadataURL != "https://r:5240/MAAS/metadata/" {
		t.Errorf("parsed %+v", c)
	}
	// The keys may sit at the top level too, as the other datasource keys.
	c, err = ParseConfig([]byte("metadata_url: https://r/MAAS/metadata/\ntls_fingerprint: " + fp + "\n"))
	if err != nil || c.TLS.Fingerprint != fp || c.TLS.CA != "" {
		t.Errorf("top level: %+v %v", c, err)
	}
	// The command line's win; the file fills what they leave empty.
	flags := Config{TLS: client.Trust{Fingerprint: strings.Repeat("cd", 32)}}
	flags.Fill(Config{TLS: client.Trust{CA: "file CA", Fingerprint: fp}})
	if flags.TLS.CA != "file CA" || flags.TLS.Fingerprint != strings.Repeat("cd", 32) {
		t.Errorf("Fill: %+v", flags.TLS)
	}
	for name, bad := range map[string]string{
		"a CA that is no certificate": "tls_ca: hello\n",
		"a short fingerprint":         "tls_fingerprint: abcd\n",
		"a CA as a list":              "tls_ca: [a]\n",
		"an insecure key is not read": "", // checked below
	} {
		if bad == "" {
			continue
		}
		if c, err := ParseConfig([]byte(bad)); err == nil || c != (Config{}) {
			t.Errorf("%s: %+v %v", name, c, err)
		}
	}
	// There is no way to turn the checks off from a file.
	if c, err := ParseConfig([]byte("metadata_url: https://r/\ninsecure: true\ntls_insecure: true\n")); err != nil || c.TLS.Insecure {
		t.Errorf("insecure from a file: %+v %v", c, err)
	}
}

func TestCredsTLS(t *testing.T) {
	ca := tlstest.NewCA(t, "region CA")
	fp := strings.Repeat("AB:", 31) + "AB"
	c := NewCreds("https://r:5240/MAAS", "abc123", wire.Credentials{ConsumerKey: "ck", TokenKey: "tk", TokenSecret: "ts"})
	c.TLS = client.Trust{CA: string(ca.PEM), Fingerprint: fp, Insecure: true}
	data, err := c.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	// cloud-init builds its webhook reporter from every key under reporting: maas: and
	// refuses unknown ones: the TLS keys are at the top level.
	var doc map[string]any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	maas := doc["reporting"].(map[string]any)["maas"].(map[string]any)
	if len(maas) != 4 || doc["tls_ca"] != string(ca.PEM) || doc["tls_fingerprint"] != fp {
		t.Errorf("credentials file:\n%s", data)
	}
	if strings.Contains(string(data), "insecure") {
		t.Errorf("the credentials file keeps --insecure:\n%s", data)
	}
	back, err := ParseCreds(data)
	want := c
	want.TLS.Insecure = false
	if err != nil || back != want {
		t.Errorf("round trip: %+v %v; want %+v", back, err, want)
	}
	// A file without them, as upstream writes it, has none.
	plain, _ := NewCreds("http://r:5240/MAAS", "abc123", wire.Credentials{ConsumerKey: "ck", TokenKey: "tk", TokenSecret: "ts"}).Marshal()
	if strings.Contains(string(plain), "tls") {
		t.Errorf("TLS keys without TLS:\n%s", plain)
	}
	if back, err := ParseCreds(plain); err != nil || !back.TLS.IsZero() {
		t.Errorf("plain: %+v %v", back, err)
	}
	for _, bad := range []string{
		"reporting: {maas: {token_key: a}}\ntls_ca: nope\n",
		"reporting: {maas: {token_key: a}}\ntls_fingerprint: [1]\n",
		"reporting: {maas: {token_key: a}}\ntls_fingerprint: abc\n",
	} {
		if c, err := ParseCreds([]byte(bad)); err == nil || c != (Creds{}) {
			t.Errorf("%q: %+v %v", bad, c, err)
		}
	}
}
