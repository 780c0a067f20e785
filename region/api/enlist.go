package api

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"

	"maasgo/region/lifecycle"
	"maasgo/region/store"
	"maasgo/region/userdata"
)

// serveEnlisting answers the metadata calls of a machine enlisting itself, which has no
// credentials yet (protocol.md §6.9): the anonymous maas-scripts tar and, once it enlisted,
// its preseed (op=get_preseed) with its token. It reports whether it answered.
func (s *Server) serveEnlisting(w http.ResponseWriter, r *http.Request, sub string) bool {
	switch {
	case (sub == "maas-scripts" || strings.HasPrefix(sub, "maas-scripts/")) && isGet(r) && !hasCredentials(r):
		s.anonymousScripts(w, r)
		return true
	case strings.TrimSuffix(sub, "/") == "enlist-preseed" && isGet(r):
		if r.URL.Query().Get("op") != "get_enlist_preseed" {
			writeText(w, http.StatusNotFound, "Not found: enlist-preseed answers only op=get_enlist_preseed")
			return true
		}
		s.enlistAnonymously(w, r, func() (any, error) {
			b := "#cloud-config\ndatasource:\n  MAAS:\n    metadata_url: '" + externalBase(r) + "/MAAS/metadata/enlist/'\n"
			return rawResponse{contentType: "text/plain; charset=utf-8", body: []byte(b)}, nil
		})
		return true
	case strings.HasPrefix(sub, "by-id/") && isGet(r):
		id, rest, _ := strings.Cut(strings.TrimPrefix(sub, "by-id/"), "/")
		if id == "" || rest != "" || r.URL.Query().Get("op") != "get_preseed" {
			writeText(w, http.StatusNotFound, "Not found: by-id/"+id+" answers only op=get_preseed")
			return true
		}
		s.enlistPreseed(w, r, id)
		return true
	}
	return false
}

// serveEnlistTree answers the enlistment datasource, /MAAS/metadata/enlist/<ver>/…, which
// the ephemeral environment of a machine the region does not know reads (as upstream):
// meta-data naming it i-maas-enlistment / maas-enlisting-node, user-data that runs the agent
// without a token (it enlists the machine), and the enlistment scripts.
func (s *Server) serveEnlistTree(w http.ResponseWriter, r *http.Request, segs []string) {
	if len(segs) == 0 || segs[0] == "" {
		writeText(w, http.StatusOK, "2012-03-01\nlatest")
		return
	}
	if !metadataVersions[segs[0]] {
		writeText(w, http.StatusNotFound, "Unknown metadata version: "+segs[0])
		return
	}
	if !isGet(r) {
		writeText(w, http.StatusMethodNotAllowed, "The enlistment datasource is read only.")
		return
	}
	text := func(t string) func() (any, error) { return func() (any, error) { return textResponse(t), nil } }
	var answer func() (any, error)
	switch sub := strings.Trim(strings.Join(segs[1:], "/"), "/"); sub {
	case "":
		answer = text("meta-data\nuser-data")
	case "meta-data":
		answer = text("instance-id\nlocal-hostname")
	case "meta-data/instance-id":
		answer = text("i-maas-enlistment")
	case "meta-data/local-hostname":
		answer = text("maas-enlisting-node")
	case "user-data":
		answer = func() (any, error) {
			b, err := userdata.Enlistment(externalBase(r)+"/MAAS", userdata.Agent{Sums: s.agent.Sums(), CA: s.machineCA()})
			if err != nil {
				return nil, err
			}
			return rawResponse{contentType: "application/octet-stream", body: b}, nil
		}
	case "maas-scripts":
		s.anonymousScripts(w, r)
		return
	default:
		writeText(w, http.StatusNotFound, "Not found: "+r.URL.Path)
		return
	}
	s.enlistAnonymously(w, r, answer)
}

// enlistAnonymously answers an anonymous enlistment call with answer while the
// enable_anonymous_enlistment setting allows them, and 401 otherwise.
func (s *Server) enlistAnonymously(w http.ResponseWriter, r *http.Request, answer func() (any, error)) {
	err := s.store.View(r.Context(), func(tx *store.Tx) error {
		ok, err := lifecycle.EnlistmentAllowed(tx)
		if err == nil && !ok {
			err = unauthorized("Authentication required: anonymous enlistment is disabled on this region (enable_anonymous_enlistment).")
		}
		return err
	})
	var v any
	if err == nil {
		v, err = answer()
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeValue(w, r, v)
}

// hasCredentials reports whether a request carries OAuth credentials, in its Authorization
// header or its query.
func hasCredentials(r *http.Request) bool {
	if r.Header.Get("Authorization") != "" {
		return true
	}
	for k := range r.URL.Query() {
		if strings.HasPrefix(k, "oauth_") {
			return true
		}
	}
	return false
}

// anonymousScripts answers GET maas-scripts without credentials: the scripts an enlisting
// machine runs before it enlists.
func (s *Server) anonymousScripts(w http.ResponseWriter, r *http.Request) {
	s.enlistAnonymously(w, r, func() (any, error) {
		var sc *lifecycle.Scripts
		err := s.store.View(r.Context(), func(tx *store.Tx) (err error) {
			sc, err = lifecycle.AnonymousScripts(tx)
			return err
		})
		if err != nil {
			return nil, err
		}
		if len(sc.Pending) == 0 {
			return noContent{}, nil
		}
		b, err := sc.Tar(s.now())
		if err != nil {
			return nil, err
		}
		return rawResponse{contentType: "application/x-tar", body: b}, nil
	})
}

// enlistPreseed answers GET by-id/{system_id}/?op=get_preseed: the cloud-config an enlisting
// machine writes over its config, holding its metadata URL and token. Only a machine that
// enlisted itself moments ago and has not reported since gets one (lifecycle.EnlistPreseed).
func (s *Server) enlistPreseed(w http.ResponseWriter, r *http.Request, systemID string) {
	var tok *store.Token
	err := s.store.View(r.Context(), func(tx *store.Tx) (err error) {
		_, tok, err = lifecycle.EnlistPreseed(tx, systemID, s.now())
		return err
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	base := externalBase(r) + "/MAAS"
	var b bytes.Buffer
	fmt.Fprintf(&b, "#cloud-config\ndatasource:\n  MAAS:\n")
	creds := fmt.Sprintf("    consumer_key: '%s'\n    token_key: '%s'\n    token_secret: '%s'\n", tok.ConsumerKey, tok.TokenKey, tok.TokenSecret)
	fmt.Fprintf(&b, "    metadata_url: '%s/metadata/'\n%s", base, creds)
	// The region's CA, which the enlisting agent checked it with, stays with the token.
	if ca, err := userdata.CanonicalCA(s.machineCA()); err == nil && ca != "" {
		fmt.Fprintf(&b, "    tls_ca: |\n      %s\n", strings.ReplaceAll(strings.TrimSuffix(ca, "\n"), "\n", "\n      "))
	}
	fmt.Fprintf(&b, "reporting:\n  maas:\n    type: webhook\n    endpoint: '%s/metadata/status/%s'\n%s", base, systemID, creds)
	s.writeValue(w, r, rawResponse{contentType: "text/plain; charset=utf-8", body: b.Bytes()})
}
