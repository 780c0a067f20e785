package main

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestArgsForArgv0(t *testing.T) {
	tests := []struct {
		argv0 string
		args  []string
		want  []string
	}{
		{"/usr/bin/maas-run-scripts", []string{"machine-resources", "--pretty"}, []string{"machine-resources", "--pretty"}},
		{"/tmp/machine-resources", []string{"--pretty"}, []string{"machine-resources", "--pretty"}},
		{"machine-resources", nil, []string{"machine-resources"}},
		{"./other", []string{"x"}, []string{"x"}},
		{"/tmp/user_data.sh.X/bin/maas-run-remote-scripts", []string{"--no-download", "/tmp/user_data.sh.X"},
			[]string{"run", "--no-download", "/tmp/user_data.sh.X"}},
		{"/tmp/user_data.sh.X/bin/maas-run-remote-scripts", []string{"machine-resources"}, []string{"machine-resources"}},
		// The runner starts its own binary (whatever its name) as the watchdog.
		{"/tmp/user_data.sh.X/bin/maas-run-remote-scripts", []string{"__reaper"}, []string{"__reaper"}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, argsForArgv0(tt.argv0, tt.args)); diff != "" {
			t.Errorf("argsForArgv0(%q, %v) (-want +got):\n%s", tt.argv0, tt.args, diff)
		}
	}
}
