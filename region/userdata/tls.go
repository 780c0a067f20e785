package userdata

import (
	"context"
	"encoding/pem"
	"fmt"
	"net/http"

	"maasgo/client"
)

// CanonicalCA re-encodes a PEM bundle of authorities as the CERTIFICATE blocks it holds and
// nothing else, so that what the scripts embed is base64 between PEM armour lines, never
// text a shell or YAML could read otherwise. "" stays "".
func CanonicalCA(caPEM string) (string, error) {
	if caPEM == "" {
		return "", nil
	}
	certs, err := client.ParseCertificates([]byte(caPEM))
	if err != nil {
		return "", fmt.Errorf("the region's CA: %w", err)
	}
	var out []byte
	for _, c := range certs {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return string(out), nil
}

type caKey struct{}

// WithCA serves h with the authorities ca returns (PEM, "" for none) attached to every
// request, for the handlers that render user data and the launcher (RequestCA). The region
// process knows which certificate it serves: maas-region serve wraps its API with it.
func WithCA(h http.Handler, ca func() string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c := ca(); c != "" {
			r = r.WithContext(context.WithValue(r.Context(), caKey{}, c))
		}
		h.ServeHTTP(w, r)
	})
}

// RequestCA is the CA WithCA attached to r, or "".
func RequestCA(r *http.Request) string {
	c, _ := r.Context().Value(caKey{}).(string)
	return c
}
