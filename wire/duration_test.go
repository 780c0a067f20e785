package wire

import (
	"testing"
	"time"
)

func TestFormatTimedelta(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{0, "0:00:00"},
		{5 * time.Minute, "0:05:00"},
		{14 * time.Hour, "14:00:00"},
		{24 * time.Hour, "1 day, 0:00:00"},
		{49*time.Hour + 3*time.Second, "2 days, 1:00:03"},
		{1500 * time.Millisecond, "0:00:01.500000"},
	} {
		if got := FormatTimedelta(tc.d); got != tc.want {
			t.Errorf("FormatTimedelta(%v) = %q; want %q", tc.d, got, tc.want)
		}
	}
}

func TestParseDuration(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		bad  bool
	}{
		{in: "300", want: 300 * time.Second},
		{in: "05:00", want: 5 * time.Minute},
		{in: "00:05:00", want: 5 * time.Minute},
		{in: "1 00:00:00", want: 24 * time.Hour},
		{in: "1 day, 0:00:00", want: 24 * time.Hour},
		{in: "2 days, 1:00:03", want: 49*time.Hour + 3*time.Second},
		{in: "0:00:01.5", want: 1500 * time.Millisecond},
		{in: "5m", want: 5 * time.Minute},
		{in: "", bad: true},
		{in: "soon", bad: true},
		{in: "-5", bad: true},
		{in: "99999999999999999999", bad: true},
		{in: "9999999999 00:00:00", bad: true},
		{in: "1 99999999999:00:00", bad: true},
	} {
		got, err := ParseDuration(tc.in)
		if tc.bad {
			if err == nil {
				t.Errorf("ParseDuration(%q) = %v; want an error", tc.in, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func TestFormatRFC2822(t *testing.T) {
	got := FormatRFC2822(time.Date(2018, 12, 6, 21, 26, 18, 0, time.UTC))
	if want := "Thu, 06 Dec 2018 21:26:18 -0000"; got != want {
		t.Errorf("got %q; want %q", got, want)
	}
}
