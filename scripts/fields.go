package scripts

import (
	"fmt"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"

	"maasgo/wire"
)

// ResultDef describes one key a script writes under "results:" in its result file.
type ResultDef struct {
	Name        string
	Title       string
	Description string
}

// Results are a script's result keys, in the order the metadata lists them.
type Results []ResultDef

// ParamType is the type of a script parameter.
type ParamType string

// Parameter types (protocol.md §6.5).
const (
	ParamBoolean   ParamType = "boolean"
	ParamChoice    ParamType = "choice"
	ParamInterface ParamType = "interface"
	ParamPassword  ParamType = "password"
	ParamRuntime   ParamType = "runtime"
	ParamStorage   ParamType = "storage"
	ParamString    ParamType = "string"
	ParamURL       ParamType = "url"
)

// ParseParamType accepts the lowercase type names.
func ParseParamType(s string) (ParamType, error) {
	switch t := ParamType(s); t {
	case ParamBoolean, ParamChoice, ParamInterface, ParamPassword, ParamRuntime, ParamStorage,
		ParamString, ParamURL:
		return t, nil
	}
	return "", fmt.Errorf("unknown parameter type %q (want boolean, choice, interface, password, runtime, storage, string or url)", s)
}

// Placeholders are the argument_format placeholders of which a format for this type must
// contain at least one. A boolean's format is a flag given when the value is true, so it
// needs none.
func (t ParamType) Placeholders() []string {
	switch t {
	case ParamStorage:
		return []string{"{input}", "{name}", "{path}", "{model}", "{serial}"}
	case ParamInterface:
		return []string{"{input}", "{name}", "{mac}", "{vendor}", "{product}"}
	case ParamBoolean:
		return nil
	}
	return []string{"{input}"}
}

// allowsMinMax reports whether min and max make sense for the type.
func (t ParamType) allowsMinMax() bool {
	switch t {
	case ParamStorage, ParamInterface, ParamURL, ParamChoice:
		return false
	}
	return true
}

// Parameter is one entry of a script's "parameters" mapping. Optional settings are pointers
// so that a parameter re-encodes with exactly the keys it was given.
type Parameter struct {
	Name           string    `json:"-"`
	Type           ParamType `json:"type"`
	Title          string    `json:"title,omitempty"`
	Description    string    `json:"description,omitempty"`
	ArgumentFormat string    `json:"argument_format,omitempty"`
	Default        *string   `json:"default,omitempty"`
	Required       *bool     `json:"required,omitempty"`
	Min            *int64    `json:"min,omitempty"`
	Max            *int64    `json:"max,omitempty"`
	AllowList      *bool     `json:"allow_list,omitempty"` // url only: the value may be a comma list
	Choices        []Choice  `json:"choices,omitempty"`    // choice only
}

// IsRequired is the "required" setting, true unless the metadata says otherwise.
func (p Parameter) IsRequired() bool { return p.Required == nil || *p.Required }

// Format is the argument_format, or the runner's default for the type: "--storage={path}",
// "--interface={name}", otherwise "--<name>={input}".
func (p Parameter) Format() string {
	if p.ArgumentFormat != "" {
		return p.ArgumentFormat
	}
	switch p.Type {
	case ParamStorage:
		return "--storage={path}"
	case ParamInterface:
		return "--interface={name}"
	}
	return "--" + p.Name + "={input}"
}

// Choice is one allowed value of a choice parameter, with an optional label.
type Choice struct {
	Value string
	Label string // empty when the choice was written as a plain string
}

// Parameters are a script's parameters, in the order the metadata lists them (the order in
// which the runner appends their arguments).
type Parameters []Parameter

// Get returns the parameter called name.
func (ps Parameters) Get(name string) (Parameter, bool) {
	for _, p := range ps {
		if p.Name == name {
			return p, true
		}
	}
	return Parameter{}, false
}

// readTags reads a comma string or a list of strings (whose items may hold commas too).
func readTags(v *yaml.Node, c *collector) []string {
	v = deref(v)
	if v.Kind == yaml.SequenceNode {
		items, err := c.seq(v)
		if err != nil {
			c.add(KeyTags, err)
			return nil
		}
		var parts []string
		for i, item := range items {
			s, err := scalar(item)
			if err != nil {
				c.addf(fmt.Sprintf("%s[%d]", KeyTags, i), "%w", err)
				continue
			}
			parts = append(parts, s)
		}
		return ParseTags(strings.Join(parts, ","))
	}
	s, err := scalar(v)
	if err != nil {
		c.addf(KeyTags, "want a comma-separated string or a list of strings, got %s", describe(v))
		return nil
	}
	return ParseTags(s)
}

// stringList reads a string or a list of strings.
func stringList(field string, v *yaml.Node, c *collector) []string {
	v = deref(v)
	items := []*yaml.Node{v}
	list := v.Kind == yaml.SequenceNode
	if list {
		var err error
		if items, err = c.seq(v); err != nil {
			c.add(field, err)
			return nil
		}
	}
	var out []string
	for i, item := range items {
		f := field
		if list {
			f = fmt.Sprintf("%s[%d]", field, i)
		}
		s, err := scalar(item)
		if err != nil {
			c.add(f, err)
			continue
		}
		if strings.TrimSpace(s) == "" {
			c.addf(f, "must not be empty")
			continue
		}
		out = append(out, s)
	}
	return out
}

func readPackages(field string, v *yaml.Node, c *collector) wire.Packages {
	var p wire.Packages
	ps, err := c.pairs(v)
	if err != nil {
		c.addf(field, "want a mapping of apt, snap and url: %w", err)
		return p
	}
	for _, kv := range ps {
		f := field + "." + kv.key
		if isNull(kv.val) {
			continue
		}
		switch kv.key {
		case "apt":
			p.Apt = stringList(f, kv.val, c)
		case "url":
			p.URL = stringList(f, kv.val, c)
		case "snap":
			p.Snap = readSnaps(f, kv.val, c)
		default:
			c.addf(f, "unknown package source (want apt, snap or url)")
		}
	}
	return p
}

func readSnaps(field string, v *yaml.Node, c *collector) []wire.SnapPackage {
	v = deref(v)
	items := []*yaml.Node{v}
	list := v.Kind == yaml.SequenceNode
	if list {
		var err error
		if items, err = c.seq(v); err != nil {
			c.add(field, err)
			return nil
		}
	}
	var out []wire.SnapPackage
	for i, item := range items {
		f := field
		if list {
			f = fmt.Sprintf("%s[%d]", field, i)
		}
		if s, ok := readSnap(f, deref(item), c); ok {
			out = append(out, s)
		}
	}
	return out
}

func readSnap(field string, n *yaml.Node, c *collector) (wire.SnapPackage, bool) {
	var s wire.SnapPackage
	if n.Kind != yaml.MappingNode {
		name, err := scalar(n)
		if err != nil {
			c.addf(field, "want a snap name or a mapping of name, channel and mode, got %s", describe(n))
			return s, false
		}
		if strings.TrimSpace(name) == "" {
			c.addf(field, "snap name must not be empty")
			return s, false
		}
		return wire.SnapPackage{Name: name}, true
	}
	ps, err := c.pairs(n)
	if err != nil {
		c.add(field, err)
		return s, false
	}
	before := len(c.errs)
	for _, kv := range ps {
		str, err := scalar(kv.val)
		if err != nil {
			c.add(field+"."+kv.key, err)
			continue
		}
		switch kv.key {
		case "name":
			s.Name = str
		case "channel":
			if err := wire.CheckSnapChannel(str); err != nil {
				c.add(field+".channel", err)
			}
			s.Channel = str
		case "mode":
			if err := wire.CheckSnapMode(str); err != nil {
				c.add(field+".mode", err)
			}
			s.Mode = str
		}
	}
	if strings.TrimSpace(s.Name) == "" {
		c.addf(field+".name", "a snap needs a name")
	}
	return s, len(c.errs) == before
}

// forHardwareRE checks a hardware identifier: a modalias glob, a PCI or USB vendor:product
// id, or a DMI system or mainboard string. Prefixes are case-insensitive, as upstream's.
var forHardwareRE = regexp.MustCompile(`(?i)^(?:modalias:.+|(?:pci|usb):[0-9a-f]{4}:[0-9a-f]{4}|(?:system_vendor|system_product|system_version|mainboard_vendor|mainboard_product):.*)$`)

// ValidateHardwareID checks one for_hardware identifier.
func ValidateHardwareID(id string) error {
	if !forHardwareRE.MatchString(id) {
		//lint:ignore ST1005 the message ends with the last prefix it lists
		return fmt.Errorf("hardware identifier %q must be modalias:<glob>, pci:VVVV:PPPP, usb:VVVV:PPPP, system_vendor:, system_product:, system_version:, mainboard_vendor: or mainboard_product:", id)
	}
	return nil
}

func readForHardware(field string, v *yaml.Node, c *collector) []string {
	v = deref(v)
	var ids []string
	if v.Kind == yaml.SequenceNode {
		items, err := c.seq(v)
		if err != nil {
			c.add(field, err)
			return nil
		}
		for i, item := range items {
			s, err := scalar(item)
			if err != nil {
				c.addf(fmt.Sprintf("%s[%d]", field, i), "%w", err)
				continue
			}
			ids = append(ids, strings.TrimSpace(s))
		}
	} else {
		s, err := scalar(v)
		if err != nil {
			c.addf(field, "want a comma-separated string or a list, got %s", describe(v))
			return nil
		}
		ids = splitComma(s)
	}
	for i, id := range ids {
		if err := ValidateHardwareID(id); err != nil {
			c.add(fmt.Sprintf("%s[%d]", field, i), err)
		}
	}
	return ids
}

// splitComma splits at commas and trims each part; an all-blank string gives nothing.
func splitComma(s string) []string {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	parts := strings.Split(s, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts
}

func readResults(field string, v *yaml.Node, c *collector) Results {
	v = deref(v)
	var out Results
	switch v.Kind {
	case yaml.SequenceNode:
		items, err := c.seq(v)
		if err != nil {
			c.add(field, err)
			return nil
		}
		for i, item := range items {
			s, err := scalar(item)
			if err != nil {
				c.addf(fmt.Sprintf("%s[%d]", field, i), "each result in a list must be a string: %w", err)
				continue
			}
			out = append(out, ResultDef{Name: s})
		}
	case yaml.MappingNode:
		ps, err := c.pairs(v)
		if err != nil {
			c.add(field, err)
			return nil
		}
		for _, kv := range ps {
			f := field + "." + kv.key
			def := ResultDef{Name: kv.key}
			items, err := c.pairs(kv.val)
			if err != nil {
				c.addf(f, "each result in a mapping must be a mapping of title and description: %w", err)
				continue
			}
			hasTitle := false
			for _, it := range items {
				switch it.key {
				case "title", "description":
					s, err := scalar(it.val)
					if err != nil {
						c.add(f+"."+it.key, err)
						continue
					}
					if it.key == "title" {
						def.Title, hasTitle = s, true
					} else {
						def.Description = s
					}
				}
			}
			if !hasTitle {
				c.addf(f+".title", "a result needs a title")
				continue
			}
			out = append(out, def)
		}
	default:
		c.addf(field, "want a list of strings or a mapping of result definitions, got %s", describe(v))
	}
	return out
}

func readParameters(field string, v *yaml.Node, c *collector) Parameters {
	ps, err := c.pairs(v)
	if err != nil {
		c.addf(field, "want a mapping of parameter names to settings: %w", err)
		return nil
	}
	var out Parameters
	for _, kv := range ps {
		if p, ok := readParameter(field+"."+kv.key, kv.key, kv.val, c); ok {
			out = append(out, p)
		}
	}
	return out
}

func readParameter(field, name string, v *yaml.Node, c *collector) (Parameter, bool) {
	p := Parameter{Name: name}
	if strings.TrimSpace(name) == "" {
		c.addf(field, "a parameter needs a name")
		return p, false
	}
	ps, err := c.pairs(v)
	if err != nil {
		c.add(field, err)
		return p, false
	}
	before := len(c.errs)
	var typeSet bool
	for _, kv := range ps {
		f := field + "." + kv.key
		if isNull(kv.val) {
			continue
		}
		switch kv.key {
		case "type":
			s, err := scalar(kv.val)
			if err == nil {
				p.Type, err = ParseParamType(s)
			}
			if err != nil {
				c.add(f, err)
				continue
			}
			typeSet = true
		case "title", "description", "argument_format", "default":
			s, err := scalar(kv.val)
			if err != nil {
				c.add(f, err)
				continue
			}
			switch kv.key {
			case "title":
				p.Title = s
			case "description":
				p.Description = s
			case "argument_format":
				p.ArgumentFormat = s
			default:
				p.Default = &s
			}
		case "required", "allow_list":
			b, err := boolean(kv.val)
			if err != nil {
				c.add(f, err)
				continue
			}
			if kv.key == "required" {
				p.Required = &b
			} else {
				p.AllowList = &b
			}
		case "min", "max":
			i, err := integer(kv.val)
			if err != nil {
				c.add(f, err)
				continue
			}
			if kv.key == "min" {
				p.Min = &i
			} else {
				p.Max = &i
			}
		case "choices":
			p.Choices = readChoices(f, kv.val, c)
		}
	}
	if !typeSet {
		if len(c.errs) == before {
			c.addf(field+".type", "a parameter needs a type")
		}
		return p, false
	}
	p.check(field, c)
	return p, len(c.errs) == before
}

// check applies the rules that tie a parameter's settings to its type.
func (p *Parameter) check(field string, c *collector) {
	if (p.Min != nil || p.Max != nil) && !p.Type.allowsMinMax() {
		c.addf(field, "type %s does not support min or max", p.Type)
	}
	if p.Type == ParamRuntime && p.Min != nil && *p.Min < 0 {
		c.addf(field+".min", "a runtime minimum must not be negative")
	}
	if p.Min != nil && p.Max != nil && *p.Min > *p.Max {
		c.addf(field+".min", "min %d is greater than max %d", *p.Min, *p.Max)
	}
	if p.AllowList != nil && p.Type != ParamURL {
		c.addf(field+".allow_list", "only the url type supports allow_list")
	}
	if p.Choices != nil && p.Type != ParamChoice {
		c.addf(field+".choices", "only the choice type supports choices")
	}
	if p.Type == ParamChoice && p.Choices == nil {
		c.addf(field+".choices", "a choice parameter needs choices")
	}
	if p.ArgumentFormat != "" {
		if want := p.Type.Placeholders(); len(want) > 0 && !containsAny(p.ArgumentFormat, want) {
			c.addf(field+".argument_format", "a %s format must contain %s", p.Type, orList(want))
		}
	}
	if p.Default != nil {
		d := *p.Default
		switch p.Type {
		case ParamRuntime:
			if !isDigits(d) {
				c.addf(field+".default", "a runtime default must be whole seconds, got %q", d)
			}
		case ParamBoolean:
			if _, err := ParseBool(d); err != nil {
				c.add(field+".default", err)
			}
		case ParamChoice:
			if len(p.Choices) > 0 && !p.hasChoice(d) {
				c.addf(field+".default", "%q is not one of the choices", d)
			}
		}
	}
}

func (p *Parameter) hasChoice(v string) bool {
	for _, ch := range p.Choices {
		if ch.Value == v {
			return true
		}
	}
	return false
}

// readChoices reads a list of choices. It returns a non-nil list even when the items are
// wrong, so that the parameter counts as having choices.
func readChoices(field string, v *yaml.Node, c *collector) []Choice {
	v = deref(v)
	out := []Choice{}
	if v.Kind != yaml.SequenceNode {
		c.addf(field, "want a list, got %s", describe(v))
		return out
	}
	items, err := c.seq(v)
	if err != nil {
		c.add(field, err)
		return out
	}
	if len(items) == 0 {
		c.addf(field, "want at least one choice")
	}
	for i, item := range items {
		f := fmt.Sprintf("%s[%d]", field, i)
		item = deref(item)
		if item.Kind == yaml.SequenceNode {
			if len(item.Content) != 2 {
				c.addf(f, "want a string or a [value, label] pair, got a list of %d", len(item.Content))
				continue
			}
			val, err1 := scalar(item.Content[0])
			label, err2 := scalar(item.Content[1])
			if err1 != nil || err2 != nil {
				c.addf(f, "want a [value, label] pair of strings")
				continue
			}
			out = append(out, Choice{Value: val, Label: label})
			continue
		}
		s, err := scalar(item)
		if err != nil {
			c.addf(f, "want a string or a [value, label] pair, got %s", describe(item))
			continue
		}
		out = append(out, Choice{Value: s})
	}
	return out
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// orList renders ["a", "b", "c"] as "a, b or c".
func orList(items []string) string {
	if len(items) == 1 {
		return items[0]
	}
	return "one of " + strings.Join(items[:len(items)-1], ", ") + " or " + items[len(items)-1]
}
