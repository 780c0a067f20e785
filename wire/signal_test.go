package wire

import (
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func ptr[T any](v T) *T { return &v }

// form is what a region reads from the fields a sender encoded.
func form(fields []Field) url.Values {
	v := url.Values{}
	for _, f := range fields {
		v.Add(f.Name, f.Value)
	}
	return v
}

// filesByName is what a region reads from the file parts a sender sent.
func filesByName(files []SignalFile) map[string][]byte {
	m := map[string][]byte{}
	for _, f := range files {
		m[f.Name] = f.Data
	}
	return m
}

func TestSignalFields(t *testing.T) {
	s := Signal{Status: "WORKING", Error: "Finished x: 0", ScriptResultID: ptr(int64(7)), Runtime: ptr(0.5), ExitStatus: ptr(0), Name: "x",
		ScriptVersionID: ptr(int64(9)), PowerType: "ipmi", PowerParameters: "{}"}
	var got []string
	for _, f := range s.Fields() {
		got = append(got, f.Name+"="+f.Value)
	}
	want := []string{"op=signal", "status=WORKING", "error=Finished x: 0", "script_result_id=7", "runtime=0.5",
		"exit_status=0", "name=x", "script_version_id=9", "power_type=ipmi", "power_parameters={}"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if got := (Signal{Status: "OK"}).Fields(); len(got) != 2 {
		t.Errorf("minimal signal: %v", got)
	}
	if got := (Signal{Status: "OK", PowerParameters: `{"a": 1}`}).Fields(); len(got) != 2 {
		t.Errorf("power parameters without a power type are not sent: %v", got)
	}
}

// TestSignalRoundTrip encodes signals as the agent sends them and decodes them as the region
// reads them: every field and file comes back as it was.
func TestSignalRoundTrip(t *testing.T) {
	for _, s := range []Signal{
		{Status: SignalOK},
		{Status: SignalFailed, Error: "Failed to run x: exit 2"},
		{Status: SignalWorking, Error: "Finished 10-hello (id: 1, script_version_id: 101): 0", ScriptResultID: ptr(int64(1)),
			Runtime: ptr(0.052366007), ExitStatus: ptr(0), Name: "10-hello", ScriptVersionID: ptr(int64(101)),
			Files: []SignalFile{{Name: "10-hello", Data: []byte("both")}, {Name: "10-hello.err", Data: []byte{}},
				{Name: "10-hello.out", Data: []byte("out\x00bin")}, {Name: "10-hello.yaml", Data: []byte("status: passed\n")}}},
		{Status: SignalTimedOut, ScriptResultID: ptr(int64(-1)), ExitStatus: ptr(-9), Runtime: ptr(1e16)},
		{Status: SignalInstalling, ScriptResultID: ptr(int64(1) << 62), ExitStatus: ptr(1<<31 - 1), Runtime: ptr(1.5e-5)},
		{Status: SignalApplyingNetconf, Runtime: ptr(0.0), Name: "näme with spaces"},
		{Status: SignalWorking, Error: "BMC credentials reconfigured by bmc-config", PowerType: "ipmi",
			PowerParameters: `{"power_address": "10.0.0.1", "power_user": "maas", "k_g": ""}`},
		{Status: SignalCommissioning}, {Status: SignalTesting}, {Status: SignalReleasing},
	} {
		t.Run(s.Status, func(t *testing.T) {
			got, err := DecodeSignal(form(s.Fields()), filesByName(s.Files))
			if err != nil {
				t.Fatalf("DecodeSignal(%v): %v", s.Fields(), err)
			}
			if diff := cmp.Diff(s, got); diff != "" {
				t.Errorf("(-sent +decoded):\n%s", diff)
			}
		})
	}
}

// TestDecodeSignal holds the region's answers to malformed signals: a field error naming the
// field, with upstream's words where upstream has them.
func TestDecodeSignal(t *testing.T) {
	for _, tc := range []struct {
		name  string
		form  url.Values
		files map[string][]byte
		want  FieldErrors
	}{
		{"no status", url.Values{"exit_status": {"0"}}, nil, FieldErrors{"status": {"This field is required."}}},
		{"unknown status", url.Values{"status": {"NAPPING"}}, nil, FieldErrors{"status": {"Unknown status: 'NAPPING'"}}},
		{"lower-case status", url.Values{"status": {"ok"}}, nil, FieldErrors{"status": {"Unknown status: 'ok'"}}},
		{"bad ids", url.Values{"status": {"OK"}, "script_result_id": {"x"}, "script_version_id": {"1.5"}}, nil,
			FieldErrors{"script_result_id": {`"x" is not a whole number`}, "script_version_id": {`"1.5" is not a whole number`}}},
		{"huge exit", url.Values{"status": {"OK"}, "exit_status": {"99999999999"}}, nil, FieldErrors{"exit_status": {"99999999999 is out of range"}}},
		{"bad alias", url.Values{"status": {"OK"}, "result": {"two"}}, nil, FieldErrors{"result": {`"two" is not a whole number`}}},
		{"negative runtime", url.Values{"status": {"OK"}, "runtime": {"-1"}}, nil, FieldErrors{"runtime": {`"-1" is not a number of seconds`}}},
		{"nan runtime", url.Values{"status": {"OK"}, "runtime": {"NaN"}}, nil, FieldErrors{"runtime": {`"NaN" is not a number of seconds`}}},
		{"power parameters", url.Values{"status": {"OK"}, "power_type": {"ipmi"}, "power_parameters": {"[1]"}}, nil,
			FieldErrors{"power_parameters": {"Must be a JSON object: json: cannot unmarshal array into Go value of type map[string]interface {}"}}},
		{"file names", url.Values{"status": {"WORKING"}}, map[string][]byte{"../x": nil, "ok": nil, "a\nb": nil}, FieldErrors{"files": {
			`result file name "../x" is not a plain file name: it may not contain / or \, nor be . or .. alone`,
			`result file name "a\nb" contains control characters`}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeSignal(tc.form, tc.files)
			if diff := cmp.Diff(tc.want, err); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestDecodeSignalLenient: blank numbers are absent, numbers may be padded, the first exit
// status in range wins, and power_parameters of null is none.
func TestDecodeSignalLenient(t *testing.T) {
	got, err := DecodeSignal(url.Values{"status": {"WORKING"}, "script_result_id": {" 7 "}, "script_version_id": {"  "},
		"runtime": {" 2.5"}, "script_result": {"3"}, "result": {"4"}, "power_type": {"ipmi"}, "power_parameters": {"null"}}, nil)
	want := Signal{Status: "WORKING", ScriptResultID: ptr(int64(7)), Runtime: ptr(2.5), ExitStatus: ptr(3), PowerType: "ipmi", PowerParameters: "null"}
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if p, err := got.PowerParams(); p != nil || err != nil {
		t.Errorf("PowerParams of null = %v, %v", p, err)
	}
	got, _ = DecodeSignal(url.Values{"status": {"OK"}, "exit_status": {"0"}, "result": {"99999999999"}}, nil)
	if got.ExitStatus == nil || *got.ExitStatus != 0 {
		t.Errorf("exit_status beside an out-of-range alias: %v", got.ExitStatus)
	}
}

func TestValidateResultName(t *testing.T) {
	for name, ok := range map[string]bool{"maas-lshw": true, "maas-lshw.yaml": true, "näme": true, "..x": true,
		"": false, ".": false, "..": false, "a/b": false, `a\b`: false, "a\x00": false, "a\tb": false, "\xff": false,
		strings.Repeat("x", 255): true, strings.Repeat("x", 256): false, "/tmp/install.log": true, "/tmp/install.log.1": false} {
		if err := ValidateResultName(name); (err == nil) != ok {
			t.Errorf("ValidateResultName(%q) = %v", name, err)
		}
	}
}

func TestPyFloat(t *testing.T) {
	for in, want := range map[float64]string{60: "60.0", 0: "0.0", 0.052366007: "0.052366007", 1e16: "1e+16",
		1.5e-5: "1.5e-05", 0.0001: "0.0001", -2.5: "-2.5", 300.5: "300.5"} {
		if got := PyFloat(in); got != want {
			t.Errorf("PyFloat(%v) = %q; want %q", in, got, want)
		}
	}
}

// FuzzDecodeSignal: any form either decodes, or is refused with field errors naming fields
// of the signal; a decoded signal encodes to fields that decode to the same signal.
func FuzzDecodeSignal(f *testing.F) {
	f.Add("WORKING", "", "7", "0.052366007", "0", "", "", "x", "", "", "", "x.out", "out")
	f.Add("TIMEDOUT", "timed out", "-1", "1e308", "124", "", "", "a.yaml", "3", "ipmi", `{"a": [1]}`, "a.yaml", "status: passed")
	f.Add("OK", "", " 1 ", " ", "", "2", "99999999999", "", "", "", "null", "../x", "")
	f.Add("", "", "", "NaN", "", "", "", "", "", "", "", "", "")
	f.Fuzz(func(t *testing.T, status, msg, id, runtime, exit, scriptResult, result, name, version, powerType, powerParams, file, content string) {
		in := url.Values{"status": {status}, "error": {msg}, "script_result_id": {id}, "runtime": {runtime},
			"exit_status": {exit}, "script_result": {scriptResult}, "result": {result}, "name": {name},
			"script_version_id": {version}, "power_type": {powerType}, "power_parameters": {powerParams}}
		sig, err := DecodeSignal(in, map[string][]byte{file: []byte(content)})
		if err != nil {
			fe, ok := err.(FieldErrors)
			if !ok || len(fe) == 0 {
				t.Fatalf("error %T %v: want field errors", err, err)
			}
			for field := range fe {
				if _, sent := in[field]; !sent && field != "files" {
					t.Fatalf("error names %q, which is not a field: %v", field, err)
				}
			}
			return
		}
		if sig.Status != status {
			t.Fatalf("status %q became %q", status, sig.Status)
		}
		if sig.PowerType == "" {
			sig.PowerParameters = "" // sent only with a power type
		}
		again, err := DecodeSignal(form(sig.Fields()), filesByName(sig.Files))
		if err != nil {
			t.Fatalf("re-decoding %v: %v", sig.Fields(), err)
		}
		if diff := cmp.Diff(sig, again); diff != "" {
			t.Fatalf("(-decoded +re-decoded):\n%s", diff)
		}
	})
}
