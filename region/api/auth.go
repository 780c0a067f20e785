package api

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"maasgo/region/store"
	"maasgo/wire"
)

// timestampWindow is how far a request's oauth_timestamp may be from the region's clock.
const timestampWindow = 300 * time.Second

// authenticateRequest checks a request's OAuth credentials, which come from its
// Authorization header or its query string, and sets req.token and req.user; a request
// without credentials is left anonymous. Nothing of the body is read, except an urlencoded
// body that an HMAC-SHA1 signature covers: it is read (within the form limit) only after the
// token, the consumer and the timestamp were found good. A user's key gives the token and the
// user; a machine token gives the token and a nil user.
func (s *Server) authenticateRequest(req *request) error {
	r := req.r
	raw, err := wire.ParseAuthorizationHeader(r.Header.Get("Authorization"))
	if errors.Is(err, wire.ErrNoOAuth) {
		raw = map[string]string{}
		for k, vs := range req.params.Values {
			if strings.HasPrefix(k, "oauth_") && len(vs) > 0 {
				raw[k] = vs[0]
			}
		}
		if len(raw) == 0 {
			return nil
		}
	} else if err != nil {
		return unauthorized("Invalid Authorization header: %v", err)
	}
	op, err := wire.OAuthFromValues(raw)
	if err != nil {
		return unauthorized("Invalid OAuth request: %v", err)
	}
	now := s.now()
	stamp := time.Unix(op.Timestamp, 0)
	skew := now.Sub(stamp)
	if skew > timestampWindow || skew < -timestampWindow {
		return unauthorized("Expired timestamp: oauth_timestamp %d is %.0f s away from the region's clock (the window is %.0f s); correct the clock with this response's Date header.",
			op.Timestamp, skew.Abs().Seconds(), timestampWindow.Seconds())
	}
	var tok *store.Token
	var user *store.User
	err = s.store.View(r.Context(), func(tx *store.Tx) error {
		var err error
		tok, err = tx.TokenByKey(op.Token)
		if errors.Is(err, store.ErrNotFound) {
			return unauthorized("Invalid access token: %s", op.Token)
		}
		if err != nil {
			return err
		}
		if tok.ConsumerKey != op.ConsumerKey {
			return unauthorized("Invalid consumer: %s does not go with token %s", op.ConsumerKey, op.Token)
		}
		if tok.Kind == store.TokenUser && tok.UserID != nil {
			if user, err = tx.UserByID(*tok.UserID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if strings.EqualFold(op.SignatureMethod, "HMAC-SHA1") && isForm(r) {
		lim := bodyLimits{body: s.maxForm(), fields: s.maxForm()}
		if err := req.params.readBody(r, lim); err != nil {
			return err
		}
	}
	if err := wire.VerifySignature(op, signedRequest(r, req.params, raw), tok.ConsumerSecret, tok.TokenSecret); err != nil {
		return unauthorized("Invalid signature: %v", err)
	}
	// A replayed read gives its sender nothing the first answer did not; a replayed write
	// would act twice, so writes record their nonce durably before they act.
	safe := r.Method == http.MethodGet || r.Method == http.MethodHead
	fresh, err := s.nonces.use(r.Context(), op.Token, op.Nonce, stamp, !safe)
	if err != nil {
		return err
	}
	if !fresh {
		return unauthorized("Nonce already used: oauth_nonce %s was seen before with this token (replayed request)", op.Nonce)
	}
	req.token, req.user = tok, user
	return nil
}

func unauthorized(format string, args ...any) error {
	return errorf(http.StatusUnauthorized, format, args...)
}

// signedRequest gathers what HMAC-SHA1 signs: method, base URL as the client addressed it, the
// query, the urlencoded body and the oauth_* header parameters.
func signedRequest(r *http.Request, p *Params, oauth map[string]string) wire.SignedRequest {
	params := url.Values{}
	q, _ := url.ParseQuery(r.URL.RawQuery)
	for k, vs := range q {
		params[k] = append(params[k], vs...)
	}
	for k, vs := range p.BodyValues {
		params[k] = append(params[k], vs...)
	}
	if r.Header.Get("Authorization") != "" {
		for k, v := range oauth {
			if strings.HasPrefix(k, "oauth_") {
				params.Set(k, v)
			}
		}
	}
	// RFC 5849 §3.4.1.2: lower-case scheme and host, default ports left out.
	base := strings.ToLower(externalBase(r))
	if strings.HasPrefix(base, "http://") {
		base = strings.TrimSuffix(base, ":80")
	} else {
		base = strings.TrimSuffix(base, ":443")
	}
	return wire.SignedRequest{Method: r.Method, BaseURL: base + r.URL.EscapedPath(), Params: params}
}
