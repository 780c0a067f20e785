package cli

import (
	"bytes"
	"strings"
	"testing"
)

func TestWriteBody(t *testing.T) {
	for _, tc := range []struct {
		name        string
		tty         bool
		status      int
		contentType string
		body        string
		want        string
	}{
		{"piped json kept as sent", false, 200, "application/json", `{"a": 1,"b":[2]}`, `{"a": 1,"b":[2]}`},
		{"tty json indented", true, 200, "application/json", `{"a":1,"b":[2],"c":{}}`,
			"Success.\nMachine-readable output follows:\n{\n    \"a\": 1,\n    \"b\": [\n        2\n    ],\n    \"c\": {}\n}\n"},
		{"tty json with charset", true, 200, "application/json; charset=utf-8", `[1]`, "Success.\nMachine-readable output follows:\n[\n    1\n]\n"},
		{"tty json numbers kept", true, 200, "application/json", `{"storage":5368.70912,"big":12345678901234567890}`,
			"Success.\nMachine-readable output follows:\n{\n    \"storage\": 5368.70912,\n    \"big\": 12345678901234567890\n}\n"},
		{"tty invalid json raw", true, 200, "application/json", `{not json`, "Success.\nMachine-readable output follows:\n{not json\n"},
		{"tty text", true, 200, "text/plain; charset=utf-8", "OK", "Success.\nMachine-readable output follows:\nOK\n"},
		{"tty empty 204", true, 204, "text/plain", "", "Success.\nMachine-readable output follows:\n\n"},
		{"tty binary raw", true, 200, "application/x-tar", "\x00\x01tar", "\x00\x01tar"},
		{"tty no content type raw", true, 200, "", "raw", "raw"},
		{"tty error text", true, 404, "text/plain", "Not found", "Not found\n"},
		{"tty error json", true, 400, "application/json", `{"f":["bad"]}`, "{\n    \"f\": [\n        \"bad\"\n    ]\n}\n"},
		{"tty empty error", true, 500, "text/html", "", "Request failed with code 500: Internal Server Error\n"},
		{"piped error", false, 409, "text/plain", "No machine available.", "No machine available."},
		{"piped binary", false, 200, "application/x-tar", "\xfd7zXZ", "\xfd7zXZ"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			reason := map[int]string{200: "OK", 204: "No Content", 400: "Bad Request", 404: "Not Found", 409: "Conflict", 500: "Internal Server Error"}[tc.status]
			if err := writeBody(&b, tc.tty, tc.status, reason, tc.contentType, strings.NewReader(tc.body)); err != nil {
				t.Fatal(err)
			}
			if b.String() != tc.want {
				t.Errorf("got %q; want %q", b.String(), tc.want)
			}
		})
	}
}

func TestTextual(t *testing.T) {
	for _, tc := range []struct {
		ct           string
		text, isJSON bool
	}{
		{"application/json", true, true}, {"application/vnd.x/json", true, true}, {"text/plain; charset=utf-8", true, false},
		{"TEXT/HTML", true, false}, {"application/binary", false, false}, {"application/x-tar", false, false}, {"", false, false},
		{"application/json; bad", true, true},
	} {
		text, isJSON := textual(tc.ct)
		if text != tc.text || isJSON != tc.isJSON {
			t.Errorf("textual(%q) = %v, %v; want %v, %v", tc.ct, text, isJSON, tc.text, tc.isJSON)
		}
	}
}

func TestReadLine(t *testing.T) {
	r := strings.NewReader("first\r\nsecond\n")
	if l, err := readLine(r); err != nil || l != "first" {
		t.Errorf("readLine = %q, %v", l, err)
	}
	if rest, _ := readLine(r); rest != "second" {
		t.Errorf("the first readLine consumed more than its line: %q", rest)
	}
	if l, err := readLine(strings.NewReader("no newline")); err != nil || l != "no newline" {
		t.Errorf("readLine at EOF = %q, %v", l, err)
	}
}
