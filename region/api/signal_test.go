package api

import (
	"bytes"
	"errors"
	"fmt"
	"mime/multipart"
	"net/http"
	"testing"

	"maasgo/wire"
)

func signalRequest(fields map[string]string, files map[string]string) *http.Request {
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	for k, v := range fields {
		w.WriteField(k, v)
	}
	for k, v := range files {
		fw, _ := w.CreateFormFile(k, k)
		fw.Write([]byte(v))
	}
	w.Close()
	r, _ := http.NewRequest("POST", "/MAAS/metadata/2012-03-01/", &b)
	r.Header.Set("Content-Type", w.FormDataContentType())
	return r
}

func TestParseSignal(t *testing.T) {
	for _, tc := range []struct {
		name   string
		fields map[string]string
		field  string // the field a 400 names, "" for success
	}{
		{"finished", map[string]string{"op": "signal", "status": "WORKING", "script_result_id": "7", "exit_status": "0", "runtime": "0.052366007", "script_version_id": "3"}, ""},
		{"alias result", map[string]string{"status": "WORKING", "result": "2"}, ""},
		{"no status", map[string]string{"exit_status": "0"}, "status"},
		{"unknown status", map[string]string{"status": "NAPPING"}, "status"},
		{"bad id", map[string]string{"status": "OK", "script_result_id": "x"}, "script_result_id"},
		{"huge exit", map[string]string{"status": "OK", "exit_status": "99999999999"}, "exit_status"},
		{"nan runtime", map[string]string{"status": "OK", "runtime": "NaN"}, "runtime"},
		{"power parameters", map[string]string{"status": "OK", "power_type": "ipmi", "power_parameters": "[1]"}, "power_parameters"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := parseParams(signalRequest(tc.fields, map[string]string{"x.out": "o"}), 1<<20, true)
			if err != nil {
				t.Fatal(err)
			}
			sig, err := wire.DecodeSignal(p.Values, p.Files)
			var ve validationError
			if tc.field == "" {
				if err != nil {
					t.Fatalf("DecodeSignal: %v", err)
				}
				if len(sig.Files) != 1 || sig.Files[0].Name != "x.out" || string(sig.Files[0].Data) != "o" {
					t.Errorf("files: %v", sig.Files)
				}
				return
			}
			if !errors.As(err, &ve) || ve[tc.field] == nil {
				t.Errorf("err = %v; want a 400 naming %s", err, tc.field)
			}
		})
	}
}

func FuzzSignal(f *testing.F) {
	f.Add("WORKING", "7", "0", "0.5", "name", "out")
	f.Add("TIMEDOUT", "-1", "124", "1e308", "a.yaml", "status: passed")
	f.Add("", "", "", "", "", "")
	f.Fuzz(func(t *testing.T, status, id, exit, runtime, file, content string) {
		fields := map[string]string{"op": "signal", "status": status, "script_result_id": id, "exit_status": exit, "runtime": runtime}
		p, err := parseParams(signalRequest(fields, map[string]string{file: content}), 1<<20, true)
		if err != nil {
			return
		}
		sig, err := wire.DecodeSignal(p.Values, p.Files)
		if err == nil && sig.Status != status {
			t.Fatalf("status %q became %q", status, sig.Status)
		}
		_ = fmt.Sprint(sig)
	})
}
