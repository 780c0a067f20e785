package lifecycle

import (
	"strings"
	"testing"
)

func TestValidateUsername(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"admin", true}, {"jo.doe+maas@example.com", true}, {"under_score-dash", true}, {"José", true},
		{strings.Repeat("a", 150), true}, {"", false}, {strings.Repeat("a", 151), false},
		{"with space", false}, {"a/b", false}, {"a:b", false}, {"tab\t", false}, {"../x", false},
	} {
		if err := ValidateUsername(tc.name); (err == nil) != tc.ok {
			t.Errorf("ValidateUsername(%q) = %v; want ok %v", tc.name, err, tc.ok)
		}
	}
}
