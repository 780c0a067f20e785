package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"sort"
	"strconv"
	"strings"
)

// textual reports whether a content type is JSON or text, the answers upstream's CLI
// decorates on a terminal.
func textual(contentType string) (isText, isJSON bool) {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		mt = strings.ToLower(strings.TrimSpace(strings.SplitN(contentType, ";", 2)[0]))
	}
	isJSON = strings.HasSuffix(mt, "/json")
	return isJSON || strings.HasPrefix(mt, "text/"), isJSON
}

// writeBody writes an answer as upstream's CLI does. Piped, the body goes out exactly as
// received (binary downloads included). On a terminal, a textual body of a successful
// answer follows "Success." and "Machine-readable output follows:", JSON is indented by
// four spaces, and a newline ends it; an empty failed answer says so.
func writeBody(w io.Writer, tty bool, status int, reason, contentType string, body io.Reader) error {
	isText, isJSON := textual(contentType)
	if !tty || !isText {
		_, err := io.Copy(w, body)
		return err
	}
	b, err := io.ReadAll(body)
	if err != nil {
		return err
	}
	var out bytes.Buffer
	ok := status/100 == 2
	if ok {
		out.WriteString("Success.\nMachine-readable output follows:\n")
	}
	var ind bytes.Buffer
	if isJSON && len(bytes.TrimSpace(b)) > 0 && json.Indent(&ind, bytes.TrimSpace(b), "", "    ") == nil {
		b = ind.Bytes()
	}
	out.Write(b)
	if !ok && len(b) == 0 {
		fmt.Fprintf(&out, "Request failed with code %d: %s", status, reason)
	}
	out.WriteByte('\n')
	_, err = w.Write(out.Bytes())
	return err
}

// reason is the reason phrase of a response ("Not Found").
func reason(resp *http.Response) string {
	if r, ok := strings.CutPrefix(resp.Status, strconv.Itoa(resp.StatusCode)+" "); ok && r != "" {
		return r
	}
	return http.StatusText(resp.StatusCode)
}

// dumpResponse writes the status line and headers, for --debug.
func dumpResponse(w io.Writer, resp *http.Response) {
	fmt.Fprintf(w, "%d %s\n\n", resp.StatusCode, reason(resp))
	keys := make([]string, 0, len(resp.Header))
	for k := range resp.Header {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		for _, v := range resp.Header[k] {
			fmt.Fprintf(w, "%s: %s\n", k, v)
		}
	}
	fmt.Fprintln(w)
}
