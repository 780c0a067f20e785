package wire

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Signal is one op=signal request of a machine (protocol.md §4.3): its form fields and its
// file parts. The agent journals it as JSON (the files apart, the journal keeps copies of
// them), so the JSON names are the form fields' names. Optional fields are sent only when set.
type Signal struct {
	Status          string   `json:"status"`
	Error           string   `json:"error,omitempty"`
	ScriptResultID  *int64   `json:"script_result_id,omitempty"`
	Runtime         *float64 `json:"runtime,omitempty"` // seconds
	ExitStatus      *int     `json:"exit_status,omitempty"`
	Name            string   `json:"name,omitempty"`
	ScriptVersionID *int64   `json:"script_version_id,omitempty"`
	PowerType       string   `json:"power_type,omitempty"`
	// PowerParameters is a JSON object; it is sent only with a PowerType.
	PowerParameters string `json:"power_parameters,omitempty"`
	// Files are the file parts, sent after the fields in this order.
	Files []SignalFile `json:"-"`
}

// SignalFile is one file part of a signal. Its name is both the part's name and its file
// name: <script> (combined output), <script>.out (stdout), .err (stderr) or .yaml (the
// result YAML). Its content is Data, or, for a sender that streams it from disk, the file
// at Path.
type SignalFile struct {
	Name string
	Path string
	Data []byte
}

// Field is one form field of a request.
type Field struct{ Name, Value string }

// signalField is how one form field of a signal is encoded and decoded. encode returns ""
// for a field that is not sent. decode is given the field's value when it is not empty (a
// blank number counts as absent) and returns the message of a field error, or "".
type signalField struct {
	name string
	// aliases are other names the region accepts for the field (decode says which wins).
	aliases []string
	encode  func(s *Signal) string
	decode  func(s *Signal, v string) (msg string)
}

// signalFields are the form fields after op, in upstream's order.
var signalFields = []signalField{
	textField("status", func(s *Signal) *string { return &s.Status }),
	textField("error", func(s *Signal) *string { return &s.Error }),
	idField("script_result_id", func(s *Signal) **int64 { return &s.ScriptResultID }),
	{name: "runtime", encode: encodeRuntime, decode: decodeRuntime},
	{name: "exit_status", aliases: []string{"script_result", "result"}, encode: encodeExit, decode: decodeExit},
	textField("name", func(s *Signal) *string { return &s.Name }),
	idField("script_version_id", func(s *Signal) **int64 { return &s.ScriptVersionID }),
	textField("power_type", func(s *Signal) *string { return &s.PowerType }),
	{name: "power_parameters", encode: encodePowerParameters, decode: decodePowerParameters},
}

func textField(name string, at func(*Signal) *string) signalField {
	return signalField{name: name,
		encode: func(s *Signal) string { return *at(s) },
		decode: func(s *Signal, v string) string { *at(s) = v; return "" },
	}
}

func idField(name string, at func(*Signal) **int64) signalField {
	return signalField{name: name,
		encode: func(s *Signal) string {
			if p := *at(s); p != nil {
				return strconv.FormatInt(*p, 10)
			}
			return ""
		},
		decode: func(s *Signal, v string) string {
			n, ok, msg := wholeNumber(v)
			if ok {
				*at(s) = &n
			}
			return msg
		},
	}
}

// wholeNumber reads a number field; ok is false when it is blank or malformed (msg says why).
func wholeNumber(v string) (n int64, ok bool, msg string) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false, ""
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, false, fmt.Sprintf("%q is not a whole number", v)
	}
	return n, true, ""
}

func encodeRuntime(s *Signal) string {
	if s.Runtime == nil {
		return ""
	}
	return PyFloat(*s.Runtime)
}

func decodeRuntime(s *Signal, v string) string {
	v = strings.TrimSpace(v)
	if v == "" {
		return ""
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < 0 || math.IsInf(f, 0) || math.IsNaN(f) {
		return fmt.Sprintf("%q is not a number of seconds", v)
	}
	s.Runtime = &f
	return ""
}

func encodeExit(s *Signal) string {
	if s.ExitStatus == nil {
		return ""
	}
	return strconv.Itoa(*s.ExitStatus)
}

// decodeExit reads an exit status. Each of exit_status and its aliases must be a number; the
// first one in range wins.
func decodeExit(s *Signal, v string) string {
	n, ok, msg := wholeNumber(v)
	switch {
	case !ok || s.ExitStatus != nil:
		return msg
	case n < math.MinInt32 || n > math.MaxInt32:
		return fmt.Sprintf("%d is out of range", n)
	}
	e := int(n)
	s.ExitStatus = &e
	return ""
}

func encodePowerParameters(s *Signal) string {
	if s.PowerType == "" {
		return ""
	}
	return s.PowerParameters
}

func decodePowerParameters(s *Signal, v string) string {
	s.PowerParameters = v
	if _, err := s.PowerParams(); err != nil {
		return err.Error()
	}
	return ""
}

// PowerParams decodes PowerParameters; nil when there are none (empty or null).
func (s Signal) PowerParams() (map[string]any, error) {
	if s.PowerParameters == "" {
		return nil, nil
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(s.PowerParameters), &m); err != nil {
		//lint:ignore ST1005 upstream's form message, word for word
		return nil, fmt.Errorf("Must be a JSON object: %w", err)
	}
	return m, nil
}

// Fields are the signal's form fields in upstream's order: op=signal, then status, error,
// script_result_id, runtime, exit_status, name, script_version_id, power_type and
// power_parameters, each only when set (status always). The files follow them.
func (s Signal) Fields() []Field {
	out := []Field{{"op", "signal"}}
	for _, f := range signalFields {
		if v := f.encode(&s); v != "" || f.name == "status" {
			out = append(out, Field{f.name, v})
		}
	}
	return out
}

// DecodeSignal reads a signal from its form fields and its file parts by name (the files
// are ordered by name). An empty field counts as not sent. A malformed field or file name
// is a FieldErrors naming the field (or "files"); the signal is returned with the fields that
// could be read.
func DecodeSignal(form url.Values, files map[string][]byte) (Signal, error) {
	sig := Signal{Files: SignalFiles(files)}
	errs := FieldErrors{}
	for _, f := range signalFields {
		for _, name := range append([]string{f.name}, f.aliases...) {
			if v := form.Get(name); v != "" {
				if msg := f.decode(&sig, v); msg != "" {
					errs.Add(name, "%s", msg)
				}
			}
		}
	}
	sig.check(errs)
	return sig, errs.Err()
}

// SignalFiles turns file parts by name into a signal's files, ordered by name.
func SignalFiles(parts map[string][]byte) []SignalFile {
	if len(parts) == 0 {
		return nil
	}
	out := make([]SignalFile, 0, len(parts))
	for name, data := range parts {
		out = append(out, SignalFile{Name: name, Data: data})
	}
	slices.SortFunc(out, func(a, b SignalFile) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Validate checks what every signal must be, however it was made: a status the region knows
// (SIGNAL_STATUS) and files with names a result can have (ValidateResultName).
func (s Signal) Validate() error {
	errs := FieldErrors{}
	s.check(errs)
	return errs.Err()
}

func (s Signal) check(errs FieldErrors) {
	switch {
	case s.Status == "":
		errs.Add("status", "This field is required.")
	case !ValidSignalStatus(s.Status):
		errs.Add("status", "Unknown status: '%s'", s.Status)
	}
	for _, f := range s.Files {
		if err := ValidateResultName(f.Name); err != nil {
			errs.Add("files", "%s", err)
		}
	}
}

// maxResultName bounds the name of a result file a machine uploads.
const maxResultName = 255

// InstallLog is the name of a deployment's installation log, as upstream's installer uploads
// it: the one result name that is a path (downloads make it a plain file name).
const InstallLog = "/tmp/install.log"

// ValidateResultName checks the name of a file a machine uploads, which names a script
// result and becomes a file name in downloads: one path component of printable characters,
// or InstallLog.
func ValidateResultName(name string) error {
	switch {
	case name == InstallLog:
		return nil
	case name == "":
		return errors.New("a result file has no name")
	case len(name) > maxResultName:
		return fmt.Errorf("result file name %.40q… is longer than %d bytes", name, maxResultName)
	case !utf8.ValidString(name):
		return fmt.Errorf("result file name %q is not valid UTF-8", name)
	case name == "." || name == ".." || strings.ContainsAny(name, "/\\"):
		return fmt.Errorf("result file name %q is not a plain file name: it may not contain / or \\, nor be . or .. alone", name)
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		return fmt.Errorf("result file name %q contains control characters", name)
	}
	return nil
}

// PyFloat renders f as Python's repr does: "60.0", "0.052366007", "1e+16".
func PyFloat(f float64) string {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	abs := math.Abs(f)
	if abs != 0 && (abs < 1e-4 || abs >= 1e16) {
		return strconv.FormatFloat(f, 'e', -1, 64)
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.ContainsAny(s, ".") {
		s += ".0"
	}
	return s
}
