package wire

import (
	"errors"
	"fmt"
	"strings"
)

// Arch is one architecture: its Debian name, which machines and the API use ("amd64"), the
// names a Linux kernel gives it (uname -m, and machine-resources' kernel_architecture), and
// Go's name for it.
type Arch struct {
	Debian string
	// Uname are the kernel's names that map to this architecture.
	Uname []string
	// GOARCH is Go's name, "" when Go does not build for it.
	GOARCH string
	// Machines says whether the region accepts machines of this architecture. Those it does
	// not are listed because upstream's inventory knows them: they are refused by name.
	Machines bool
}

// Arches is every architecture the agent and the region know, the ones the region accepts
// machines of first.
var Arches = []Arch{
	{Debian: "amd64", Uname: []string{"x86_64", "amd64"}, GOARCH: "amd64", Machines: true},
	{Debian: "arm64", Uname: []string{"aarch64", "arm64"}, GOARCH: "arm64", Machines: true},
	{Debian: "armhf", Uname: []string{"armv7l", "armv8l", "armhf"}, GOARCH: "arm", Machines: true},
	{Debian: "i386", Uname: []string{"i686", "i586", "i486", "i386"}, GOARCH: "386", Machines: true},
	{Debian: "ppc64el", Uname: []string{"ppc64le", "ppc64el"}, GOARCH: "ppc64le", Machines: true},
	{Debian: "riscv64", Uname: []string{"riscv64"}, GOARCH: "riscv64", Machines: true},
	{Debian: "s390x", Uname: []string{"s390x"}, GOARCH: "s390x", Machines: true},
	{Debian: "mips", Uname: []string{"mips"}, GOARCH: "mips"},
	{Debian: "mips64el", Uname: []string{"mips64"}, GOARCH: "mips64le"},
}

// ErrUnknownArch is the error of an architecture the region does not take machines of.
var ErrUnknownArch = errors.New("unknown architecture")

// MachineArchitectures are the Debian names of the architectures the region accepts machines
// of, in the table's order.
func MachineArchitectures() []string {
	var out []string
	for _, a := range Arches {
		if a.Machines {
			out = append(out, a.Debian)
		}
	}
	return out
}

// ArchByDebian finds an architecture by its Debian name.
func ArchByDebian(name string) (Arch, bool) {
	for _, a := range Arches {
		if a.Debian == name {
			return a, true
		}
	}
	return Arch{}, false
}

// ArchByUname finds the architecture of a kernel's machine name (uname -m).
func ArchByUname(machine string) (Arch, bool) {
	machine = strings.TrimSpace(machine)
	for _, a := range Arches {
		for _, u := range a.Uname {
			if u == machine {
				return a, true
			}
		}
	}
	return Arch{}, false
}

// MachineArch is the Debian name of the architecture of a machine whose kernel calls it
// machine (uname -m: x86_64 → amd64), when the region accepts machines of it. Any other is
// an error wrapping ErrUnknownArch that says which the region accepts.
func MachineArch(machine string) (string, error) {
	a, ok := ArchByUname(machine)
	switch {
	case !ok:
		return "", fmt.Errorf("%w: no Debian architecture for machine type %q (machines may be %s)", ErrUnknownArch, machine, acceptedList())
	case !a.Machines:
		return "", fmt.Errorf("%w: machine type %q (Debian %s) is not one the region takes machines of (%s)", ErrUnknownArch, machine, a.Debian, acceptedList())
	}
	return a.Debian, nil
}

func acceptedList() string { return strings.Join(MachineArchitectures(), ", ") }
