package userdata

import (
	"encoding/pem"
	"fmt"

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
