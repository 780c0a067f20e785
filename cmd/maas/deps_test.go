package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestCLIDependencies keeps the CLI small and apart from the region: besides the standard
// library it may link only wire/, client/, its own packages, cobra (with pflag) and what
// wire needs.
func TestCLIDependencies(t *testing.T) {
	cmd := exec.Command("go", "list", "-deps", ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := cmd.Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	allowed := []string{"maasgo/wire", "maasgo/client", "maasgo/cmd/maas", "github.com/spf13/cobra", "github.com/spf13/pflag", "gopkg.in/yaml.v3"}
	for _, dep := range strings.Fields(string(out)) {
		first, _, _ := strings.Cut(dep, "/")
		if !strings.Contains(first, ".") && first != "maasgo" {
			continue // standard library
		}
		ok := false
		for _, a := range allowed {
			if dep == a || strings.HasPrefix(dep, a+"/") {
				ok = true
			}
		}
		if !ok {
			t.Errorf("the CLI links %s", dep)
		}
	}
}
