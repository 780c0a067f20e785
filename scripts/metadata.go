// Package scripts holds the built-in commissioning and testing scripts and the parser of the
// "MAAS 1.0 script metadata" block that every script carries in its comments
// (protocol.md §10, hardware.md §1.1). The region uses it to validate uploaded scripts and
// request fields; the agent and the region both use the built-in registry.
package scripts

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"maasgo/wire"
)

// Metadata keys, as written in the embedded YAML and as request fields.
const (
	KeyName                      = "name"
	KeyTitle                     = "title"
	KeyDescription               = "description"
	KeyTags                      = "tags"
	KeyScriptType                = "script_type"
	KeyHardwareType              = "hardware_type"
	KeyParallel                  = "parallel"
	KeyTimeout                   = "timeout"
	KeyDestructive               = "destructive"
	KeyMayReboot                 = "may_reboot"
	KeyRecommission              = "recommission"
	KeyApplyConfiguredNetworking = "apply_configured_networking"
	KeyPackages                  = "packages"
	KeyForHardware               = "for_hardware"
	KeyResults                   = "results"
	KeyParameters                = "parameters"
)

// Metadata is what a script's embedded block says about it. Fields the block leaves out
// hold upstream's defaults; Set tells which keys the block gave.
type Metadata struct {
	Name                      string
	Title                     string
	Description               string
	Tags                      []string // as written, without the automatic tags (see EffectiveTags)
	ScriptType                wire.ScriptType
	HardwareType              wire.HardwareType
	Parallel                  wire.Parallel
	Timeout                   time.Duration // 0 = no timeout
	Destructive               bool
	MayReboot                 bool
	Recommission              bool
	ApplyConfiguredNetworking bool
	Packages                  wire.Packages
	ForHardware               []string
	Results                   Results
	Parameters                Parameters

	// Set holds the keys (Key* constants) the block gave a non-null value.
	Set map[string]bool
	// Ignored lists the top-level keys the parser does not know, in order (upstream ignores
	// them silently; "type" is one of them, as upstream reads it only from requests).
	Ignored []string
}

// Has reports whether the embedded block set key.
func (m *Metadata) Has(key string) bool { return m.Set[key] }

// EffectiveTags is the tag list a saved script carries: the written tags plus the automatic
// ones (see ApplyAutoTags).
func (m *Metadata) EffectiveTags() []string {
	return ApplyAutoTags(m.Tags, m.HardwareType, m.Destructive)
}

// newMetadata returns the defaults of a script that says nothing about itself.
func newMetadata() *Metadata {
	return &Metadata{
		ScriptType:   wire.ScriptTypeTesting,
		HardwareType: wire.HardwareNode,
		Parallel:     wire.ParallelDisabled,
		Set:          map[string]bool{},
	}
}

// delimiter matches the start and end lines of a metadata block. Like upstream it is
// searched anywhere in a line and matched case-insensitively.
var delimiter = regexp.MustCompile(`(?i)\s*#\s*-+\s*(Start|End) MAAS (\d+\.\d+) script metadata\s+-+`)

// Parse reads a script's embedded metadata. Line 1 must be a shebang ("#!/"). The block
// runs from a "--- Start MAAS 1.0 script metadata ---" comment line to the matching End
// line (or the end of the script); blocks of other versions are skipped. Every non-blank
// line inside must contain "#", and the text after the first "#" is YAML. A script without
// a block gets the defaults. Problems are returned together as Errors, each naming its field.
func Parse(body []byte) (*Metadata, error) {
	var c collector
	lines := splitLines(string(body))
	if len(lines) == 0 || !strings.HasPrefix(lines[0], "#!/") {
		c.add("script", ErrNoShebang)
	}
	text, lineMap, ok := extractBlock(lines, &c)
	md := newMetadata()
	if ok {
		root, err := decodeYAML([]byte(text))
		switch {
		case err != nil:
			c.addf("script", "metadata block: %w", scriptLines(err, lineMap))
		case root == nil:
		case root.Kind != yaml.MappingNode:
			c.addf("script", "metadata block: want a mapping, got %s", describe(root))
		default:
			md.read(root, &c)
		}
	}
	if err := c.err(); err != nil {
		return nil, err
	}
	return md, nil
}

// extractBlock returns the YAML text of the version 1.0 block, with the comment markers
// removed, and for each YAML line the script line it came from. ok is false when a line of
// the block lacks "#".
func extractBlock(lines []string, c *collector) (text string, lineMap []int, ok bool) {
	var b strings.Builder
	found := ""
	for i, line := range lines {
		if i == 0 {
			continue
		}
		if m := delimiter.FindStringSubmatch(line); m != nil {
			if found == "" && m[2] == "1.0" {
				found = m[2]
				continue
			}
			if found == m[2] {
				break
			}
			continue
		}
		if found == "" || strings.TrimSpace(line) == "" {
			continue
		}
		_, after, hasHash := strings.Cut(line, "#")
		if !hasHash {
			c.addf("script", "line %d: missing \"#\" on a metadata line", i+1)
			return "", nil, false
		}
		b.WriteString(after)
		b.WriteByte('\n')
		lineMap = append(lineMap, i+1)
	}
	return b.String(), lineMap, true
}

// yamlLine finds the line numbers in the YAML library's messages.
var yamlLine = regexp.MustCompile(`\bline (\d+)\b`)

// scriptLines rewrites the line numbers of a YAML error, which count lines of the block,
// into line numbers of the script.
func scriptLines(err error, lineMap []int) error {
	msg := yamlLine.ReplaceAllStringFunc(err.Error(), func(m string) string {
		n, convErr := strconv.Atoi(strings.TrimPrefix(m, "line "))
		if convErr != nil || n < 1 || n > len(lineMap) {
			return m
		}
		return "line " + strconv.Itoa(lineMap[n-1])
	})
	return errors.New(msg)
}

// splitLines splits text at line boundaries the way the upstream region does (Python's
// str.splitlines): \n, \r\n, \r, \v, \f, \x1c-\x1e, U+0085, U+2028 and U+2029.
func splitLines(s string) []string {
	var lines []string
	start := 0
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch r {
		case '\n', '\v', '\f', 0x1c, 0x1d, 0x1e, 0x85, 0x2028, 0x2029:
			lines = append(lines, s[start:i])
			i += size
			start = i
			continue
		case '\r':
			lines = append(lines, s[start:i])
			i += size
			if i < len(s) && s[i] == '\n' {
				i++
			}
			start = i
			continue
		}
		i += size
	}
	if start < len(s) {
		lines = append(lines, s[start:])
	}
	return lines
}

// read fills md from the block's top-level mapping.
func (md *Metadata) read(root *yaml.Node, c *collector) {
	ps, err := c.pairs(root)
	if err != nil {
		c.addf("script", "metadata block: %w", err)
		return
	}
	for _, p := range ps {
		key, v := p.key, p.val
		if isNull(v) {
			// A key without a value leaves the default, as a missing key does.
			if !knownKey(key) {
				md.Ignored = append(md.Ignored, key)
			}
			continue
		}
		ok := md.readKey(key, v, c)
		if ok {
			md.Set[key] = true
		}
	}
}

func knownKey(key string) bool {
	switch key {
	case KeyName, KeyTitle, KeyDescription, KeyTags, KeyScriptType, KeyHardwareType, KeyParallel,
		KeyTimeout, KeyDestructive, KeyMayReboot, KeyRecommission, KeyApplyConfiguredNetworking,
		KeyPackages, KeyForHardware, KeyResults, KeyParameters:
		return true
	}
	return false
}

// readKey reads one known key and reports whether it was valid. Unknown keys are recorded
// in Ignored.
func (md *Metadata) readKey(key string, v *yaml.Node, c *collector) bool {
	n := len(c.errs)
	switch key {
	case KeyName:
		if s, err := scalar(v); err != nil {
			c.add(key, err)
		} else if err := ValidateName(s); err != nil {
			c.add(key, err)
		} else {
			md.Name = s
		}
	case KeyTitle:
		if s, err := scalar(v); err != nil {
			c.add(key, err)
		} else if utf8.RuneCountInString(s) > maxTitle {
			c.addf(key, "longer than %d characters", maxTitle)
		} else {
			md.Title = s
		}
	case KeyDescription:
		if s, err := scalar(v); err != nil {
			c.add(key, err)
		} else {
			md.Description = s
		}
	case KeyTags:
		md.Tags = readTags(v, c)
	case KeyScriptType:
		if s, err := scalar(v); err != nil {
			c.add(key, err)
		} else if t, err := wire.ParseScriptType(s); err != nil {
			c.add(key, err)
		} else {
			md.ScriptType = t
		}
	case KeyHardwareType:
		if s, err := scalar(v); err != nil {
			c.add(key, err)
		} else if h, err := wire.ParseHardwareType(s); err != nil {
			c.add(key, err)
		} else {
			md.HardwareType = h
		}
	case KeyParallel:
		if s, err := scalar(v); err != nil {
			c.add(key, err)
		} else if p, err := wire.ParseParallel(s); err != nil {
			c.add(key, err)
		} else {
			md.Parallel = p
		}
	case KeyTimeout:
		if d, err := timeout(v); err != nil {
			c.add(key, err)
		} else {
			md.Timeout = d
		}
	case KeyDestructive, KeyMayReboot, KeyRecommission, KeyApplyConfiguredNetworking:
		b, err := boolean(v)
		if err != nil {
			c.add(key, err)
			break
		}
		switch key {
		case KeyDestructive:
			md.Destructive = b
		case KeyMayReboot:
			md.MayReboot = b
		case KeyRecommission:
			md.Recommission = b
		default:
			md.ApplyConfiguredNetworking = b
		}
	case KeyPackages:
		md.Packages = readPackages(key, v, c)
	case KeyForHardware:
		md.ForHardware = readForHardware(key, v, c)
	case KeyResults:
		md.Results = readResults(key, v, c)
	case KeyParameters:
		md.Parameters = readParameters(key, v, c)
	default:
		md.Ignored = append(md.Ignored, key)
		return false
	}
	return len(c.errs) == n
}

// maxName and maxTitle are the lengths of the region's name and title columns.
const (
	maxName  = 255
	maxTitle = 255
)

// ValidateName checks a script name as the region does: not empty, at most 255 characters,
// not "none" (reserved: it means "no tests"), not all digits (scripts are also selected by
// id), and unchanged by shell quoting (letters, digits and _@%+=:,.- only). A "/" is refused
// too, and so are "." and "..": the name becomes a file name in the scripts tar and in the
// agent's output directory.
func ValidateName(name string) error {
	switch {
	case name == "":
		return errors.New("must not be empty")
	case len(name) > maxName:
		return fmt.Errorf("longer than %d characters", maxName)
	case strings.EqualFold(name, "none"):
		return errors.New(`"none" is a reserved name`)
	case isDigits(name):
		return errors.New("cannot be a number")
	case name == "." || name == "..":
		return fmt.Errorf("%q is not a usable file name", name)
	}
	for _, r := range name {
		if !shellSafe(r) || r == '/' {
			return fmt.Errorf("name %q contains disallowed character %q (allowed: letters, digits and _@%%+=:,.-)", name, r)
		}
	}
	return nil
}

func isDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

// shellSafe is the character set that shell quoting leaves alone.
func shellSafe(r rune) bool {
	switch {
	case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		return true
	}
	return strings.ContainsRune("_@%+=:,./-", r)
}

// timeout reads a timeout: whole seconds as a YAML integer, or a duration string
// ("300", "05:00", "00:05:00", "1 00:00:00").
func timeout(v *yaml.Node) (time.Duration, error) {
	v = deref(v)
	if v.Kind == yaml.ScalarNode && v.ShortTag() == "!!int" {
		var secs int64
		if err := v.Decode(&secs); err == nil {
			if secs < 0 || secs > maxTimeoutSeconds {
				return 0, fmt.Errorf("%d seconds is out of range", secs)
			}
			return time.Duration(secs) * time.Second, nil
		}
	}
	s, err := scalar(v)
	if err != nil {
		return 0, fmt.Errorf("want seconds or a duration, got %s", describe(v))
	}
	return ParseTimeout(s)
}

// maxTimeoutSeconds keeps timeouts well inside time.Duration (about 292 years).
const maxTimeoutSeconds = 100 * 365 * 24 * 3600

// ParseTimeout reads a timeout from the embedded YAML or a request: seconds ("300"),
// "MM:SS", "HH:MM:SS", "D HH:MM:SS" or a Go duration. It must lie between 0 and 100 years.
func ParseTimeout(s string) (time.Duration, error) {
	d, err := wire.ParseDuration(s)
	if err != nil {
		return 0, err
	}
	if d < 0 || d > maxTimeoutSeconds*time.Second || roughSeconds(s) > maxTimeoutSeconds {
		return 0, fmt.Errorf("duration %q is out of range", s)
	}
	return d, nil
}

// clockForm matches the day/clock forms of a duration, to check their size before
// time.Duration arithmetic could wrap around.
var clockForm = regexp.MustCompile(`^\s*(?:(\d+) (?:days?,? )?)?(?:(?:(\d+):)?(\d+):)?(\d+)`)

// roughSeconds is the size in seconds of a day/clock duration, computed in floating point so
// that it cannot overflow; 0 for other forms.
func roughSeconds(s string) float64 {
	m := clockForm.FindStringSubmatch(s)
	if m == nil {
		return 0
	}
	var total float64
	for i, unit := range []float64{86400, 3600, 60, 1} {
		var n float64
		for _, r := range m[i+1] {
			n = n*10 + float64(r-'0')
		}
		total += n * unit
	}
	return total
}
