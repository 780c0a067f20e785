package wire

import (
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestAuthorizationHeaderMatchesUpstream(t *testing.T) {
	c := Credentials{ConsumerKey: "CKEY", TokenKey: "TKEY", TokenSecret: "T SEC/+"}
	h := c.AuthorizationHeader(time.Unix(1795731522, 0))
	re := regexp.MustCompile(`^OAuth oauth_nonce="[0-9]+", oauth_timestamp="1795731522", oauth_version="1.0", oauth_signature_method="PLAINTEXT", oauth_consumer_key="CKEY", oauth_token="TKEY", oauth_signature="%26T%2520SEC%252F%252B"$`)
	if !re.MatchString(h) {
		t.Fatalf("header %q does not match upstream's shape", h)
	}
	raw, err := ParseAuthorizationHeader(h)
	if err != nil {
		t.Fatal(err)
	}
	p, err := OAuthFromValues(raw)
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifySignature(p, SignedRequest{}, "", "T SEC/+"); err != nil {
		t.Errorf("own PLAINTEXT header does not verify: %v", err)
	}
	if err := VerifySignature(p, SignedRequest{}, "", "other"); err == nil {
		t.Error("wrong secret verified")
	}
	if (Credentials{}).AuthorizationHeader(time.Now()) != "" {
		t.Error("anonymous credentials produced a header")
	}
}

func TestParseCredentials(t *testing.T) {
	for _, tc := range []struct {
		in  string
		ok  bool
		cs  string
		str string
	}{
		{in: "a:b:c", ok: true, str: "a:b:c"},
		{in: " a:b:c\n", ok: true, str: "a:b:c"},
		{in: "a:b:c:d", ok: true, cs: "d", str: "a:b:c:d"},
		{in: "a:b", ok: false},
		{in: "a::c", ok: false},
		{in: "a:b:c:d:e", ok: false},
	} {
		c, err := ParseCredentials(tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("ParseCredentials(%q) error = %v; want ok=%v", tc.in, err, tc.ok)
			continue
		}
		if tc.ok && (c.ConsumerSecret != tc.cs || c.String() != tc.str) {
			t.Errorf("ParseCredentials(%q) = %+v", tc.in, c)
		}
	}
}

func TestOAuthFromValuesNamesMissing(t *testing.T) {
	_, err := OAuthFromValues(map[string]string{"oauth_consumer_key": "x"})
	if err == nil || !strings.Contains(err.Error(), "oauth_token") || !strings.Contains(err.Error(), "oauth_nonce") {
		t.Errorf("error %v should name the missing parameters", err)
	}
	_, err = OAuthFromValues(map[string]string{"oauth_consumer_key": "x", "oauth_token": "t", "oauth_signature": "s",
		"oauth_signature_method": "PLAINTEXT", "oauth_timestamp": "soon", "oauth_nonce": "n"})
	if err == nil || !strings.Contains(err.Error(), "oauth_timestamp") {
		t.Errorf("error %v should name the bad timestamp", err)
	}
}

// The RFC 5849 §3.4.1 example: the signature base string and HMAC-SHA1 signature.
func TestHMACSHA1RFCExample(t *testing.T) {
	params := url.Values{
		"b5":                     {"=%3D"},
		"a3":                     {"a", "2 q"},
		"c@":                     {""},
		"a2":                     {"r b"},
		"oauth_consumer_key":     {"9djdj82h48djs9d2"},
		"oauth_token":            {"kkk9d7dh3k39sjv7"},
		"oauth_signature_method": {"HMAC-SHA1"},
		"oauth_timestamp":        {"137131201"},
		"oauth_nonce":            {"7d8f3e4a"},
		"c2":                     {""},
	}
	req := SignedRequest{Method: "POST", BaseURL: "http://example.com/request", Params: params}
	// Expected value computed from the RFC's base string with secrets "j49sk3j29djd" and "dh893hdasih9".
	got := HMACSHA1Signature(req, "j49sk3j29djd", "dh893hdasih9")
	if got != "r6/TJjbCOr97/+UU0NsvSne7s5g=" {
		t.Errorf("signature = %q", got)
	}
}

func FuzzParseAuthorizationHeader(f *testing.F) {
	f.Add(`OAuth oauth_nonce="1", oauth_timestamp="2", oauth_version="1.0", oauth_signature_method="PLAINTEXT", oauth_consumer_key="C", oauth_token="T", oauth_signature="%26S"`)
	f.Add(`OAuth realm="", oauth_consumer_key=C`)
	f.Add(`Basic abc`)
	f.Add(`OAuth ,,=,"`)
	f.Fuzz(func(t *testing.T, h string) {
		raw, err := ParseAuthorizationHeader(h)
		if err != nil {
			return
		}
		if p, err := OAuthFromValues(raw); err == nil {
			_ = VerifySignature(p, SignedRequest{Method: "GET", BaseURL: "http://h/"}, "", "s")
		}
	})
}
