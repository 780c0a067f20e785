package api

import (
	"archive/tar"
	"bytes"
	"compress/bzip2"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"maasgo/region/lifecycle"
	"maasgo/region/store"
	"maasgo/region/userdata"
	"maasgo/wire"
)

// metadataVersions are the versions the metadata tree answers to.
var metadataVersions = map[string]bool{"latest": true, "2012-03-01": true}

// serveMetadata answers /MAAS/metadata/… (protocol.md §4): everything a machine reads and
// posts with its own token.
func (s *Server) serveMetadata(w http.ResponseWriter, r *http.Request, path string) {
	rest := strings.Trim(strings.TrimPrefix(path, "/MAAS/metadata"), "/")
	if rest == "" {
		writeText(w, http.StatusOK, "2012-03-01\nlatest")
		return
	}
	segs := strings.Split(rest, "/")
	if segs[0] == "status" {
		if len(segs) != 2 || r.Method != http.MethodPost {
			writeText(w, http.StatusNotFound, "Not found: "+path)
			return
		}
		s.withNode(w, r, func(req *request, m *store.Machine) (any, error) { return s.statusWebhook(req, m) })
		return
	}
	if !metadataVersions[segs[0]] {
		writeText(w, http.StatusNotFound, "Unknown metadata version: "+segs[0])
		return
	}
	sub := strings.Join(segs[1:], "/")
	switch {
	case sub == "" && r.Method == http.MethodGet:
		s.withNode(w, r, func(req *request, m *store.Machine) (any, error) {
			items := []string{"maas-commissioning-scripts", "meta-data"}
			if len(m.UserData) > 0 || m.Status == wire.NodeCommissioning || m.Status == wire.NodeTesting || m.Status == wire.NodeDeploying {
				items = append(items, "user-data")
			}
			return textResponse(strings.Join(items, "\n")), nil
		})
	case sub == "" && r.Method == http.MethodPost:
		s.withNode(w, r, s.metadataOp)
	case (sub == "maas-scripts" || strings.HasPrefix(sub, "maas-scripts/")) && r.Method == http.MethodGet:
		s.withNode(w, r, s.maasScripts)
	case sub == "meta-data" && r.Method == http.MethodGet:
		s.withNode(w, r, func(req *request, m *store.Machine) (any, error) {
			return textResponse("instance-id\nlocal-hostname\nvendor-data\nx509"), nil
		})
	case strings.HasPrefix(sub, "meta-data/") && r.Method == http.MethodGet:
		key := strings.TrimPrefix(sub, "meta-data/")
		s.withNode(w, r, func(req *request, m *store.Machine) (any, error) { return metaData(m, key) })
	case sub == "user-data" && r.Method == http.MethodGet:
		s.withNode(w, r, s.userData)
	default:
		writeText(w, http.StatusNotFound, "Not found: "+path)
	}
}

// withNode authenticates the request as a machine, from its headers, then reads its body and
// runs fn.
func (s *Server) withNode(w http.ResponseWriter, r *http.Request, fn func(*request, *store.Machine) (any, error)) {
	p, err := parseQuery(r)
	if err != nil {
		writeText(w, http.StatusBadRequest, err.Error())
		return
	}
	req := &request{s: s, r: r, ctx: r.Context(), params: p}
	if err := s.authenticateRequest(req); err != nil {
		s.writeError(w, r, err)
		return
	}
	tok := req.token
	if tok == nil {
		s.writeError(w, r, errorf(http.StatusUnauthorized, "Authentication required: sign the request with the machine's token."))
		return
	}
	if tok.Kind != store.TokenNode || tok.NodeID == nil {
		s.writeError(w, r, forbidden("Not authenticated as a known node."))
		return
	}
	if err := p.readBody(r, bodyLimits{body: s.maxBody(), fields: min(s.maxForm(), s.maxBody()), files: s.maxBody(), json: s.maxBody()}); err != nil {
		s.writeBodyError(w, r, err)
		return
	}
	var m *store.Machine
	err = s.store.View(r.Context(), func(tx *store.Tx) (err error) {
		m, err = tx.MachineByID(*tok.NodeID)
		return err
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	v, err := fn(req, m)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeValue(w, r, v)
}

func metaData(m *store.Machine, key string) (any, error) {
	switch key {
	case "instance-id":
		return textResponse(m.SystemID), nil
	case "local-hostname":
		return textResponse(m.Hostname + "." + m.Domain), nil
	case "public-keys", "x509":
		return textResponse(""), nil
	case "vendor-data":
		return rawResponse{contentType: "application/x-yaml; charset=utf-8", body: []byte("cloud-init: |\n  #cloud-config\n  {}\n")}, nil
	}
	return nil, notFoundf("Unknown metadata attribute: %s", key)
}

// metadataOp answers POST /<ver>/ with op=signal, netboot_on or netboot_off.
func (s *Server) metadataOp(req *request, m *store.Machine) (any, error) {
	switch op := req.params.Get("op"); op {
	case "signal":
		return s.signal(req)
	case "netboot_on", "netboot_off":
		err := s.store.Update(req.ctx, func(tx *store.Tx) error {
			m, err := tx.MachineByID(*req.token.NodeID)
			if err != nil {
				return err
			}
			m.Netboot = op == "netboot_on"
			return tx.UpdateMachine(m)
		})
		if err != nil {
			return nil, err
		}
		return textResponse("OK"), nil
	default:
		return nil, badRequest("Unrecognised signature: method=POST op=%s", op)
	}
}

// parseSignal reads the fields of op=signal (protocol.md §4.3). Malformed numbers and power
// parameters are 400s naming the field.
func parseSignal(p *Params) (lifecycle.Signal, error) {
	sig := lifecycle.Signal{Status: p.Get("status"), Error: p.Get("error"), Name: p.Get("name"), Files: p.Files}
	errs := validationError{}
	intField := func(name string) *int64 {
		v := strings.TrimSpace(p.Get(name))
		if v == "" {
			return nil
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			errs[name] = append(errs[name], fmt.Sprintf("%q is not a whole number", v))
			return nil
		}
		return &n
	}
	sig.ScriptResultID = intField("script_result_id")
	sig.ScriptVersionID = intField("script_version_id")
	for _, name := range []string{"exit_status", "script_result", "result"} {
		if n := intField(name); n != nil && sig.ExitStatus == nil {
			if *n < -1<<31 || *n > 1<<31-1 {
				errs[name] = append(errs[name], fmt.Sprintf("%d is out of range", *n))
				continue
			}
			e := int(*n)
			sig.ExitStatus = &e
		}
	}
	if v := strings.TrimSpace(p.Get("runtime")); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < 0 || math.IsInf(f, 0) || math.IsNaN(f) {
			errs["runtime"] = append(errs["runtime"], fmt.Sprintf("%q is not a number of seconds", v))
		} else {
			sig.Runtime = &f
		}
	}
	sig.PowerType = p.Get("power_type")
	if pp := p.Get("power_parameters"); pp != "" {
		if err := json.Unmarshal([]byte(pp), &sig.PowerParameters); err != nil {
			errs["power_parameters"] = append(errs["power_parameters"], "Must be a JSON object: "+err.Error())
		}
	}
	if sig.Status == "" {
		errs["status"] = append(errs["status"], "This field is required.")
	} else if !wire.ValidSignalStatus(sig.Status) {
		errs["status"] = append(errs["status"], fmt.Sprintf("Unknown status: '%s'", sig.Status))
	}
	if len(errs) > 0 {
		return sig, errs
	}
	return sig, nil
}

// signal stores a machine's signal. A signal carrying an idempotency key that was seen before
// is acknowledged without being applied again.
func (s *Server) signal(req *request) (any, error) {
	sig, err := parseSignal(req.params)
	if err != nil {
		return nil, err
	}
	key := req.r.Header.Get("Idempotency-Key")
	if key == "" {
		key = req.params.Get("idempotency_key")
	}
	err = s.store.Update(req.ctx, func(tx *store.Tx) error {
		m, err := tx.MachineByID(*req.token.NodeID)
		if err != nil {
			return err
		}
		if key != "" {
			fresh, err := tx.RecordSignalKey(m.ID, key, s.now())
			if err != nil || !fresh {
				return err
			}
		}
		return s.signals.Process(tx, m, sig)
	})
	if err != nil {
		return nil, err
	}
	return textResponse("OK"), nil
}

// maasScripts answers GET /<ver>/maas-scripts: a tar of the scripts the machine should run
// with their index.json, or 204 when there is nothing to run.
func (s *Server) maasScripts(req *request, m *store.Machine) (any, error) {
	var pending []lifecycle.Pending
	var outputs map[int64]*store.ScriptResult
	var ifaces []store.Interface
	err := s.store.Update(req.ctx, func(tx *store.Tx) (err error) {
		m, err = tx.MachineByID(m.ID)
		if err != nil {
			return err
		}
		if pending, err = lifecycle.PendingScripts(tx, m); err != nil {
			return err
		}
		outputs = map[int64]*store.ScriptResult{}
		for _, p := range pending {
			if p.Result.Status != wire.ScriptPending {
				r, err := tx.ScriptResultByID(p.Result.ID, true)
				if err != nil {
					return err
				}
				outputs[r.ID] = r
			}
		}
		all, err := tx.Interfaces(m.ID)
		ifaces = all[m.ID]
		return err
	})
	if err != nil {
		return nil, err
	}
	if len(pending) == 0 {
		return noContent{}, nil
	}
	b, err := buildScriptsTar(pending, outputs, ifaces, s.now())
	if err != nil {
		return nil, err
	}
	return rawResponse{contentType: "application/x-tar", body: b}, nil
}

// buildScriptsTar writes the ustar archive of protocol.md §4.2.
func buildScriptsTar(pending []lifecycle.Pending, outputs map[int64]*store.ScriptResult, ifaces []store.Interface, now time.Time) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(name string, mode int64, data []byte) error {
		hdr := &tar.Header{Name: name, Mode: mode, Size: int64(len(data)), ModTime: now.Truncate(time.Second), Typeflag: tar.TypeReg, Format: tar.FormatUSTAR}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("write %s into the scripts tar: %w", name, err)
		}
		_, err := tw.Write(data)
		return err
	}
	var index wire.Index
	written := map[string]bool{}
	netconf := false
	for _, p := range pending {
		switch p.List {
		case "commissioning_scripts":
			index.V1.Commissioning = append(index.V1.Commissioning, p.Entry)
		case "testing_scripts":
			index.V1.Testing = append(index.V1.Testing, p.Entry)
		case "release_scripts":
			index.V1.Release = append(index.V1.Release, p.Entry)
		}
		netconf = netconf || p.Script.ApplyConfiguredNetworking
		if !written[p.Entry.Path] {
			written[p.Entry.Path] = true
			if err := add(p.Entry.Path, 0o755, p.Version.Data); err != nil {
				return nil, err
			}
		}
		if r := outputs[p.Result.ID]; r != nil {
			base := fmt.Sprintf("out/%s.%d", p.Entry.Name, r.ID)
			for _, f := range []struct {
				suffix string
				data   []byte
			}{{"", r.Output}, {".out", r.Stdout}, {".err", r.Stderr}, {".yaml", r.Result}} {
				if err := add(base+f.suffix, 0o644, f.data); err != nil {
					return nil, err
				}
			}
		}
	}
	idx, err := json.Marshal(index)
	if err != nil {
		return nil, fmt.Errorf("encode index.json: %w", err)
	}
	if err := add("index.json", 0o644, idx); err != nil {
		return nil, err
	}
	if netconf {
		if err := add("../config/netplan.yaml", 0o644, netplanFor(ifaces)); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("close the scripts tar: %w", err)
	}
	return buf.Bytes(), nil
}

// netplanFor renders the configured networking of a machine: its enabled physical interfaces,
// matched by MAC, on DHCP, with their MTU.
func netplanFor(ifaces []store.Interface) []byte {
	var b strings.Builder
	b.WriteString("network:\n  version: 2\n  ethernets:\n")
	n := 0
	for _, i := range ifaces {
		if i.Type != "physical" || !i.Enabled || i.MACAddress == "" {
			continue
		}
		n++
		fmt.Fprintf(&b, "    %s:\n      match:\n        macaddress: %q\n      set-name: %s\n      mtu: %d\n      dhcp4: true\n",
			i.Name, i.MACAddress, i.Name, i.MTU)
	}
	if n == 0 {
		return []byte("network:\n  version: 2\n")
	}
	return []byte(b.String())
}

// userData answers GET /<ver>/user-data: for a commissioning or testing machine the script that
// runs the agent, for a deploying one the cloud-config that reports the end of the deployment
// (with the user's own user data); otherwise the user data stored for the machine. A deploying
// machine that reads it has booted its installed system, so it becomes Deployed (as upstream).
func (s *Server) userData(req *request, m *store.Machine) (any, error) {
	var data []byte
	err := s.store.Update(req.ctx, func(tx *store.Tx) error {
		m, err := tx.MachineByID(m.ID)
		if err != nil {
			return err
		}
		gen, ok, err := userdata.For(userdata.Input{Machine: m, Token: req.token, URL: externalBase(req.r) + "/MAAS",
			Agent: userdata.Agent{Sums: s.agent.Sums()}})
		if err != nil {
			return err
		}
		data = m.UserData
		if ok {
			data = gen
		} else if dec, err := base64.StdEncoding.DecodeString(string(data)); err == nil && len(dec) > 0 {
			data = dec
		}
		if m.Status == wire.NodeDeploying {
			return lifecycle.EndDeployment(tx, m)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(data) == 0 {
		return nil, notFoundf("No user data available for this node.")
	}
	return rawResponse{contentType: "application/octet-stream", body: data}, nil
}

// webhookEvent is a cloud-init / curtin reporting event (protocol.md §4.4).
type webhookEvent struct {
	EventType   string  `json:"event_type"`
	Origin      string  `json:"origin"`
	Name        string  `json:"name"`
	Description string  `json:"description"`
	Result      string  `json:"result"`
	Timestamp   float64 `json:"timestamp"`
	Files       []struct {
		Path        string  `json:"path"`
		Name        string  `json:"name"`
		Encoding    string  `json:"encoding"`
		Compression string  `json:"compression"`
		Content     *string `json:"content"`
	} `json:"files"`
}

// statusWebhook answers POST /MAAS/metadata/status/<system_id>. Unlike upstream, the request's
// OAuth signature is checked like every other; the machine is the token's, whatever the path
// says.
func (s *Server) statusWebhook(req *request, m *store.Machine) (any, error) {
	var ev webhookEvent
	if err := json.Unmarshal(req.params.JSON, &ev); err != nil {
		return nil, badRequest("Status payload must be a JSON object: %v", err)
	}
	var missing []string
	for k, v := range map[string]string{"event_type": ev.EventType, "origin": ev.Origin, "name": ev.Name} {
		if v == "" {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return nil, badRequest("Missing parameter(s) in status payload: %s", strings.Join(missing, ", "))
	}
	failed := ev.Result == "FAIL" || ev.Result == "FAILURE"
	// What the files inflate to is stored, so it is bounded like an upload: per request, by
	// the body limit, whatever their compressed size.
	limit := s.maxBody()
	left := limit
	files := map[string][]byte{}
	for _, f := range ev.Files {
		if f.Content == nil {
			continue
		}
		if f.Encoding != "base64" {
			return nil, badRequest("Invalid encoding %q of file %s: only base64 is accepted", f.Encoding, f.Path)
		}
		data, err := base64.StdEncoding.DecodeString(*f.Content)
		if err != nil {
			return nil, badRequest("Invalid base64 in file %s: %v", f.Path, err)
		}
		switch f.Compression {
		case "bzip2":
			if data, err = bunzip2(data, left); err != nil {
				if errors.Is(err, errBodyTooLarge) {
					return nil, &tooLargeError{"files of the status event, inflated,", limit}
				}
				return nil, badRequest("Invalid bzip2 data in file %s: %v", f.Path, err)
			}
		case "", "none":
		default:
			return nil, badRequest("Invalid compression %q of file %s: only bzip2 is accepted", f.Compression, f.Path)
		}
		if left -= int64(len(data)); left < 0 {
			return nil, &tooLargeError{"files of the status event, inflated,", limit}
		}
		// Files are named by their base name (curtin sends /tmp/install.log); the signal checks it.
		name := path.Base(f.Path)
		if f.Path == "" {
			name = f.Name
		}
		files[name] = data
	}
	ev.Files = nil
	req.params.JSON = nil
	err := s.store.Update(req.ctx, func(tx *store.Tx) error {
		m, err := tx.MachineByID(m.ID)
		if err != nil {
			return err
		}
		return lifecycle.ReportEvent(tx, m, lifecycle.Event{Type: ev.EventType, Origin: ev.Origin, Name: ev.Name,
			Description: ev.Description, Failed: failed, Files: files}, &s.signals)
	})
	if err != nil {
		return nil, err
	}
	return noContent{}, nil
}

// bunzip2 inflates b, failing with errBodyTooLarge past limit bytes.
func bunzip2(b []byte, limit int64) ([]byte, error) {
	return readAtMost(bzip2.NewReader(bytes.NewReader(b)), limit, "inflated file")
}
