package scripts

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"maasgo/wire"
)

// This file holds the checks the region's script form applies to request fields, with the
// same rules as the embedded metadata, and the rules that combine the two.

// ParseTags splits a comma-separated tag string, trimming spaces and dropping empty and
// repeated tags.
func ParseTags(s string) []string {
	var out []string
	for _, t := range strings.Split(s, ",") {
		t = strings.TrimSpace(t)
		if t != "" && !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}

// ValidateTag checks one tag given to add_tag/remove_tag: not empty, no comma.
func ValidateTag(tag string) error {
	switch {
	case strings.TrimSpace(tag) == "":
		return errors.New("tag must not be empty")
	case strings.Contains(tag, ","):
		return fmt.Errorf("tag %q may not contain a comma", tag)
	}
	return nil
}

// ParsePackages reads a packages value from a request: JSON (or YAML) such as
// {"apt": ["fio"], "snap": {"name": "x", "channel": "edge"}}. Empty text gives no packages.
func ParsePackages(s string) (wire.Packages, error) {
	return parseField(s, KeyPackages, readPackages)
}

// ParseParameters reads a parameters value from a request: JSON or YAML mapping parameter
// names to their settings.
func ParseParameters(s string) (Parameters, error) {
	return parseField(s, KeyParameters, readParameters)
}

// ParseForHardware reads a for_hardware value from a request: a JSON list, or a
// comma-separated string, of hardware identifiers.
func ParseForHardware(s string) ([]string, error) {
	if strings.HasPrefix(strings.TrimSpace(s), "[") {
		return parseField(s, KeyForHardware, readForHardware)
	}
	var c collector
	ids := splitComma(s)
	for i, id := range ids {
		if err := ValidateHardwareID(id); err != nil {
			c.add(fmt.Sprintf("%s[%d]", KeyForHardware, i), err)
		}
	}
	if err := c.err(); err != nil {
		return nil, err
	}
	return ids, nil
}

// AutoTags are the tags every saved script carries: the lowercase label of its hardware type
// ("node", "cpu", "memory", "storage", "network", "gpu") and "destructive" when it is.
func AutoTags(hw wire.HardwareType, destructive bool) []string {
	tags := []string{hw.Tag()}
	if destructive {
		tags = append(tags, "destructive")
	}
	return tags
}

// ApplyAutoTags returns tags adjusted as the region does when it saves a script: the other
// hardware-type labels and, for a script that is not destructive, "destructive" are removed;
// the automatic tags are appended when missing. The input is not modified.
func ApplyAutoTags(tags []string, hw wire.HardwareType, destructive bool) []string {
	out := make([]string, 0, len(tags)+2)
	for _, t := range tags {
		if (t == "destructive" && !destructive) || (isHardwareTag(t) && t != hw.Tag()) {
			continue
		}
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	for _, t := range AutoTags(hw, destructive) {
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}

func isHardwareTag(t string) bool {
	for h := wire.HardwareNode; h <= wire.HardwareGPU; h++ {
		if t == h.Tag() {
			return true
		}
	}
	return false
}

// Apply merges one request field into metadata read from a script, as the region's script
// form does. key is a Key* constant ("type" is accepted for script_type), value the
// request's text.
//
//   - name, title, description, script_type, hardware_type, parallel, destructive,
//     may_reboot, recommission, apply_configured_networking: when the embedded block set the
//     key, a value that means something else fails with ErrMayNotOverride (an equal value is
//     fine); otherwise the request's value is taken.
//   - tags, timeout, packages, for_hardware: the request's value replaces the embedded one.
//     (The region applies embedded tags and timeout only when it creates a script, so that
//     a newer body does not undo what an operator changed; that choice is the caller's.)
//   - results and parameters come from the script only; the request may not set them.
//
// An invalid value fails with a *FieldError naming key.
func (m *Metadata) Apply(key, value string) error {
	if key == "type" {
		key = KeyScriptType
	}
	fail := func(err error) error { return &FieldError{Field: key, Err: err} }
	var same bool
	switch key {
	case KeyName:
		if err := ValidateName(value); err != nil {
			return fail(err)
		}
		same = m.Name == value
		if !m.Has(key) {
			m.Name = value
		}
	case KeyTitle:
		if utf8.RuneCountInString(value) > maxTitle {
			return fail(fmt.Errorf("longer than %d characters", maxTitle))
		}
		same = m.Title == value
		if !m.Has(key) {
			m.Title = value
		}
	case KeyDescription:
		same = m.Description == value
		if !m.Has(key) {
			m.Description = value
		}
	case KeyScriptType:
		t, err := wire.ParseScriptType(value)
		if err != nil {
			return fail(err)
		}
		same = m.ScriptType == t
		if !m.Has(key) {
			m.ScriptType = t
		}
	case KeyHardwareType:
		h, err := wire.ParseHardwareType(value)
		if err != nil {
			return fail(err)
		}
		same = m.HardwareType == h
		if !m.Has(key) {
			m.HardwareType = h
		}
	case KeyParallel:
		p, err := wire.ParseParallel(value)
		if err != nil {
			return fail(err)
		}
		same = m.Parallel == p
		if !m.Has(key) {
			m.Parallel = p
		}
	case KeyDestructive, KeyMayReboot, KeyRecommission, KeyApplyConfiguredNetworking:
		b, err := ParseBool(value)
		if err != nil {
			return fail(err)
		}
		field := map[string]*bool{
			KeyDestructive:               &m.Destructive,
			KeyMayReboot:                 &m.MayReboot,
			KeyRecommission:              &m.Recommission,
			KeyApplyConfiguredNetworking: &m.ApplyConfiguredNetworking,
		}[key]
		same = *field == b
		if !m.Has(key) {
			*field = b
		}
	case KeyTags:
		m.Tags = ParseTags(value)
		return nil
	case KeyTimeout:
		d, err := ParseTimeout(value)
		if err != nil {
			return fail(err)
		}
		m.Timeout = d
		return nil
	case KeyPackages:
		p, err := ParsePackages(value)
		if err != nil {
			return err
		}
		m.Packages = p
		return nil
	case KeyForHardware:
		ids, err := ParseForHardware(value)
		if err != nil {
			return err
		}
		m.ForHardware = ids
		return nil
	case KeyResults, KeyParameters:
		return fail(errors.New("set by the script's embedded metadata only"))
	default:
		return fail(errors.New("unknown script field"))
	}
	if m.Has(key) && !same {
		return fail(ErrMayNotOverride)
	}
	return nil
}
