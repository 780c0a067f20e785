package inventory

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Profile is the hardware a machine is expected to have: what was ordered, or what a
// known-good machine has. Zero fields are not checked.
type Profile struct {
	// CPUCount is the exact number of logical CPUs.
	CPUCount uint64 `yaml:"cpu_count,omitempty" json:"cpu_count,omitempty"`
	// Memory is the memory in MiB; the machine must have at least 99 % of it (firmware keeps
	// a little, and differently from one BIOS version to the next).
	Memory uint64 `yaml:"memory,omitempty" json:"memory,omitempty"`
	// Disks are groups of disks the machine must have, each disk counted in one group.
	Disks []DiskGroup `yaml:"disks,omitempty" json:"disks,omitempty"`
	// NICs are groups of connected physical interfaces the machine must have.
	NICs []NICGroup `yaml:"nics,omitempty" json:"nics,omitempty"`
}

// DiskGroup is Count disks of at least 99 % of Size bytes, of Type (ssd, hdd, nvme or any).
type DiskGroup struct {
	Count int    `yaml:"count" json:"count"`
	Size  Size   `yaml:"size,omitempty" json:"size,omitempty"`
	Type  string `yaml:"type,omitempty" json:"type,omitempty"`
}

// NICGroup is Count physical interfaces with a link of at least Speed Mbit/s.
type NICGroup struct {
	Count int    `yaml:"count" json:"count"`
	Speed uint64 `yaml:"speed,omitempty" json:"speed,omitempty"`
}

// Size is a size in bytes, written as a number of bytes or with a unit: 960G, 1.92T (powers
// of 1000, as disks are sold), 512GiB, 2TiB (powers of 1024).
type Size uint64

// UnmarshalYAML reads a size as ParseSize does.
func (s *Size) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseSize(n.Value)
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// MarshalYAML writes a size in bytes.
func (s Size) MarshalYAML() (any, error) { return uint64(s), nil }

var sizeUnits = map[string]float64{
	"": 1, "B": 1,
	"K": 1e3, "KB": 1e3, "M": 1e6, "MB": 1e6, "G": 1e9, "GB": 1e9, "T": 1e12, "TB": 1e12, "P": 1e15, "PB": 1e15,
	"KIB": 1 << 10, "MIB": 1 << 20, "GIB": 1 << 30, "TIB": 1 << 40, "PIB": 1 << 50,
}

// ParseSize reads "960G", "1.92 TB", "512GiB" or "1000204886016".
func ParseSize(v string) (Size, error) {
	s := strings.TrimSpace(v)
	i := strings.IndexFunc(s, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	num, unit := s, ""
	if i >= 0 {
		num, unit = s[:i], strings.ToUpper(strings.TrimSpace(s[i:]))
	}
	mult, ok := sizeUnits[unit]
	f, err := strconv.ParseFloat(num, 64)
	if !ok || err != nil || num == "" || f < 0 {
		return 0, fmt.Errorf("size %q: want bytes, or a number with K, M, G, T (powers of 1000) or KiB, MiB, GiB, TiB", v)
	}
	b := f * mult
	if b >= math.MaxUint64/2 || math.IsInf(b, 0) || math.IsNaN(b) {
		return 0, fmt.Errorf("size %q is too large", v)
	}
	return Size(math.Round(b)), nil
}

// Bounds on a profile, which an administrator writes.
const (
	maxProfile      = 64 << 10
	maxProfileGroup = 64
	maxGroupCount   = 10000
)

// ParseProfile reads a profile written as YAML (or JSON), refusing fields it does not know
// and values it cannot check.
func ParseProfile(data []byte) (*Profile, error) {
	if len(data) > maxProfile {
		return nil, fmt.Errorf("profile: larger than %d bytes", maxProfile)
	}
	var p Profile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&p); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("profile: empty")
		}
		return nil, fmt.Errorf("profile: %w", err)
	}
	if len(p.Disks) > maxProfileGroup || len(p.NICs) > maxProfileGroup {
		return nil, fmt.Errorf("profile: at most %d disk groups and %d NIC groups", maxProfileGroup, maxProfileGroup)
	}
	for i, d := range p.Disks {
		if d.Count < 1 || d.Count > maxGroupCount {
			return nil, fmt.Errorf("profile: disks[%d]: count %d: want 1 to %d", i, d.Count, maxGroupCount)
		}
		switch d.Type {
		case "", "any", "ssd", "hdd", "nvme":
		default:
			return nil, fmt.Errorf("profile: disks[%d]: type %q: want ssd, hdd, nvme or any", i, d.Type)
		}
	}
	for i, n := range p.NICs {
		if n.Count < 1 || n.Count > maxGroupCount {
			return nil, fmt.Errorf("profile: nics[%d]: count %d: want 1 to %d", i, n.Count, maxGroupCount)
		}
	}
	if p.CPUCount == 0 && p.Memory == 0 && len(p.Disks) == 0 && len(p.NICs) == 0 {
		return nil, errors.New("profile: it checks nothing: give cpu_count, memory, disks or nics")
	}
	return &p, nil
}

// YAML writes the profile as ParseProfile reads it.
func (p *Profile) YAML() []byte {
	b, _ := yaml.Marshal(p)
	return b
}

// diskType is the type a profile names a disk by.
func diskType(d BlockDevice) string {
	switch {
	case strings.HasPrefix(d.Name, "nvme"):
		return "nvme"
	case hasTag(d.Tags, "ssd"):
		return "ssd"
	case hasTag(d.Tags, "rotary"):
		return "hdd"
	}
	return "any"
}

func hasTag(tags []string, t string) bool {
	for _, x := range tags {
		if x == t {
			return true
		}
	}
	return false
}

func (g DiskGroup) matches(d BlockDevice) bool {
	if g.Size > 0 && float64(d.Size) < 0.99*float64(g.Size) {
		return false
	}
	switch g.Type {
	case "", "any":
		return true
	case "ssd":
		t := diskType(d)
		return t == "ssd" || t == "nvme"
	}
	return diskType(d) == g.Type
}

// ProfileOf is the profile of a machine as it is: what to expect of machines like it.
func ProfileOf(f *Facts) *Profile {
	p := &Profile{CPUCount: f.CPUCount, Memory: f.Memory}
	disks := map[DiskGroup]int{}
	for _, d := range f.BlockDevices {
		disks[DiskGroup{Size: Size(d.Size), Type: diskType(d)}]++
	}
	for g, n := range disks {
		g.Count = n
		p.Disks = append(p.Disks, g)
	}
	sort.Slice(p.Disks, func(i, j int) bool {
		a, b := p.Disks[i], p.Disks[j]
		if a.Size != b.Size {
			return a.Size > b.Size
		}
		return a.Type < b.Type
	})
	nics := map[uint64]int{}
	for _, i := range f.Interfaces {
		if i.Type == "physical" && i.LinkConnected && i.LinkSpeed > 0 {
			nics[i.LinkSpeed]++
		}
	}
	for s, n := range nics {
		p.NICs = append(p.NICs, NICGroup{Count: n, Speed: s})
	}
	sort.Slice(p.NICs, func(i, j int) bool { return p.NICs[i].Speed > p.NICs[j].Speed })
	return p
}

// Check lists how the machine differs from the profile, one sentence each; none when it
// matches. Each disk and interface counts in one group at most, the strictest groups (the
// largest sizes and speeds) first.
func (p *Profile) Check(f *Facts) []string {
	var out []string
	if p.CPUCount > 0 && f.CPUCount != p.CPUCount {
		out = append(out, fmt.Sprintf("cpu_count: %d, the profile wants %d", f.CPUCount, p.CPUCount))
	}
	if p.Memory > 0 && float64(f.Memory) < 0.99*float64(p.Memory) {
		out = append(out, fmt.Sprintf("memory: %d MiB, the profile wants %d MiB", f.Memory, p.Memory))
	}
	groups := append([]DiskGroup(nil), p.Disks...)
	sort.SliceStable(groups, func(i, j int) bool { return groups[i].Size > groups[j].Size })
	used := make([]bool, len(f.BlockDevices))
	for _, g := range groups {
		found := 0
		for i, d := range f.BlockDevices {
			if found < g.Count && !used[i] && g.matches(d) {
				used[i] = true
				found++
			}
		}
		if found < g.Count {
			out = append(out, fmt.Sprintf("disks: %d of %d %s found", found, g.Count, g.describe()))
		}
	}
	nics := append([]NICGroup(nil), p.NICs...)
	sort.SliceStable(nics, func(i, j int) bool { return nics[i].Speed > nics[j].Speed })
	taken := make([]bool, len(f.Interfaces))
	for _, g := range nics {
		found := 0
		for i, n := range f.Interfaces {
			if found < g.Count && !taken[i] && n.Type == "physical" && n.LinkConnected && n.LinkSpeed >= g.Speed {
				taken[i] = true
				found++
			}
		}
		if found < g.Count {
			what := "connected physical interfaces"
			if g.Speed > 0 {
				what += fmt.Sprintf(" with a link of at least %d Mbit/s", g.Speed)
			}
			out = append(out, fmt.Sprintf("nics: %d of %d %s found", found, g.Count, what))
		}
	}
	return out
}

func (g DiskGroup) describe() string {
	var b strings.Builder
	switch g.Type {
	case "", "any":
		b.WriteString("disks")
	case "hdd":
		b.WriteString("HDDs")
	case "ssd":
		b.WriteString("SSDs")
	case "nvme":
		b.WriteString("NVMe disks")
	}
	if g.Size > 0 {
		fmt.Fprintf(&b, " of at least %.0f GB", float64(g.Size)/1e9)
	}
	return b.String()
}
