// Package agenttest is test support for the runner: an in-process region that speaks the
// metadata wire format exactly (protocol.md §3.1, §4.2, §4.3), and scenarios that run the
// runner against any region implementing Region — the fake here, or a real region process.
package agenttest

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"maasgo/scripts"
	"maasgo/wire"
)

// Script is a script a region offers: its text (with a MAAS 1.0 metadata block that gives its
// name, type, parallel mode, timeout, packages…) and the resolved parameters of each of its
// results. No Results means one result without parameters.
type Script struct {
	Body    []byte
	Results []map[string]wire.ResolvedParam
	// Served, when set, is what the fake's tar carries instead of Body: a script a real
	// region would refuse (one without a shebang, say). Real regions ignore it.
	Served []byte
}

// Region is a region the scenarios run the runner against.
type Region interface {
	// MetadataURL is the unversioned metadata URL, http://host:port/MAAS/metadata/.
	MetadataURL() string
	// Credentials are the machine's token.
	Credentials() wire.Credentials
	// Offer makes the region commission the machine with these scripts: commissioning
	// scripts in its commissioning set, testing scripts in its testing set.
	Offer(t testing.TB, scripts ...Script)
	// Results returns the machine's current script results.
	Results(t testing.TB) []Result
	// NodeStatus is the machine's status.
	NodeStatus(t testing.TB) wire.NodeStatus
}

// Result is a script result as the region stores it.
type Result struct {
	ID         int64
	Name       string
	Type       wire.ScriptType
	Status     wire.ScriptStatus
	ExitStatus *int
	Runtime    string
	// Files holds the uploaded files by upload name (<name>, <name>.out, <name>.err,
	// <name>.yaml).
	Files map[string]FileInfo
	// Stores counts how many uploads stored into the result (one, when all is well).
	Stores int
}

// FileInfo describes an uploaded file: its size, digest and first 64 KiB.
type FileInfo struct {
	Size   int64
	SHA256 string
	Head   []byte
}

// Received is a signal the fake region stored.
type Received struct {
	Key    string // Idempotency-Key header
	Fields []Field
	Files  []string // file part names, in order
	At     time.Time
}

// Field is one form field.
type Field struct{ Name, Value string }

// Get returns the value of field name.
func (r Received) Get(name string) string {
	for _, f := range r.Fields {
		if f.Name == name {
			return f.Value
		}
	}
	return ""
}

// Fake is an in-process region for one machine. It keeps its state across Stop and Start.
type Fake struct {
	t     testing.TB
	creds wire.Credentials

	mu       sync.Mutex
	srv      *httptest.Server
	addr     string
	status   wire.NodeStatus
	results  []*fakeResult
	nextID   int64
	keys     map[string]bool
	received []Received
	dups     int
	bad      []string // wire-format violations
	skew     time.Duration
	failNext int
	dropNext int
	netplan  []byte
	gets     int
	relist   bool
	// stallScripts and stallSignals count the requests still to stall (see StallScripts).
	stallScripts int
	stallSignals int
	served       []byte // the tar to serve instead of the offered scripts' (ServeTar)

	conns    atomic.Int64
	requests atomic.Int64
}

type fakeResult struct {
	Result
	versionID int64
	md        *scripts.Metadata
	body      []byte // as served
	params    map[string]wire.ResolvedParam
}

// NewFake starts a fake region on a loopback port; it stops when the test ends.
func NewFake(t testing.TB) *Fake {
	f := &Fake{
		t:      t,
		creds:  wire.Credentials{ConsumerKey: "CKEY", TokenKey: "TKEY", TokenSecret: "T SEC/+"},
		status: wire.NodeCommissioning,
		keys:   map[string]bool{},
		nextID: 1,
	}
	f.Start()
	t.Cleanup(f.Stop)
	return f
}

// Start serves (again) on the fake's address.
func (f *Fake) Start() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.srv != nil {
		return
	}
	addr := f.addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	var l net.Listener
	var err error
	for try := 0; try < 50; try++ {
		if l, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		f.t.Fatalf("fake region: listen %s: %v", addr, err)
	}
	f.addr = l.Addr().String()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(f.serveHTTP))
	srv.Listener = &countingListener{Listener: l, n: &f.conns}
	srv.Start()
	f.srv = srv
}

// Stop closes the listener and every connection; requests in flight fail.
func (f *Fake) Stop() {
	f.mu.Lock()
	srv := f.srv
	f.srv = nil
	f.mu.Unlock()
	if srv != nil {
		srv.CloseClientConnections()
		srv.Close()
	}
}

// MetadataURL implements Region.
func (f *Fake) MetadataURL() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return "http://" + f.addr + "/MAAS/metadata/"
}

// Credentials implements Region.
func (f *Fake) Credentials() wire.Credentials { return f.creds }

// Connections counts the TCP connections the fake accepted.
func (f *Fake) Connections() int64 { return f.conns.Load() }

// Requests counts the HTTP requests the fake served.
func (f *Fake) Requests() int64 { return f.requests.Load() }

// SetSkew sets how far the fake's clock is ahead of the machine's.
func (f *Fake) SetSkew(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.skew = d
}

// FailSignals makes the next n signals fail with 503 before they are stored.
func (f *Fake) FailSignals(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failNext = n
}

// DropResponses makes the fake store the next n signals and then close the connection
// without answering, as when an answer is lost on the way.
func (f *Fake) DropResponses(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.dropNext = n
}

// StallScripts makes the next n scripts tar downloads stall: the fake sends the headers and
// half of the body, then nothing more until the client gives up (or the fake stops).
func (f *Fake) StallScripts(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stallScripts = n
}

// StallSignals makes the fake store the next n journaled signals (those with an
// Idempotency-Key; heartbeats are answered) and then stall without answering until the client
// gives up, as a region that hangs after its work.
func (f *Fake) StallSignals(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stallSignals = n
}

// ServeTar makes the fake serve data as the scripts tar instead of building one from the
// offered scripts (nil goes back to building it): a malformed or malicious tar.
func (f *Fake) ServeTar(data []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.served = data
}

// stall holds a request until its client goes away or the fake stops.
func stall(req *http.Request) {
	select {
	case <-req.Context().Done():
	case <-time.After(5 * time.Minute):
	}
}

// RelistCommissioning makes the fake list finished commissioning results again, as a
// misbehaving region would (protocol.md §4.2, pitfall 8).
func (f *Fake) RelistCommissioning() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.relist = true
}

// Downloads counts the scripts tar requests.
func (f *Fake) Downloads() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.gets
}

// SetNetplan sets the config/netplan.yaml the tar carries for networking scripts.
func (f *Fake) SetNetplan(data []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.netplan = data
}

// Received returns the stored signals, in order (repeats of a seen key are not stored).
func (f *Fake) Received() []Received {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Received(nil), f.received...)
}

// Duplicates counts signals that repeated a key the fake had stored.
func (f *Fake) Duplicates() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.dups
}

// Violations lists the wire-format errors the fake saw.
func (f *Fake) Violations() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.bad...)
}

// Offer implements Region.
func (f *Fake) Offer(t testing.TB, list ...Script) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, s := range list {
		md, err := scripts.Parse(s.Body)
		if err != nil {
			t.Fatalf("fake region: script %d: %v", i, err)
		}
		results := s.Results
		if len(results) == 0 {
			results = []map[string]wire.ResolvedParam{nil}
		}
		body := s.Body
		if s.Served != nil {
			body = s.Served
		}
		for _, params := range results {
			id := f.nextID
			f.nextID++
			f.results = append(f.results, &fakeResult{
				Result:    Result{ID: id, Name: md.Name, Type: md.ScriptType, Status: wire.ScriptPending, Files: map[string]FileInfo{}},
				versionID: 1000 + id, md: md, body: body, params: params,
			})
		}
	}
}

// Results implements Region.
func (f *Fake) Results(testing.TB) []Result {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]Result, 0, len(f.results))
	for _, r := range f.results {
		c := r.Result
		c.Files = map[string]FileInfo{}
		for k, v := range r.Files {
			c.Files[k] = v
		}
		out = append(out, c)
	}
	return out
}

// NodeStatus implements Region.
func (f *Fake) NodeStatus(testing.TB) wire.NodeStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.status
}

type countingListener struct {
	net.Listener
	n *atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

func (f *Fake) serveHTTP(w http.ResponseWriter, req *http.Request) {
	f.requests.Add(1)
	f.mu.Lock()
	now := time.Now().Add(f.skew)
	f.mu.Unlock()
	w.Header().Set("Date", now.UTC().Format(http.TimeFormat))
	rest, ok := strings.CutPrefix(req.URL.Path, "/MAAS/metadata/")
	if !ok {
		http.NotFound(w, req)
		return
	}
	rest = strings.TrimLeft(rest, "/")
	version, tail, _ := strings.Cut(rest, "/")
	if version != "2012-03-01" && version != "latest" {
		http.Error(w, "Unknown metadata version: "+version, http.StatusNotFound)
		return
	}
	if msg := f.checkAuth(req, now); msg != "" {
		w.Header().Set("WWW-Authenticate", `OAuth realm="OAuth"`)
		http.Error(w, msg, http.StatusUnauthorized)
		return
	}
	switch {
	case req.Method == http.MethodGet && strings.HasPrefix(tail, "maas-scripts"):
		f.serveScripts(w, req)
	case req.Method == http.MethodPost && tail == "":
		f.serveSignal(w, req)
	default:
		http.NotFound(w, req)
	}
}

func (f *Fake) checkAuth(req *http.Request, now time.Time) string {
	raw, err := wire.ParseAuthorizationHeader(req.Header.Get("Authorization"))
	if err != nil {
		return "Authorization Error: " + err.Error()
	}
	p, err := wire.OAuthFromValues(raw)
	if err != nil {
		return "Authorization Error: " + err.Error()
	}
	if p.ConsumerKey != f.creds.ConsumerKey || p.Token != f.creds.TokenKey {
		return "Authorization Error: Invalid consumer or token"
	}
	if err := wire.VerifySignature(p, wire.SignedRequest{}, f.creds.ConsumerSecret, f.creds.TokenSecret); err != nil {
		return "Authorization Error: " + err.Error()
	}
	if d := now.Unix() - p.Timestamp; d > 300 || d < -300 {
		return fmt.Sprintf("Authorization Error: expired timestamp (off by %d s)", d)
	}
	return ""
}

// listed returns the results the tar lists, by status of the node (protocol.md §4.2).
func (f *Fake) listed() (comm, test []*fakeResult) {
	for _, r := range f.results {
		if !r.Status.Unfinished() && !(f.relist && r.Type == wire.ScriptTypeCommissioning) {
			continue
		}
		switch {
		case r.Type == wire.ScriptTypeCommissioning && f.status == wire.NodeCommissioning:
			comm = append(comm, r)
		case r.Type == wire.ScriptTypeTesting && (f.status == wire.NodeCommissioning || f.status == wire.NodeTesting):
			test = append(test, r)
		}
	}
	return comm, test
}

func (f *Fake) serveScripts(w http.ResponseWriter, req *http.Request) {
	f.mu.Lock()
	f.gets++
	data, ok := f.served, true
	if data == nil {
		data, ok = f.buildTar()
	}
	stalls := f.stallScripts > 0
	if stalls {
		f.stallScripts--
	}
	f.mu.Unlock()
	if !ok {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	w.Header().Set("Content-Type", "application/x-tar")
	if stalls {
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		w.Write(data[:len(data)/2])
		w.(http.Flusher).Flush()
		stall(req)
		return
	}
	w.Write(data)
}

// buildTar builds the scripts tar of the listed results; ok is false when none is listed.
func (f *Fake) buildTar() (data []byte, ok bool) {
	comm, test := f.listed()
	if len(comm) == 0 && len(test) == 0 {
		return nil, false
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	now := time.Now()
	netconf := false
	entry := func(r *fakeResult) map[string]any {
		netconf = netconf || r.md.ApplyConfiguredNetworking
		pk, _ := json.Marshal(r.md.Packages)
		params := map[string]any{}
		for k, v := range r.params {
			params[k] = v
		}
		tags := r.md.EffectiveTags()
		if tags == nil {
			tags = []string{}
		}
		fh := r.md.ForHardware
		if fh == nil {
			fh = []string{}
		}
		return map[string]any{
			"name":                        r.Name,
			"path":                        r.Type.Dir() + "/" + r.Name,
			"script_result_id":            r.ID,
			"script_version_id":           r.versionID,
			"timeout_seconds":             json.Number(agentFloat(r.md.Timeout.Seconds())),
			"parallel":                    r.md.Parallel,
			"hardware_type":               r.md.HardwareType,
			"parameters":                  params,
			"packages":                    json.RawMessage(pk),
			"for_hardware":                fh,
			"apply_configured_networking": r.md.ApplyConfiguredNetworking,
			"has_started":                 r.Status != wire.ScriptPending,
			"has_finished":                !r.Status.Unfinished(),
			"default":                     false,
			"tags":                        tags,
		}
	}
	lists := map[string]any{}
	written := map[string]bool{}
	for key, rs := range map[string][]*fakeResult{"commissioning_scripts": comm, "testing_scripts": test} {
		if len(rs) == 0 {
			continue
		}
		sort.Slice(rs, func(i, j int) bool {
			if rs[i].Name != rs[j].Name {
				return rs[i].Name < rs[j].Name
			}
			return rs[i].ID < rs[j].ID
		})
		var entries []map[string]any
		for _, r := range rs {
			entries = append(entries, entry(r))
			p := r.Type.Dir() + "/" + r.Name
			if !written[p] {
				written[p] = true
				tw.WriteHeader(&tar.Header{Name: p, Mode: 0o755, Size: int64(len(r.body)), ModTime: now, Format: tar.FormatUSTAR})
				tw.Write(r.body)
			}
		}
		lists[key] = entries
	}
	index, _ := json.Marshal(map[string]any{"1.0": lists})
	tw.WriteHeader(&tar.Header{Name: "index.json", Mode: 0o644, Size: int64(len(index)), ModTime: now, Format: tar.FormatUSTAR})
	tw.Write(index)
	if netconf && f.netplan != nil {
		tw.WriteHeader(&tar.Header{Name: "../config/netplan.yaml", Mode: 0o644, Size: int64(len(f.netplan)), ModTime: now, Format: tar.FormatUSTAR})
		tw.Write(f.netplan)
	}
	tw.Close()
	return buf.Bytes(), true
}

func agentFloat(v float64) string {
	s := strconv.FormatFloat(v, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}

// maxHead is how much of each uploaded file the fake keeps.
const maxHead = 64 << 10

type upload struct {
	name string
	info FileInfo
}

func (f *Fake) violation(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.bad = append(f.bad, fmt.Sprintf(format, args...))
}

func (f *Fake) serveSignal(w http.ResponseWriter, req *http.Request) {
	ct := req.Header.Get("Content-Type")
	if i := strings.Index(ct, "boundary="); i < 0 || strings.HasPrefix(ct[i+len("boundary="):], `"`) {
		f.violation("Content-Type %q: want an unquoted boundary", ct)
	}
	if req.ContentLength < 0 {
		f.violation("no Content-Length")
	}
	if req.URL.Query().Get("op") != "" {
		f.violation("op in the query string")
	}
	_, params, err := mime.ParseMediaType(ct)
	if err != nil || params["boundary"] == "" {
		http.Error(w, "bad Content-Type", http.StatusBadRequest)
		return
	}
	mr := multipart.NewReader(req.Body, params["boundary"])
	var fields []Field
	var files []upload
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			http.Error(w, "bad multipart body: "+err.Error(), http.StatusBadRequest)
			return
		}
		if part.FileName() != "" {
			if part.FileName() != part.FormName() {
				f.violation("file part %q has filename %q", part.FormName(), part.FileName())
			}
			h := sha256.New()
			var head bytes.Buffer
			n, err := io.Copy(io.MultiWriter(h, &limitedBuffer{b: &head, max: maxHead}), part)
			if err != nil {
				http.Error(w, "bad multipart body: "+err.Error(), http.StatusBadRequest)
				return
			}
			files = append(files, upload{part.FormName(), FileInfo{Size: n, SHA256: fmt.Sprintf("%x", h.Sum(nil)), Head: head.Bytes()}})
			continue
		}
		if len(files) > 0 {
			f.violation("field %q after a file part", part.FormName())
		}
		v, err := io.ReadAll(io.LimitReader(part, 1<<20))
		if err != nil {
			http.Error(w, "bad multipart body: "+err.Error(), http.StatusBadRequest)
			return
		}
		fields = append(fields, Field{part.FormName(), string(v)})
	}
	rec := Received{Key: req.Header.Get("Idempotency-Key"), Fields: fields, At: time.Now()}
	for _, u := range files {
		rec.Files = append(rec.Files, u.name)
	}
	if rec.Get("op") != "signal" {
		http.Error(w, "Unrecognised signature: method=POST op="+rec.Get("op"), http.StatusBadRequest)
		return
	}
	status := rec.Get("status")
	if !wire.ValidSignalStatus(status) {
		http.Error(w, fmt.Sprintf("Unknown status: '%s'", status), http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	locked := true
	defer func() {
		if locked {
			f.mu.Unlock()
		}
	}()
	if f.failNext > 0 {
		f.failNext--
		http.Error(w, "region unavailable", http.StatusServiceUnavailable)
		return
	}
	if rec.Key != "" && f.keys[rec.Key] {
		f.dups++
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "OK")
		return
	}
	if msg := f.process(rec, files); msg != "" {
		http.Error(w, msg, http.StatusInternalServerError)
		return
	}
	if rec.Key != "" {
		f.keys[rec.Key] = true
	}
	f.received = append(f.received, rec)
	if f.stallSignals > 0 && rec.Key != "" {
		f.stallSignals--
		f.mu.Unlock()
		locked = false
		stall(req)
		return
	}
	if f.dropNext > 0 {
		f.dropNext--
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return
			}
		}
	}
	w.Header().Set("Content-Type", "text/plain")
	io.WriteString(w, "OK")
}

type limitedBuffer struct {
	b   *bytes.Buffer
	max int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := l.max - l.b.Len(); room > 0 {
		l.b.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

// process applies a signal as the region does (protocol.md §4.3). It returns a message when
// the region would fail (storing twice into a finished commissioning result).
func (f *Fake) process(rec Received, files []upload) string {
	status := rec.Get("status")
	var target *fakeResult
	if id, err := strconv.ParseInt(rec.Get("script_result_id"), 10, 64); err == nil {
		for _, r := range f.results {
			if r.ID == id {
				target = r
			}
		}
	} else if name := rec.Get("name"); name != "" {
		for _, r := range f.results {
			if r.Name == name && r.Status.Unfinished() {
				target = r
				break
			}
		}
	}
	exitText := rec.Get("exit_status")
	if target != nil && (len(files) > 0 || exitText != "") {
		if !target.Status.Unfinished() {
			return fmt.Sprintf("result %d (%s) is already finished", target.ID, target.Name)
		}
		exit := 0
		if exitText != "" {
			exit, _ = strconv.Atoi(exitText)
		}
		switch {
		case status == wire.SignalTimedOut:
			target.Status = wire.ScriptTimedOut
		case exit == 0:
			target.Status = wire.ScriptPassed
		case target.Status == wire.ScriptInstalling:
			target.Status = wire.ScriptFailedInstalling
		case target.Status == wire.ScriptApplyingNetconf:
			target.Status = wire.ScriptFailedApplyingNetconf
		default:
			target.Status = wire.ScriptFailed
		}
		if status != wire.SignalTimedOut {
			target.ExitStatus = &exit
		}
		target.Runtime = rec.Get("runtime")
		target.Stores++
		for _, u := range files {
			target.Files[u.name] = u.info
			if u.name == target.Name+".yaml" {
				if res, err := wire.ParseResult(u.info.Head); err == nil && res != nil && res.Status != nil {
					target.Status = *res.Status
				}
			}
		}
	}
	if target != nil {
		switch status {
		case wire.SignalApplyingNetconf:
			if target.Status == wire.ScriptPending {
				target.Status = wire.ScriptApplyingNetconf
			}
		case wire.SignalInstalling:
			if target.Status == wire.ScriptPending || target.Status == wire.ScriptApplyingNetconf {
				target.Status = wire.ScriptInstalling
			}
		case wire.SignalWorking:
			if target.Status == wire.ScriptPending || target.Status.Running() {
				target.Status = wire.ScriptRunning
			}
		}
	}
	anyFailed := func(t wire.ScriptType) bool {
		for _, r := range f.results {
			if r.Type == t && r.Status.Failed() {
				return true
			}
		}
		return false
	}
	fail := func(to wire.NodeStatus) {
		f.status = to
		for _, r := range f.results {
			if r.Status.Unfinished() {
				r.Status = wire.ScriptAborted
			}
		}
	}
	switch f.status {
	case wire.NodeCommissioning:
		switch status {
		case wire.SignalOK, wire.SignalTesting:
			switch {
			case anyFailed(wire.ScriptTypeCommissioning):
				fail(wire.NodeFailedCommissioning)
			case status == wire.SignalOK:
				f.status = wire.NodeReady
			default:
				f.status = wire.NodeTesting
			}
		case wire.SignalFailed:
			fail(wire.NodeFailedCommissioning)
		}
	case wire.NodeTesting:
		switch status {
		case wire.SignalOK:
			f.status = wire.NodeReady
		case wire.SignalFailed:
			fail(wire.NodeFailedTesting)
		}
	}
	return ""
}
