package wire

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// linuxGOARCH are the architectures Go builds Linux binaries for (go tool dist list).
var linuxGOARCH = []string{"386", "amd64", "arm", "arm64", "loong64", "mips", "mips64", "mips64le", "mipsle",
	"ppc64", "ppc64le", "riscv64", "s390x"}

// TestArches checks every entry of the table: names are unique, every kernel name leads back
// to its entry, and MachineArch accepts exactly the entries the region takes machines of.
func TestArches(t *testing.T) {
	debian, uname, goarch := map[string]bool{}, map[string]bool{}, map[string]bool{}
	var accepted []string
	for _, a := range Arches {
		if a.Debian == "" || debian[a.Debian] || len(a.Uname) == 0 {
			t.Errorf("%+v: every entry needs a Debian name of its own and a kernel name", a)
		}
		debian[a.Debian] = true
		if a.GOARCH != "" && (goarch[a.GOARCH] || !slices.Contains(linuxGOARCH, a.GOARCH)) {
			t.Errorf("%s: GOARCH %q is repeated or not one Go builds Linux binaries for", a.Debian, a.GOARCH)
		}
		goarch[a.GOARCH] = true
		if got, ok := ArchByDebian(a.Debian); !ok || got.Debian != a.Debian {
			t.Errorf("ArchByDebian(%q) = %+v, %v", a.Debian, got, ok)
		}
		if a.Machines {
			accepted = append(accepted, a.Debian)
		}
		for _, u := range a.Uname {
			if uname[u] {
				t.Errorf("kernel name %q maps to two architectures", u)
			}
			uname[u] = true
			if got, ok := ArchByUname(u); !ok || got.Debian != a.Debian {
				t.Errorf("ArchByUname(%q) = %+v, %v; want %s", u, got, ok, a.Debian)
			}
			got, err := MachineArch(u)
			switch {
			case a.Machines && (err != nil || got != a.Debian):
				t.Errorf("MachineArch(%q) = %q, %v; want %s", u, got, err, a.Debian)
			case !a.Machines && (!errors.Is(err, ErrUnknownArch) || !strings.Contains(err.Error(), a.Debian)):
				t.Errorf("MachineArch(%q) = %q, %v; want ErrUnknownArch naming %s", u, got, err, a.Debian)
			}
		}
	}
	if got := MachineArchitectures(); !slices.Equal(got, accepted) {
		t.Errorf("MachineArchitectures() = %v; want %v", got, accepted)
	}
}

// TestMachineArch holds what the agent sends for the kernel names it meets.
func TestMachineArch(t *testing.T) {
	for in, want := range map[string]string{"x86_64": "amd64", "aarch64": "arm64", "armv7l": "armhf", "i686": "i386",
		"ppc64le": "ppc64el", "s390x": "s390x", "riscv64": "riscv64", " x86_64\n": "amd64", "mips": "", "mips64": "", "": "", "sparc64": ""} {
		got, err := MachineArch(in)
		if got != want || (err != nil) != (want == "") {
			t.Errorf("MachineArch(%q) = %q, %v; want %q", in, got, err, want)
		}
		if err != nil && !strings.Contains(err.Error(), "amd64, arm64, armhf, i386, ppc64el, riscv64, s390x") {
			t.Errorf("MachineArch(%q): %v does not say which architectures the region takes", in, err)
		}
	}
}
