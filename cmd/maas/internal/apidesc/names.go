package apidesc

import (
	"regexp"
	"strings"
)

// words splits s the way upstream's CLI does with its CamelCase regular expression
// ([A-Z]*[a-z0-9]+|[A-Z]+ followed by a character outside [a-z0-9] or the end): a run of
// capitals followed by lower-case letters or digits is one word ("HTTPServer"), a run of
// capitals alone is one word, and everything else (underscores, dashes, non-ASCII) separates
// words and is dropped.
func words(s string) []string {
	var out []string
	isUpper := func(c byte) bool { return c >= 'A' && c <= 'Z' }
	isLowerDigit := func(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }
	for i := 0; i < len(s); {
		k := i
		for k < len(s) && isUpper(s[k]) {
			k++
		}
		switch {
		case k < len(s) && isLowerDigit(s[k]):
			m := k
			for m < len(s) && isLowerDigit(s[m]) {
				m++
			}
			out = append(out, s[i:m])
			i = m
		case k > i:
			out = append(out, s[i:k])
			i = k
		default:
			i++
		}
	}
	return out
}

// SafeName is upstream's name for an action: its words joined with "-", case kept
// ("set_config" → "set-config").
func SafeName(s string) string { return strings.Join(words(s), "-") }

// CommandName is upstream's name for a resource: the handler class name's words, lower-cased,
// without "handler", joined with "-" ("NodeScriptResultHandler" → "node-script-result").
func CommandName(handler string) string {
	var parts []string
	for _, w := range words(handler) {
		if w = strings.ToLower(w); w != "handler" {
			parts = append(parts, w)
		}
	}
	return strings.Join(parts, "-")
}

// CleanDoc removes a docstring's common indentation as Python's inspect.cleandoc does: tabs
// become spaces (stops of 8), the first line loses its leading blanks, the other lines lose
// the smallest indentation among them, and leading and trailing blank lines go.
func CleanDoc(doc string) string {
	lines := strings.Split(expandTabs(doc), "\n")
	margin := -1
	for _, l := range lines[1:] {
		content := strings.TrimLeft(l, " ")
		if content == "" {
			continue
		}
		if ind := len(l) - len(content); margin < 0 || ind < margin {
			margin = ind
		}
	}
	lines[0] = strings.TrimLeft(lines[0], " ")
	if margin > 0 {
		for i := 1; i < len(lines); i++ {
			if len(lines[i]) >= margin {
				lines[i] = lines[i][margin:]
			} else {
				lines[i] = strings.TrimLeft(lines[i], " ")
			}
		}
	}
	for len(lines) > 0 && strings.TrimSpace(lines[0]) == "" {
		lines = lines[1:]
	}
	for len(lines) > 0 && strings.TrimSpace(lines[len(lines)-1]) == "" {
		lines = lines[:len(lines)-1]
	}
	return strings.Join(lines, "\n")
}

func expandTabs(s string) string {
	if !strings.Contains(s, "\t") {
		return s
	}
	var b strings.Builder
	col := 0
	for _, r := range s {
		switch r {
		case '\t':
			n := 8 - col%8
			b.WriteString(strings.Repeat(" ", n))
			col += n
		case '\n', '\r':
			b.WriteRune(r)
			col = 0
		default:
			b.WriteRune(r)
			col++
		}
	}
	return b.String()
}

var paragraphBreak = regexp.MustCompile(`(?:\r\n){2,}|\r{2,}|\n{2,}`)

// SplitDoc splits a docstring into its title (the first paragraph on one line) and its body
// (the rest, with line breaks normalised to "\n"), as upstream's parse_docstring does.
func SplitDoc(doc string) (title, body string) {
	doc = CleanDoc(doc)
	if loc := paragraphBreak.FindStringIndex(doc); loc != nil {
		title, body = doc[:loc[0]], doc[loc[1]:]
	} else {
		title = doc
	}
	var ls []string
	for _, l := range strings.Split(strings.ReplaceAll(title, "\r\n", "\n"), "\n") {
		for _, l := range strings.Split(l, "\r") {
			ls = append(ls, strings.TrimSpace(l))
		}
	}
	title = strings.Join(ls, " ")
	body = strings.ReplaceAll(strings.ReplaceAll(body, "\r\n", "\n"), "\r", "\n")
	return title, body
}

var paramLine = regexp.MustCompile(`(?m):param\s+([^:\s]+)\s*:`)

// ParamNames lists the names documented with ":param NAME:" in doc, in order, once each.
func ParamNames(doc string) []string {
	var out []string
	seen := map[string]bool{}
	for _, m := range paramLine.FindAllStringSubmatch(doc, -1) {
		if !seen[m[1]] {
			seen[m[1]] = true
			out = append(out, m[1])
		}
	}
	return out
}
