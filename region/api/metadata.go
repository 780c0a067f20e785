package api

import (
	"bytes"
	"compress/bzip2"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"path"
	"strings"

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
		setRoute(r, "metadata.status")
		if len(segs) != 2 || r.Method != http.MethodPost {
			writeText(w, http.StatusNotFound, "Not found: "+path)
			return
		}
		s.withNode(w, r, func(req *request, m *store.Machine) (any, error) { return s.statusWebhook(req, m) })
		return
	}
	if segs[0] == "enlist" {
		setRoute(r, "metadata.enlist")
		s.serveEnlistTree(w, r, segs[1:])
		return
	}
	if !metadataVersions[segs[0]] {
		writeText(w, http.StatusNotFound, "Unknown metadata version: "+segs[0])
		return
	}
	sub := strings.Join(segs[1:], "/")
	if s.serveEnlisting(w, r, sub) {
		return
	}
	switch {
	case sub == "" && isGet(r):
		setRoute(r, "metadata.index")
		s.withNode(w, r, func(req *request, m *store.Machine) (any, error) {
			items := []string{"maas-commissioning-scripts", "meta-data"}
			if len(m.UserData) > 0 || m.Status == wire.NodeCommissioning || m.Status == wire.NodeTesting || m.Status == wire.NodeDeploying ||
				m.Status == wire.NodeDiskErasing {
				items = append(items, "user-data")
			}
			return textResponse(strings.Join(items, "\n")), nil
		})
	case sub == "" && r.Method == http.MethodPost:
		setRoute(r, "metadata.op")
		s.withNodeToken(w, r, s.metadataOp) // its operations read the machine in their transaction
	case (sub == "maas-scripts" || strings.HasPrefix(sub, "maas-scripts/")) && isGet(r):
		setRoute(r, "metadata.scripts")
		s.withNode(w, r, s.maasScripts)
	case sub == "meta-data" && isGet(r):
		setRoute(r, "metadata.meta-data")
		s.withNode(w, r, func(req *request, m *store.Machine) (any, error) {
			return textResponse("instance-id\nlocal-hostname\nvendor-data\nx509"), nil
		})
	case strings.HasPrefix(sub, "meta-data/") && isGet(r):
		setRoute(r, "metadata.meta-data")
		key := strings.TrimPrefix(sub, "meta-data/")
		s.withNode(w, r, func(req *request, m *store.Machine) (any, error) { return metaData(m, key) })
	case sub == "user-data" && isGet(r):
		setRoute(r, "metadata.user-data")
		s.withNode(w, r, s.userData)
	default:
		writeText(w, http.StatusNotFound, "Not found: "+path)
	}
}

// withNode authenticates the request as a machine, from its headers, then reads its body and
// runs fn with the machine as it is now.
func (s *Server) withNode(w http.ResponseWriter, r *http.Request, fn func(*request, *store.Machine) (any, error)) {
	s.withNodeToken(w, r, func(req *request) (any, error) {
		var m *store.Machine
		err := s.store.View(r.Context(), func(tx *store.Tx) (err error) {
			m, err = tx.MachineByID(*req.token.NodeID)
			return err
		})
		if err != nil {
			return nil, err
		}
		setMachine(r, m.SystemID)
		return fn(req, m)
	})
}

// withNodeToken is withNode for handlers that read the machine in their own transaction.
func (s *Server) withNodeToken(w http.ResponseWriter, r *http.Request, fn func(*request) (any, error)) {
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
	v, err := fn(req)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeValue(w, r, v)
}

// metaData answers GET /<ver>/meta-data/KEY.
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
func (s *Server) metadataOp(req *request) (any, error) {
	switch op := req.params.Get("op"); op {
	case "signal":
		setRoute(req.r, "metadata.signal")
		return s.signal(req)
	case "netboot_on", "netboot_off":
		setRoute(req.r, "metadata.netboot")
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

// signal stores a machine's signal. A signal carrying an idempotency key that was seen before
// is acknowledged without being applied again.
func (s *Server) signal(req *request) (any, error) {
	sig, err := wire.DecodeSignal(req.params.Values, req.params.Files)
	if err != nil {
		return nil, err
	}
	key := req.r.Header.Get("Idempotency-Key")
	if key == "" {
		key = req.params.Get("idempotency_key")
	}
	parsed := lifecycle.ParseYAML(sig)
	outcome := "stored"
	err = s.store.Update(req.ctx, func(tx *store.Tx) error {
		m, err := tx.MachineByID(*req.token.NodeID)
		if err != nil {
			return err
		}
		setMachine(req.r, m.SystemID)
		outcome = "stored"
		if key != "" {
			fresh, err := tx.RecordSignalKey(m.ID, key, s.now())
			if err != nil || !fresh {
				outcome = "repeat"
				return err
			}
		}
		return s.signals.ProcessParsed(tx, m, sig, parsed)
	})
	if err != nil {
		s.opts.Metrics.Signal(sig.Status, "error")
		return nil, err
	}
	s.opts.Metrics.Signal(sig.Status, outcome)
	return textResponse("OK"), nil
}

// maasScripts answers GET /<ver>/maas-scripts: a tar of the scripts the machine should run
// with their index.json, or 204 when there is nothing to run.
func (s *Server) maasScripts(req *request, m *store.Machine) (any, error) {
	var sc *lifecycle.Scripts
	err := s.store.Update(req.ctx, func(tx *store.Tx) (err error) {
		sc, err = lifecycle.LoadScripts(tx, m.ID)
		return err
	})
	if err != nil {
		return nil, err
	}
	if len(sc.Pending) == 0 {
		return noContent{}, nil
	}
	err = s.store.View(req.ctx, func(tx *store.Tx) error { return s.runtimes.EstimateEntries(tx, sc.Machine, sc.Pending) })
	if err != nil {
		return nil, err
	}
	b, err := sc.Tar(s.now())
	if err != nil {
		return nil, err
	}
	return rawResponse{contentType: "application/x-tar", body: b}, nil
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
			Agent: userdata.Agent{Sums: s.agent.Sums(), CA: s.machineCA()}})
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

// isGet reports a GET or a HEAD (answered as GET; net/http sends the headers alone).
func isGet(r *http.Request) bool { return r.Method == http.MethodGet || r.Method == http.MethodHead }
