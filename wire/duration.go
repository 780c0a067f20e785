package wire

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// FormatTimedelta renders d the way Python prints a timedelta: "0:05:00", "1 day, 2:00:00",
// "0:00:01.500000". The API shows script timeouts and runtimes in this form.
func FormatTimedelta(d time.Duration) string {
	neg := d < 0
	if neg {
		d = -d
	}
	us := d.Microseconds()
	days := us / (86400 * 1e6)
	us -= days * 86400 * 1e6
	h := us / 3600e6
	us -= h * 3600e6
	m := us / 60e6
	us -= m * 60e6
	s := us / 1e6
	us -= s * 1e6
	out := fmt.Sprintf("%d:%02d:%02d", h, m, s)
	if us != 0 {
		out += fmt.Sprintf(".%06d", us)
	}
	if days == 1 {
		out = "1 day, " + out
	} else if days > 1 {
		out = fmt.Sprintf("%d days, %s", days, out)
	}
	if neg {
		out = "-" + out
	}
	return out
}

// maxDuration bounds a parsed duration (about 100 years), far below time.Duration's limit.
const maxDuration = 100 * 366 * 24 * time.Hour

var durationRE = regexp.MustCompile(`^(?:(\d+) (?:days?,? )?)?(?:(?:(\d+):)?(\d+):)?(\d+)(?:[.,](\d{1,6})\d*)?$`)

// ParseDuration reads a duration as upstream's forms do (Django's parse_duration): plain
// seconds ("300"), "MM:SS", "HH:MM:SS", "D HH:MM:SS", "1 day, 0:00:00", with optional
// fractional seconds, or a Go duration ("5m").
func ParseDuration(v string) (time.Duration, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, fmt.Errorf("empty duration")
	}
	if m := durationRE.FindStringSubmatch(v); m != nil {
		var total time.Duration
		for i, unit := range []time.Duration{24 * time.Hour, time.Hour, time.Minute, time.Second} {
			if m[i+1] == "" {
				continue
			}
			n, err := strconv.ParseInt(m[i+1], 10, 64)
			if err != nil || time.Duration(n) > maxDuration/unit {
				return 0, fmt.Errorf("duration %q is out of range", v)
			}
			if total += time.Duration(n) * unit; total > maxDuration {
				return 0, fmt.Errorf("duration %q is out of range", v)
			}
		}
		if m[5] != "" {
			frac := m[5] + strings.Repeat("0", 6-len(m[5]))
			us, _ := strconv.Atoi(frac)
			total += time.Duration(us) * time.Microsecond
		}
		return total, nil
	}
	if d, err := time.ParseDuration(v); err == nil && d >= 0 {
		return d, nil
	}
	return 0, fmt.Errorf("invalid duration %q (want seconds, HH:MM:SS or D HH:MM:SS)", v)
}

// FormatRFC2822 renders t as Python's email.utils.format_datetime does for the API's
// timestamps: "Thu, 06 Dec 2018 21:26:18 -0000".
func FormatRFC2822(t time.Time) string {
	return t.UTC().Format("Mon, 02 Jan 2006 15:04:05") + " -0000"
}
