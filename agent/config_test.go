package agent

import (
	"reflect"
	"testing"
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
