package api

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// A response whose first bytes come later than one idle timeout after the request began (a
// download that reads and compresses first) is still written: each write extends the
// deadline, however short the idle timeout.
func TestDeadlineWriterLateFirstWrite(t *testing.T) {
	const idle = 200 * time.Millisecond
	body := bytes.Repeat([]byte("x"), 1<<20)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		dw := &deadlineWriter{statusWriter: &statusWriter{ResponseWriter: w, code: 200},
			rc: http.NewResponseController(w), idle: idle}
		dw.extend()
		time.Sleep(2 * idle)
		for i := 0; i < 4; i++ {
			if _, err := dw.Write(body[i*len(body)/4 : (i+1)*len(body)/4]); err != nil {
				t.Errorf("write %d: %v", i, err)
				return
			}
			time.Sleep(idle / 2)
		}
	}))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil || len(got) != len(body) {
		t.Fatalf("read %d of %d bytes: %v", len(got), len(body), err)
	}
}
