package lifecycle

// This file applies scripts' for_hardware (upstream's _find_scripts, filter_modaliases and
// ScriptSet.select_for_hardware_scripts): a script with for_hardware runs only on a machine
// whose known hardware matches one of its identifiers. What is known is the output of the
// machine's last passed maas-list-modaliases and the system_, mainboard_, firmware_ and
// chassis_ values of its hardware_info.

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"maasgo/region/store"
	"maasgo/wire"
)

// ModaliasesScript is the built-in commissioning script that lists the machine's modaliases.
const ModaliasesScript = "maas-list-modaliases"

// Hardware is what the region knows of a machine's hardware for matching for_hardware.
type Hardware struct {
	// Modaliases are the lines of the last maas-list-modaliases output.
	Modaliases []string
	// Info is the machine's hardware_info (system_vendor, mainboard_product, ...).
	Info map[string]string
}

// hwPairs are the "key:value" identifiers hardware_info gives, as upstream's _get_hw_pairs:
// the system_, mainboard_, firmware_ and chassis_ values. "Unknown" stands for a value the
// machine did not report (upstream keeps no metadata for it), so it gives no pair.
func (h *Hardware) hwPairs() map[string]bool {
	out := map[string]bool{}
	for k, v := range h.Info {
		if v == "" || v == "Unknown" {
			continue
		}
		for _, p := range []string{"system_", "mainboard_", "firmware_", "chassis_"} {
			if strings.HasPrefix(k, p) {
				out[k+":"+v] = true
			}
		}
	}
	return out
}

// Matches reports whether the hardware matches one of a script's for_hardware identifiers;
// a script without for_hardware matches any machine. As upstream:
//   - modalias:<glob> matches a modalias by fnmatch (case-sensitive; * also matches / and :);
//   - pci:VVVV:PPPP matches pci:v0000VVVVd0000PPPPsv*sd*bc*sc*i* and usb:VVVV:PPPP matches
//     usb:vVVVVpPPPPd*dc*dsc*dp*ic*isc*ip*, the ids upper-cased as the kernel writes them;
//   - any other key:value (system_vendor:, mainboard_product:, ...) must equal one of the
//     hardware_info pairs exactly.
//
// The prefixes are matched in lower case only, as upstream's (which accepts PCI:... on upload
// and then never matches it).
func (h *Hardware) Matches(forHardware []string) bool {
	if len(forHardware) == 0 {
		return true
	}
	pairs := h.hwPairs()
	var globs []string
	for _, id := range forHardware {
		if pairs[id] {
			return true
		}
		kind, value, ok := strings.Cut(id, ":")
		if !ok {
			continue
		}
		switch kind {
		case "modalias":
			globs = append(globs, value)
		case "pci", "usb":
			vendor, product, ok := strings.Cut(value, ":")
			if !ok || strings.Contains(product, ":") {
				continue // malformed: ignored, as upstream
			}
			vendor, product = strings.ToUpper(vendor), strings.ToUpper(product)
			if kind == "pci" {
				globs = append(globs, "pci:v0000"+vendor+"d0000"+product+"sv*sd*bc*sc*i*")
			} else {
				globs = append(globs, "usb:v"+vendor+"p"+product+"d*dc*dsc*dp*ic*isc*ip*")
			}
		}
	}
	for _, g := range globs {
		re, err := fnmatchRegexp(g)
		if err != nil {
			continue // a glob Python could not use either
		}
		if slices.ContainsFunc(h.Modaliases, re.MatchString) {
			return true
		}
	}
	return false
}

// fnmatchRegexp translates a shell glob as Python's fnmatch does: * any string, ? any
// character, [seq] and [!seq] a set; a [ without its ] is a literal [.
func fnmatchRegexp(glob string) (*regexp.Regexp, error) {
	var b strings.Builder
	b.WriteString(`(?s)\A`)
	for i := 0; i < len(glob); {
		c := glob[i]
		i++
		switch c {
		case '*':
			b.WriteString(".*")
		case '?':
			b.WriteString(".")
		case '[':
			j := i
			if j < len(glob) && glob[j] == '!' {
				j++
			}
			if j < len(glob) && glob[j] == ']' {
				j++
			}
			for j < len(glob) && glob[j] != ']' {
				j++
			}
			if j >= len(glob) {
				b.WriteString(`\[`)
				continue
			}
			set := glob[i:j]
			i = j + 1
			b.WriteByte('[')
			if strings.HasPrefix(set, "!") {
				b.WriteByte('^')
				set = set[1:]
			}
			b.WriteString(strings.NewReplacer(`\`, `\\`, `[`, `\[`, `]`, `\]`, `^`, `\^`).Replace(set))
			b.WriteByte(']')
		default:
			b.WriteString(regexp.QuoteMeta(glob[i-1 : i]))
		}
	}
	b.WriteString(`\z`)
	re, err := regexp.Compile(b.String())
	if err != nil {
		return nil, fmt.Errorf("translate glob %q: %w", glob, err)
	}
	return re, nil
}

// KnownHardware reads what the region knows of m's hardware: the modaliases of the last
// maas-list-modaliases result of its current commissioning set when that passed (upstream's
// Node.modaliases), and its hardware_info as m holds it.
func KnownHardware(tx *store.Tx, m *store.Machine) (*Hardware, error) {
	h := &Hardware{Info: m.HardwareInfo}
	if m.CurrentCommissioningSet == nil {
		return h, nil
	}
	rs, err := tx.ScriptResults([]int64{*m.CurrentCommissioningSet}, false)
	if err != nil {
		return nil, fmt.Errorf("read the modaliases of machine %s: %w", m.SystemID, err)
	}
	var last *store.ScriptResult
	for i := range rs {
		if rs[i].ScriptName == ModaliasesScript && (last == nil || rs[i].ID > last.ID) {
			last = &rs[i]
		}
	}
	if last == nil || last.Status != wire.ScriptPassed {
		return h, nil
	}
	full, err := tx.ScriptResultByID(last.ID, true)
	if err != nil {
		return nil, fmt.Errorf("read the modaliases of machine %s: %w", m.SystemID, err)
	}
	for _, l := range strings.Split(string(full.Stdout), "\n") {
		if l = strings.TrimRight(l, "\r"); l != "" {
			h.Modaliases = append(h.Modaliases, l)
		}
	}
	return h, nil
}

// forHardwareOnly keeps the scripts of list that apply to the hardware: those without
// for_hardware and those whose for_hardware matches. A script named in the request that does
// not match is left out without a result, as upstream.
func forHardwareOnly(h *Hardware, list []store.Script) []store.Script {
	return slices.DeleteFunc(slices.Clone(list), func(s store.Script) bool { return !h.Matches(s.ForHardware) })
}

// addForHardware adds to a commissioning machine's current commissioning set, as pending,
// each for_hardware commissioning script that now matches its hardware, when the set does
// not hold it yet and the commissioning asked for one of the script's tags (upstream's
// select_for_hardware_scripts, which the region runs before the runner downloads the scripts
// again after the built-in ones; here it runs as the modaliases and the inventory arrive, so
// the next download lists them). A script whose parameters cannot be resolved is left out
// and says why in an event.
func addForHardware(tx *store.Tx, m *store.Machine) error {
	if m.Status != wire.NodeCommissioning || m.CurrentCommissioningSet == nil {
		return nil
	}
	set, err := tx.ScriptSetByID(*m.CurrentCommissioningSet)
	if err != nil {
		return fmt.Errorf("add for_hardware scripts for machine %s: %w", m.SystemID, err)
	}
	if len(set.Tags) == 0 {
		return nil
	}
	typ := wire.ScriptTypeCommissioning
	all, err := tx.Scripts(&typ)
	if err != nil {
		return fmt.Errorf("add for_hardware scripts for machine %s: %w", m.SystemID, err)
	}
	rs, err := tx.ScriptResults([]int64{set.ID}, false)
	if err != nil {
		return fmt.Errorf("add for_hardware scripts for machine %s: %w", m.SystemID, err)
	}
	h, err := KnownHardware(tx, m)
	if err != nil {
		return err
	}
	var dev *devices
	for i := range all {
		s := &all[i]
		if len(s.ForHardware) == 0 || !slices.ContainsFunc(s.Tags, func(t string) bool { return slices.Contains(set.Tags, t) }) ||
			slices.ContainsFunc(rs, func(r store.ScriptResult) bool { return r.ScriptName == s.Name }) || !h.Matches(s.ForHardware) {
			continue
		}
		if dev == nil {
			if dev, err = loadDevices(tx, m); err != nil {
				return err
			}
		}
		fresh, err := newResults(s, set.ID, nil, dev)
		var fe wire.FieldErrors
		if errors.As(err, &fe) {
			if err := tx.AddEvent(&store.Event{NodeID: m.ID, Type: "Script result error", Level: "ERROR",
				Description: fmt.Sprintf("Error adding for_hardware Script %s due to error - %v", s.Name, err)}); err != nil {
				return err
			}
			continue
		} else if err != nil {
			return err
		}
		for _, r := range fresh {
			if err := tx.CreateScriptResult(r); err != nil {
				return err
			}
		}
		if err := tx.AddEvent(&store.Event{NodeID: m.ID, Type: "Commissioning", Level: "INFO",
			Description: fmt.Sprintf("%s added: the machine has the hardware it is for", s.Name)}); err != nil {
			return err
		}
	}
	return nil
}

// requestedTags are the names of a request that are some script's tags (upstream's
// _filter_tags): a commissioning set keeps them to add its for_hardware scripts later.
func requestedTags(tx *store.Tx, named []string) ([]string, error) {
	if len(named) == 0 {
		return nil, nil
	}
	all, err := tx.Scripts(nil)
	if err != nil {
		return nil, fmt.Errorf("read the script tags: %w", err)
	}
	var out []string
	for _, n := range named {
		if !slices.Contains(out, n) && slices.ContainsFunc(all, func(s store.Script) bool { return slices.Contains(s.Tags, n) }) {
			out = append(out, n)
		}
	}
	return out, nil
}
