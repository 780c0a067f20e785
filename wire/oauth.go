package wire

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Credentials are an OAuth 1.0 consumer and token as MAAS hands them out: the API key string
// "consumer_key:token_key:token_secret[:consumer_secret]" (protocol.md §2.1). In JSON (the
// agent's run.json) the fields have MAAS's names and an empty one is left out.
type Credentials struct {
	ConsumerKey    string `json:"consumer_key,omitempty"`
	TokenKey       string `json:"token_key,omitempty"`
	TokenSecret    string `json:"token_secret,omitempty"`
	ConsumerSecret string `json:"consumer_secret,omitempty"`
}

// ParseCredentials reads "consumer_key:token_key:token_secret[:consumer_secret]".
func ParseCredentials(s string) (Credentials, error) {
	parts := strings.Split(strings.TrimSpace(s), ":")
	if len(parts) != 3 && len(parts) != 4 {
		return Credentials{}, fmt.Errorf("malformed credentials: want consumer_key:token_key:token_secret, got %d fields", len(parts))
	}
	c := Credentials{ConsumerKey: parts[0], TokenKey: parts[1], TokenSecret: parts[2]}
	if len(parts) == 4 {
		c.ConsumerSecret = parts[3]
	}
	if c.ConsumerKey == "" || c.TokenKey == "" || c.TokenSecret == "" {
		return Credentials{}, errors.New("malformed credentials: consumer key, token key and token secret must not be empty")
	}
	return c, nil
}

// String renders the API key form, consumer_key:token_key:token_secret.
func (c Credentials) String() string {
	s := c.ConsumerKey + ":" + c.TokenKey + ":" + c.TokenSecret
	if c.ConsumerSecret != "" {
		s += ":" + c.ConsumerSecret
	}
	return s
}

// AuthorizationHeader builds the PLAINTEXT Authorization header that upstream's clients send
// (no realm, only the URL signed) for a request made at now. It returns "" when there is no
// consumer key, meaning an anonymous request.
func (c Credentials) AuthorizationHeader(now time.Time) string {
	if c.ConsumerKey == "" {
		return ""
	}
	sig := PercentEncode(c.ConsumerSecret) + "&" + PercentEncode(c.TokenSecret)
	params := [][2]string{
		{"oauth_nonce", newNonce()},
		{"oauth_timestamp", strconv.FormatInt(now.Unix(), 10)},
		{"oauth_version", "1.0"},
		{"oauth_signature_method", "PLAINTEXT"},
		{"oauth_consumer_key", c.ConsumerKey},
		{"oauth_token", c.TokenKey},
		{"oauth_signature", sig},
	}
	var b strings.Builder
	b.WriteString("OAuth ")
	for i, p := range params {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(PercentEncode(p[0]))
		b.WriteString(`="`)
		b.WriteString(PercentEncode(p[1]))
		b.WriteString(`"`)
	}
	return b.String()
}

var nonceMax = new(big.Int).Exp(big.NewInt(10), big.NewInt(20), nil)

func newNonce() string {
	n, err := rand.Int(rand.Reader, nonceMax)
	if err != nil {
		n = big.NewInt(time.Now().UnixNano())
	}
	return n.String() + strconv.FormatInt(time.Now().Unix(), 10)
}

// PercentEncode encodes s as RFC 5849 §3.6 asks: everything but ALPHA, DIGIT, '-', '.', '_'
// and '~' becomes %XX with upper-case hex digits.
func PercentEncode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

// OAuthParams are the oauth_* parameters of one signed request.
type OAuthParams struct {
	ConsumerKey     string
	Token           string
	Signature       string
	SignatureMethod string
	Timestamp       int64
	Nonce           string
	Version         string
}

// ErrNoOAuth says the request carries no OAuth parameters at all.
var ErrNoOAuth = errors.New("no oauth credentials in the request")

// ParseAuthorizationHeader reads an `Authorization: OAuth k="v", ...` header. It returns
// ErrNoOAuth when the header is empty or of another scheme.
func ParseAuthorizationHeader(h string) (map[string]string, error) {
	h = strings.TrimSpace(h)
	if len(h) < 6 || !strings.EqualFold(h[:6], "oauth ") {
		return nil, ErrNoOAuth
	}
	out := map[string]string{}
	for _, item := range strings.Split(h[6:], ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		k, v, ok := strings.Cut(item, "=")
		if !ok {
			return nil, fmt.Errorf("malformed oauth header parameter %q", item)
		}
		k = strings.TrimSpace(k)
		v = strings.TrimSpace(v)
		if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
			v = v[1 : len(v)-1]
		}
		dk, err1 := url.PathUnescape(k)
		dv, err2 := url.PathUnescape(v)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("malformed percent-encoding in oauth header parameter %q", k)
		}
		out[dk] = dv
	}
	return out, nil
}

// OAuthFromValues picks the protocol parameters out of raw parameters and checks that all the
// required ones are present.
func OAuthFromValues(raw map[string]string) (*OAuthParams, error) {
	var missing []string
	for _, k := range []string{"oauth_consumer_key", "oauth_token", "oauth_signature", "oauth_signature_method", "oauth_timestamp", "oauth_nonce"} {
		if raw[k] == "" {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("missing oauth parameters: %s", strings.Join(missing, ", "))
	}
	ts, err := strconv.ParseInt(raw["oauth_timestamp"], 10, 64)
	if err != nil {
		return nil, fmt.Errorf("invalid oauth_timestamp %q", raw["oauth_timestamp"])
	}
	if v := raw["oauth_version"]; v != "" && v != "1.0" {
		return nil, fmt.Errorf("unsupported oauth_version %q", v)
	}
	return &OAuthParams{
		ConsumerKey:     raw["oauth_consumer_key"],
		Token:           raw["oauth_token"],
		Signature:       raw["oauth_signature"],
		SignatureMethod: raw["oauth_signature_method"],
		Timestamp:       ts,
		Nonce:           raw["oauth_nonce"],
		Version:         raw["oauth_version"],
	}, nil
}

// SignedRequest is what HMAC-SHA1 signs: the method, the base URL (scheme://host/path, no
// query), and every parameter (query, form body, oauth_* from the header, except the
// signature and realm).
type SignedRequest struct {
	Method  string
	BaseURL string
	Params  url.Values
}

// VerifySignature checks p's signature with the given secrets. PLAINTEXT accepts the encoded
// form upstream sends and, leniently, unencoded secrets; HMAC-SHA1 recomputes the signature
// over req.
func VerifySignature(p *OAuthParams, req SignedRequest, consumerSecret, tokenSecret string) error {
	switch strings.ToUpper(p.SignatureMethod) {
	case "PLAINTEXT":
		want := PercentEncode(consumerSecret) + "&" + PercentEncode(tokenSecret)
		if constEq(p.Signature, want) || constEq(p.Signature, consumerSecret+"&"+tokenSecret) {
			return nil
		}
		return errors.New("invalid signature")
	case "HMAC-SHA1":
		want := HMACSHA1Signature(req, consumerSecret, tokenSecret)
		if constEq(p.Signature, want) {
			return nil
		}
		return errors.New("invalid signature")
	}
	return fmt.Errorf("unsupported signature method %q (want PLAINTEXT or HMAC-SHA1)", p.SignatureMethod)
}

// HMACSHA1Signature computes the RFC 5849 HMAC-SHA1 signature of req.
func HMACSHA1Signature(req SignedRequest, consumerSecret, tokenSecret string) string {
	type kv struct{ k, v string }
	var pairs []kv
	for k, vs := range req.Params {
		if k == "oauth_signature" || k == "realm" {
			continue
		}
		for _, v := range vs {
			pairs = append(pairs, kv{PercentEncode(k), PercentEncode(v)})
		}
	}
	sort.Slice(pairs, func(i, j int) bool {
		if pairs[i].k != pairs[j].k {
			return pairs[i].k < pairs[j].k
		}
		return pairs[i].v < pairs[j].v
	})
	var norm strings.Builder
	for i, p := range pairs {
		if i > 0 {
			norm.WriteByte('&')
		}
		norm.WriteString(p.k + "=" + p.v)
	}
	base := strings.ToUpper(req.Method) + "&" + PercentEncode(req.BaseURL) + "&" + PercentEncode(norm.String())
	mac := hmac.New(sha1.New, []byte(PercentEncode(consumerSecret)+"&"+PercentEncode(tokenSecret)))
	mac.Write([]byte(base))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

func constEq(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }
