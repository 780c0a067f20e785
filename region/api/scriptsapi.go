package api

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strconv"
	"strings"

	"maasgo/region/library"
	"maasgo/region/store"
	"maasgo/wire"
)

// scriptJSON is a script as upstream's NodeScriptHandler renders it (protocol.md §11.2).
type scriptJSON struct {
	ID                        int64           `json:"id"`
	Name                      string          `json:"name"`
	Title                     string          `json:"title"`
	Description               string          `json:"description"`
	Tags                      []string        `json:"tags"`
	Type                      int             `json:"type"`
	TypeName                  string          `json:"type_name"`
	HardwareType              int             `json:"hardware_type"`
	HardwareTypeName          string          `json:"hardware_type_name"`
	Parallel                  int             `json:"parallel"`
	ParallelName              string          `json:"parallel_name"`
	Results                   json.RawMessage `json:"results"`
	Parameters                json.RawMessage `json:"parameters"`
	Packages                  json.RawMessage `json:"packages"`
	Timeout                   string          `json:"timeout"`
	Destructive               bool            `json:"destructive"`
	ForHardware               []string        `json:"for_hardware"`
	MayReboot                 bool            `json:"may_reboot"`
	Recommission              bool            `json:"recommission"`
	History                   []historyJSON   `json:"history"`
	Default                   bool            `json:"default"`
	ApplyConfiguredNetworking bool            `json:"apply_configured_networking"`
	ResourceURI               string          `json:"resource_uri"`
}

type historyJSON struct {
	ID      int64   `json:"id"`
	Comment *string `json:"comment"`
	Created string  `json:"created"`
	Data    *string `json:"data,omitempty"`
}

func renderScript(tx *store.Tx, s *store.Script, withData bool) (*scriptJSON, error) {
	versions, err := tx.ScriptVersions(s.ID, withData)
	if err != nil {
		return nil, err
	}
	hist := make([]historyJSON, len(versions))
	for i, v := range versions {
		hist[i] = historyJSON{ID: v.ID, Comment: v.Comment, Created: wire.FormatRFC2822(v.Created)}
		if withData {
			d := base64.StdEncoding.EncodeToString(v.Data)
			hist[i].Data = &d
		}
	}
	raw := func(b json.RawMessage) json.RawMessage {
		if len(b) == 0 {
			return json.RawMessage("{}")
		}
		return b
	}
	return &scriptJSON{
		ID: s.ID, Name: s.Name, Title: s.Title, Description: s.Description, Tags: orEmpty(s.Tags),
		Type: int(s.Type), TypeName: s.Type.Label(), HardwareType: int(s.HardwareType),
		HardwareTypeName: s.HardwareType.Label(), Parallel: int(s.Parallel), ParallelName: s.Parallel.Label(),
		Results: raw(s.Results), Parameters: raw(s.Parameters), Packages: raw(s.Packages),
		Timeout: wire.FormatTimedelta(s.Timeout), Destructive: s.Destructive, ForHardware: orEmpty(s.ForHardware),
		MayReboot: s.MayReboot, Recommission: s.Recommission, History: hist, Default: s.Default,
		ApplyConfiguredNetworking: s.ApplyConfiguredNetworking, ResourceURI: apiRoot + "/scripts/" + s.Name,
	}, nil
}

// libraryError turns the library's field errors into the API's.
func libraryError(err error) error {
	var fe library.FieldErrors
	if errors.As(err, &fe) {
		return validationError(fe)
	}
	return err
}

// loadScript reads the script named in the path, by name or by id.
func loadScript(tx *store.Tx, req *request) (*store.Script, error) {
	name := req.path["name"]
	s, err := tx.ScriptByName(name)
	if errors.Is(err, store.ErrNotFound) {
		if id, perr := strconv.ParseInt(name, 10, 64); perr == nil {
			s, err = tx.ScriptByID(id)
		}
	}
	if errors.Is(err, store.ErrNotFound) {
		return nil, notFoundf("No script named %s.", name)
	}
	return s, err
}

func readScripts(req *request) (any, error) {
	p := req.params
	withData, err := p.Bool("include_script", false)
	if err != nil {
		return nil, err
	}
	var typ *wire.ScriptType
	if v := p.Get("type"); v != "" {
		t, err := wire.ParseScriptType(v)
		if err != nil {
			return nil, fieldError("type", err.Error())
		}
		typ = &t
	}
	var hw *wire.HardwareType
	if v := p.Get("hardware_type"); v != "" {
		h, err := wire.ParseHardwareType(v)
		if err != nil {
			return nil, fieldError("hardware_type", err.Error())
		}
		hw = &h
	}
	filters := p.List("filters")
	out := []*scriptJSON{}
	err = req.s.store.View(req.ctx, func(tx *store.Tx) error {
		all, err := tx.Scripts(typ)
		if err != nil {
			return err
		}
		for i := range all {
			s := &all[i]
			if hw != nil && s.HardwareType != *hw {
				continue
			}
			if len(filters) > 0 && !library.Matches(s, filters) {
				continue
			}
			j, err := renderScript(tx, s, withData)
			if err != nil {
				return err
			}
			out = append(out, j)
		}
		return nil
	})
	return out, err
}

func readScript(req *request) (any, error) {
	withData, err := req.params.Bool("include_script", false)
	if err != nil {
		return nil, err
	}
	var out *scriptJSON
	err = req.s.store.View(req.ctx, func(tx *store.Tx) error {
		s, err := loadScript(tx, req)
		if err != nil {
			return err
		}
		out, err = renderScript(tx, s, withData)
		return err
	})
	return out, err
}

// scriptRequest reads a create or update: the body from the `script` file part (or field), or
// from a single other file part whose field name then names the script; the metadata fields;
// the comment.
func scriptRequest(p *Params, create bool) (library.Request, error) {
	req := library.Request{Fields: map[string]string{}}
	body, ok := p.File("script")
	if !ok && len(p.Files) == 1 && create {
		for name, data := range p.Files {
			body = data
			if !p.Has("name") {
				req.Fields["name"] = name
			}
		}
		ok = true
	}
	if ok {
		req.Body = body
		if req.Body == nil {
			req.Body = []byte{}
		}
	}
	for k := range p.Values {
		switch k {
		case "op", "script", "comment":
			continue
		}
		if strings.HasPrefix(k, "oauth_") {
			continue
		}
		req.Fields[k] = p.Get(k)
	}
	if p.Has("comment") {
		c := p.Get("comment")
		req.Comment = &c
	}
	for k := range req.Fields {
		if !isScriptField(k) {
			return req, fieldError(k, "Unknown field.")
		}
	}
	return req, nil
}

func createScript(req *request) (any, error) {
	r, err := scriptRequest(req.params, true)
	if err != nil {
		return nil, err
	}
	var out *scriptJSON
	err = req.s.store.Update(req.ctx, func(tx *store.Tx) error {
		s, err := library.Create(tx, r)
		if err != nil {
			return libraryError(err)
		}
		out, err = renderScript(tx, s, false)
		return err
	})
	return out, err
}

func isScriptField(k string) bool {
	switch k {
	case "name", "title", "description", "tags", "type", "script_type", "hardware_type", "parallel", "timeout",
		"destructive", "may_reboot", "recommission", "apply_configured_networking", "packages", "for_hardware":
		return true
	}
	return false
}

func updateScript(req *request) (any, error) {
	r, err := scriptRequest(req.params, false)
	if err != nil {
		return nil, err
	}
	var out *scriptJSON
	err = req.s.store.Update(req.ctx, func(tx *store.Tx) error {
		s, err := loadScript(tx, req)
		if err != nil {
			return err
		}
		if err := library.Update(tx, s, r); err != nil {
			return libraryError(err)
		}
		out, err = renderScript(tx, s, false)
		return err
	})
	return out, err
}

func deleteScript(req *request) (any, error) {
	err := req.s.store.Update(req.ctx, func(tx *store.Tx) error {
		s, err := loadScript(tx, req)
		if err != nil {
			return err
		}
		if s.Default {
			return badRequest("Unable to delete default script")
		}
		return libraryError(library.Delete(tx, s))
	})
	if err != nil {
		return nil, err
	}
	return noContent{}, nil
}

func downloadScript(req *request) (any, error) {
	rev := req.params.Get("revision")
	if rev == "" {
		rev = req.params.Get("rev")
	}
	var data []byte
	err := req.s.store.View(req.ctx, func(tx *store.Tx) error {
		s, err := loadScript(tx, req)
		if err != nil {
			return err
		}
		id := s.CurrentVersion
		if rev != "" {
			n, err := strconv.ParseInt(rev, 10, 64)
			if err != nil {
				return badRequest("%s not found in history", rev)
			}
			id = n
		}
		v, err := tx.ScriptVersion(id)
		if errors.Is(err, store.ErrNotFound) || (err == nil && v.ScriptID != s.ID) {
			return badRequest("%s not found in history", rev)
		}
		if err != nil {
			return err
		}
		data = v.Data
		return nil
	})
	if err != nil {
		return nil, err
	}
	return rawResponse{contentType: "application/binary", body: data}, nil
}

func revertScript(req *request) (any, error) {
	to := req.params.Get("to")
	if to == "" {
		return nil, fieldError("to", "This field is required.")
	}
	var out *scriptJSON
	err := req.s.store.Update(req.ctx, func(tx *store.Tx) error {
		s, err := loadScript(tx, req)
		if err != nil {
			return err
		}
		if s.Default {
			return badRequest("Unable to revert default script")
		}
		if err := library.Revert(tx, s, to); err != nil {
			return libraryError(err)
		}
		out, err = renderScript(tx, s, false)
		return err
	})
	return out, err
}

func tagScript(add bool) func(*request) (any, error) {
	return func(req *request) (any, error) {
		tag := req.params.Get("tag")
		if tag == "" {
			return nil, fieldError("tag", "This field is required.")
		}
		var out *scriptJSON
		err := req.s.store.Update(req.ctx, func(tx *store.Tx) error {
			s, err := loadScript(tx, req)
			if err != nil {
				return err
			}
			if add {
				err = library.AddTag(tx, s, tag)
			} else {
				err = library.RemoveTag(tx, s, tag)
			}
			if err != nil {
				return libraryError(err)
			}
			out, err = renderScript(tx, s, false)
			return err
		})
		return out, err
	}
}

// scriptParams documents the fields of node-scripts create and node-script update.
var scriptParams = []param{
	{"name", "The script's name (or from the embedded metadata)."},
	{"script", "The script itself: a file (script@=PATH); the region reads its embedded MAAS 1.0 metadata."},
	{"type", "commissioning or testing (default testing)."},
	{"title", "A title."}, {"description", "A description."}, {"tags", "Comma-separated tags."},
	{"timeout", "Seconds or HH:MM:SS; 0 for none."}, {"destructive", "Whether the script erases data (true/false)."},
	{"hardware_type", "node, cpu, memory, storage, network or gpu."},
	{"parallel", "disabled, instance or any."}, {"packages", "Packages to install first, as JSON."},
	{"for_hardware", "Hardware the script is for (modalias:, pci:, usb:, …), comma-separated."},
	{"may_reboot", "Whether the script may reboot the machine (true/false)."},
	{"recommission", "Re-run the built-in commissioning scripts after this one (true/false)."},
	{"apply_configured_networking", "Apply the machine's configured networking first (true/false)."},
	{"comment", "A comment for this revision."},
}
