package client

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/url"
	"os"
	"strings"
)

// Body is a request body that can be produced again for each attempt.
type Body interface {
	// Open returns the body from its start, its exact length in bytes and its
	// Content-Type. The caller closes the reader.
	Open() (body io.ReadCloser, length int64, contentType string, err error)
}

// Form is an application/x-www-form-urlencoded body.
type Form url.Values

// Open implements Body.
func (f Form) Open() (io.ReadCloser, int64, string, error) {
	s := url.Values(f).Encode()
	return io.NopCloser(strings.NewReader(s)), int64(len(s)), "application/x-www-form-urlencoded", nil
}

// Part is one part of a multipart/form-data body: a form field, or a file when File is set.
// A file part is named as upstream's clients name it: its filename is its name and its
// Content-Type application/octet-stream. Its content is Value or, when Path is set, the file
// at Path, read as the body is sent.
type Part struct {
	Name  string
	Value string
	File  bool
	Path  string
}

// Multipart is a multipart/form-data body: its parts in order, encoded by mime/multipart
// (which escapes quotes, backslashes, CR and LF in names), with an unquoted boundary of 31
// ASCII letters and CRLF line ends as upstream's clients send (protocol.md §3.1). Files named
// by Path are measured when the body is opened and streamed as it is read, so its memory does
// not grow with them, and its length is known before it is sent.
type Multipart []Part

// Open implements Body: it opens the files; closing the body closes them.
func (m Multipart) Open() (io.ReadCloser, int64, string, error) {
	b := &multipartBody{}
	var seg bytes.Buffer
	w := multipart.NewWriter(&seg)
	if err := w.SetBoundary(randomBoundary()); err != nil {
		return nil, 0, "", err
	}
	// flush moves what the writer wrote so far (boundaries, part headers, in-memory values)
	// into the body as one segment.
	flush := func() {
		if seg.Len() > 0 {
			b.add(bytes.NewReader(bytes.Clone(seg.Bytes())), int64(seg.Len()))
			seg.Reset()
		}
	}
	for _, p := range m {
		var pw io.Writer
		var err error
		if p.File {
			pw, err = w.CreateFormFile(p.Name, p.Name)
		} else {
			pw, err = w.CreateFormField(p.Name)
		}
		if err == nil && p.Path == "" {
			_, err = io.WriteString(pw, p.Value)
		}
		if err != nil {
			b.Close()
			return nil, 0, "", fmt.Errorf("encode %s: %w", p.Name, err)
		}
		if p.Path == "" {
			continue
		}
		if !p.File {
			b.Close()
			return nil, 0, "", fmt.Errorf("encode %s: a part read from a file must be a file part", p.Name)
		}
		flush()
		f, size, err := openSized(p.Path)
		if err != nil {
			b.Close()
			return nil, 0, "", err
		}
		b.files = append(b.files, f)
		b.add(&exactReader{r: f, n: size, name: p.Path}, size)
	}
	if err := w.Close(); err != nil {
		b.Close()
		return nil, 0, "", fmt.Errorf("encode body: %w", err)
	}
	flush()
	b.r = io.MultiReader(b.readers...)
	return b, b.length, w.FormDataContentType(), nil
}

func openSized(path string) (*os.File, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, fi.Size(), nil
}

// multipartBody is an opened Multipart: its segments in order and the files they read.
type multipartBody struct {
	readers []io.Reader
	length  int64
	files   []*os.File
	r       io.Reader
}

func (b *multipartBody) add(r io.Reader, n int64) {
	b.readers = append(b.readers, r)
	b.length += n
}

func (b *multipartBody) Read(p []byte) (int, error) { return b.r.Read(p) }

// Close closes the files.
func (b *multipartBody) Close() error {
	var errs []error
	for _, f := range b.files {
		errs = append(errs, f.Close())
	}
	b.files = nil
	return errors.Join(errs...)
}

// exactReader reads exactly n bytes of a file whose size was measured, failing rather than
// sending a body whose length does not match its header.
type exactReader struct {
	r    io.Reader
	n    int64
	name string
}

func (e *exactReader) Read(p []byte) (int, error) {
	if e.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > e.n {
		p = p[:e.n]
	}
	n, err := e.r.Read(p)
	e.n -= int64(n)
	if errors.Is(err, io.EOF) {
		if e.n > 0 {
			return n, fmt.Errorf("%s shrank while it was sent", e.name)
		}
		err = nil
	}
	return n, err
}

const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

// randomBoundary is 31 random ASCII letters, as upstream's clients choose theirs (a boundary
// needs to be unlikely in the content, not uniform).
func randomBoundary() string {
	b := make([]byte, 31)
	rand.Read(b)
	for i := range b {
		b[i] = letters[int(b[i])%len(letters)]
	}
	return string(b)
}
