package wire

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestSignerLearnsSkew(t *testing.T) {
	local := time.Unix(1_800_000_000, 0)
	s := &Signer{Creds: Credentials{ConsumerKey: "c", TokenKey: "t", TokenSecret: "s"}, Now: func() time.Time { return local }}
	region := local.Add(-2 * time.Hour)
	for _, tc := range []struct {
		code    int
		date    string
		changed bool
	}{
		{200, region.Format(http.TimeFormat), false},
		{401, "garbage", false},
		{401, region.Format(http.TimeFormat), true},
		{403, region.Format(http.TimeFormat), false},
	} {
		resp := &http.Response{StatusCode: tc.code, Header: http.Header{"Date": {tc.date}}}
		if got := s.Observe(resp); got != tc.changed {
			t.Errorf("Observe(%d, %q) = %v; want %v", tc.code, tc.date, got, tc.changed)
		}
	}
	if s.Skew() != -2*time.Hour {
		t.Fatalf("skew = %v", s.Skew())
	}
	req, _ := http.NewRequest("GET", "http://x/", nil)
	s.Sign(req)
	want := `oauth_timestamp="` + strconv.FormatInt(region.Unix(), 10) + `"`
	if h := req.Header.Get("Authorization"); !strings.Contains(h, want) {
		t.Errorf("header %q lacks %s", h, want)
	}
	anon := &Signer{}
	req, _ = http.NewRequest("GET", "http://x/", nil)
	anon.Sign(req)
	if req.Header.Get("Authorization") != "" {
		t.Error("anonymous signer set a header")
	}
}
