package web

import (
	"net/url"
	"strings"
)

// diffLine is one line of a diff: ' ' kept, '-' removed, '+' added, with its line numbers in
// the old and new text (0 when it has none there).
type diffLine struct {
	Op       byte
	Old, New int
	Text     string
}

// OpClass names the line's kind for the stylesheet.
func (l diffLine) OpClass() string {
	switch l.Op {
	case '+':
		return "add"
	case '-':
		return "del"
	}
	return "same"
}

// OpText is the sign shown before the line.
func (l diffLine) OpText() string { return string(l.Op) }

func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

// maxDiffCells bounds the table the longest-common-subsequence diff fills (after the common
// head and tail are set aside): past it, the middle shows as removed and added whole.
const maxDiffCells = 4 << 20

// diffLines gives a shortest line diff of a and b (a longest common subsequence), and
// whether it is exact (false: the middle was too large and shows as replaced whole).
func diffLines(a, b []string) ([]diffLine, bool) {
	var out []diffLine
	head := 0
	for head < len(a) && head < len(b) && a[head] == b[head] {
		out = append(out, diffLine{Op: ' ', Old: head + 1, New: head + 1, Text: a[head]})
		head++
	}
	tail := 0
	for tail < len(a)-head && tail < len(b)-head && a[len(a)-1-tail] == b[len(b)-1-tail] {
		tail++
	}
	ma, mb := a[head:len(a)-tail], b[head:len(b)-tail]
	exact := true
	if len(ma)*len(mb) > maxDiffCells {
		exact = false
		for i, l := range ma {
			out = append(out, diffLine{Op: '-', Old: head + i + 1, Text: l})
		}
		for j, l := range mb {
			out = append(out, diffLine{Op: '+', New: head + j + 1, Text: l})
		}
	} else {
		out = append(out, lcsDiff(ma, mb, head)...)
	}
	for k := 0; k < tail; k++ {
		i, j := len(a)-tail+k, len(b)-tail+k
		out = append(out, diffLine{Op: ' ', Old: i + 1, New: j + 1, Text: a[i]})
	}
	return out, exact
}

// lcsDiff diffs a and b by dynamic programming over their suffixes; off is their first line's
// index in the whole texts.
func lcsDiff(a, b []string, off int) []diffLine {
	n, m := len(a), len(b)
	w := m + 1
	// lcs[i*w+j] is the length of the longest common subsequence of a[i:] and b[j:].
	lcs := make([]int32, (n+1)*w)
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i*w+j] = lcs[(i+1)*w+j+1] + 1
			} else {
				lcs[i*w+j] = max(lcs[(i+1)*w+j], lcs[i*w+j+1])
			}
		}
	}
	var out []diffLine
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && a[i] == b[j]:
			out = append(out, diffLine{Op: ' ', Old: off + i + 1, New: off + j + 1, Text: a[i]})
			i++
			j++
		case i < n && (j == m || lcs[(i+1)*w+j] >= lcs[i*w+j+1]):
			out = append(out, diffLine{Op: '-', Old: off + i + 1, Text: a[i]})
			i++
		default:
			out = append(out, diffLine{Op: '+', New: off + j + 1, Text: b[j]})
			j++
		}
	}
	return out
}

func urlPathEscape(s string) string { return url.PathEscape(s) }
