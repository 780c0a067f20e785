package wire

import (
	"bytes"
	"strconv"
)

// parseResultFast reads the common shape of a result file without a YAML parser: top-level
// "key: value" lines, and a "results:" block of "  key: value" lines under one indent, every
// value a plain word or number from a narrow alphabet. ok is false for anything else (quotes,
// flow or block collections, comments, tabs, document markers, non-ASCII, words YAML gives a
// meaning of its own, numbers in any other notation, duplicate keys, the link keys), and
// ParseResult then reads the file with yaml.v3. Where it answers, it answers what yaml.v3
// would (FuzzParseResultFast holds the two to the same result). Result files are the most
// frequent YAML a region reads, one per script result, and the full parser costs a
// quarter of a signal's CPU.
func parseResultFast(data []byte) (r *Result, ok bool) {
	r = &Result{}
	seen := map[string]bool{}
	var metrics map[string]any
	inResults, indent := false, 0
	values := 0
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		if len(line) == 0 {
			continue
		}
		n := 0
		for n < len(line) && line[n] == ' ' {
			n++
		}
		if n > 0 {
			// A metric under results:, at the block's one indent.
			if !inResults || (indent != 0 && n != indent) {
				return nil, false
			}
			indent = n
			key, value, ok := fastPair(line[n:])
			if !ok || value == "" || seen["results."+key] {
				return nil, false
			}
			seen["results."+key] = true
			v, ok := fastScalar(value)
			if !ok {
				return nil, false
			}
			if values++; values > maxResultValues {
				return nil, false
			}
			if metrics == nil {
				metrics = map[string]any{}
			}
			metrics[key] = v
			continue
		}
		inResults = false
		key, value, ok := fastPair(line)
		if !ok || seen[key] {
			return nil, false
		}
		seen[key] = true
		switch key {
		case "status":
			s, known := resultStatuses[value]
			if !known {
				return nil, false
			}
			r.Status = &s
		case "results":
			if value != "" {
				return nil, false
			}
			inResults, indent = true, 0
		case "link_connected", "link_speed", "interface_speed":
			return nil, false
		default:
			if value == "" {
				return nil, false
			}
			if _, ok := fastScalar(value); !ok {
				return nil, false
			}
			r.Ignored = append(r.Ignored, key)
		}
	}
	if len(seen) == 0 {
		return nil, false
	}
	r.Results = metrics
	return r, true
}

// fastPair splits "key: value" or "key:" where the key is a word of up to 256 letters,
// digits, '_', '-' and '.' starting with a letter, digit or '_', and the value has no spaces
// around it.
func fastPair(line []byte) (key, value string, ok bool) {
	i := 0
	for i < len(line) && fastKeyByte(line[i], i == 0) {
		i++
	}
	// YAML allows an implicit key of at most 1,024 characters; stay well inside.
	if i == 0 || i > 256 || i == len(line) || line[i] != ':' {
		return "", "", false
	}
	key = string(line[:i])
	rest := line[i+1:]
	if len(rest) == 0 {
		return key, "", true
	}
	if len(rest) < 2 || rest[0] != ' ' || rest[1] == ' ' || rest[len(rest)-1] == ' ' {
		return "", "", false
	}
	return key, string(rest[1:]), true
}

func fastKeyByte(c byte, first bool) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_':
		return true
	case c == '-' || c == '.':
		return !first
	}
	return false
}

// fastScalar converts a plain value as ParseResult's metrics do: a decimal integer of up to
// 18 digits without leading zeros to int64, digits.digits to float64, a word starting with
// a letter or '_' (of letters, digits, '_', '-', '.') to a string unless YAML reads it as
// something else (null, booleans, YAML 1.1's yes/no/on/off/y/n). Anything else is not ok.
func fastScalar(v string) (any, bool) {
	if v == "" {
		return nil, false
	}
	c := v[0]
	if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' {
		for i := 1; i < len(v); i++ {
			if !fastKeyByte(v[i], false) {
				return nil, false
			}
		}
		if len(v) <= 5 && yamlWord[string(bytes.ToLower([]byte(v)))] {
			return nil, false
		}
		return v, true
	}
	s := v
	if s[0] == '-' {
		s = s[1:]
	}
	dot := -1
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] >= '0' && s[i] <= '9':
		case s[i] == '.' && dot < 0:
			dot = i
		default:
			return nil, false
		}
	}
	intPart := s
	if dot >= 0 {
		intPart = s[:dot]
		if dot == 0 || dot == len(s)-1 {
			return nil, false
		}
	}
	if len(intPart) == 0 || (len(intPart) > 1 && intPart[0] == '0') || len(intPart) > 18 {
		return nil, false
	}
	if dot < 0 {
		n, err := strconv.ParseInt(v, 10, 64)
		return n, err == nil
	}
	if len(s) > 40 {
		return nil, false
	}
	f, err := strconv.ParseFloat(v, 64)
	return f, err == nil
}

// yamlWord are the words (lower-cased) YAML or ParseResult read as something other than a
// string.
var yamlWord = map[string]bool{
	"null": true, "true": true, "false": true, "yes": true, "no": true, "on": true, "off": true, "y": true, "n": true,
}
