package web

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"maasgo/region/library"
	"maasgo/region/store"
	"maasgo/wire"
)

// scriptRow is one script of the library list.
type scriptRow struct {
	Name, Title, Type, Hardware string
	Tags                        []string
	Revisions                   int
	Default                     bool
}

func scriptsPage(p *page) error {
	return p.showScripts(http.StatusOK, "", nil)
}

func (p *page) showScripts(code int, notice string, problems []string) error {
	var rows []scriptRow
	err := p.h.st.View(p.ctx, func(tx *store.Tx) error {
		all, err := tx.Scripts(nil)
		if err != nil {
			return err
		}
		for i := range all {
			s := &all[i]
			vs, err := tx.ScriptVersions(s.ID, false)
			if err != nil {
				return err
			}
			rows = append(rows, scriptRow{Name: s.Name, Title: s.Title, Type: s.Type.Label(), Hardware: s.HardwareType.Label(),
				Tags: s.Tags, Revisions: len(vs), Default: s.Default})
		}
		return nil
	})
	if err != nil {
		return err
	}
	p.render(code, "scripts", map[string]any{"Title": "Scripts", "Scripts": rows, "Notice": notice,
		"Problems": problems, "MaxUpload": p.h.opts.MaxScriptUpload})
	return nil
}

// loadScript reads the script named in the path.
func loadScript(p *page, tx *store.Tx) (*store.Script, error) {
	name := p.r.PathValue("name")
	s, err := tx.ScriptByName(name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, statusErrorf(http.StatusNotFound, "No script named %s.", name)
	}
	return s, err
}

func scriptPage(p *page) error {
	var s *store.Script
	var versions []store.ScriptVersion
	var body []byte
	err := p.h.st.View(p.ctx, func(tx *store.Tx) error {
		var err error
		if s, err = loadScript(p, tx); err != nil {
			return err
		}
		if versions, err = tx.ScriptVersions(s.ID, false); err != nil {
			return err
		}
		if s.CurrentVersion != 0 {
			v, err := tx.ScriptVersion(s.CurrentVersion)
			if err != nil {
				return err
			}
			body = v.Data
		}
		return nil
	})
	if err != nil {
		return err
	}
	from, to := int64(0), s.CurrentVersion
	if len(versions) > 1 {
		from = versions[len(versions)-2].ID
		to = versions[len(versions)-1].ID
	}
	p.render(http.StatusOK, "script", map[string]any{"Title": s.Name, "S": s, "Type": s.Type.Label(),
		"Hardware": s.HardwareType.Label(), "Timeout": wire.FormatTimedelta(s.Timeout), "Versions": versions,
		"Body": string(body), "From": from, "To": to})
	return nil
}

// scriptDiff shows the line diff between two revisions of a script.
func scriptDiff(p *page) error {
	q := p.r.URL.Query()
	from, err1 := strconv.ParseInt(q.Get("from"), 10, 64)
	to, err2 := strconv.ParseInt(q.Get("to"), 10, 64)
	if err1 != nil || err2 != nil {
		return statusErrorf(http.StatusBadRequest, "Choose two revisions (from and to).")
	}
	var s *store.Script
	var a, b *store.ScriptVersion
	err := p.h.st.View(p.ctx, func(tx *store.Tx) error {
		var err error
		if s, err = loadScript(p, tx); err != nil {
			return err
		}
		get := func(id int64) (*store.ScriptVersion, error) {
			v, err := tx.ScriptVersion(id)
			if errors.Is(err, store.ErrNotFound) || (err == nil && v.ScriptID != s.ID) {
				return nil, statusErrorf(http.StatusNotFound, "Script %s has no revision %d.", s.Name, id)
			}
			return v, err
		}
		if a, err = get(from); err != nil {
			return err
		}
		b, err = get(to)
		return err
	})
	if err != nil {
		return err
	}
	lines, ok := diffLines(splitLines(string(a.Data)), splitLines(string(b.Data)))
	add, del := 0, 0
	for _, l := range lines {
		switch l.Op {
		case '+':
			add++
		case '-':
			del++
		}
	}
	p.render(http.StatusOK, "diff", map[string]any{"Title": "Diff of " + s.Name, "S": s, "From": a, "To": b,
		"Lines": lines, "Exact": ok, "Added": add, "Removed": del})
	return nil
}

// uploadScript adds a script from a multipart upload (the body's size is bounded by the
// route); its metadata block, or the name field, names it.
func uploadScript(p *page) error {
	if p.r.MultipartForm == nil {
		return p.showScripts(http.StatusBadRequest, "", []string{"Upload the script as a file (multipart form)."})
	}
	f, hdr, err := p.r.FormFile("script")
	if err != nil {
		return p.showScripts(http.StatusBadRequest, "", []string{"Choose a script file to upload."})
	}
	defer f.Close()
	if hdr.Size > p.h.opts.MaxScriptUpload {
		return p.showScripts(http.StatusRequestEntityTooLarge, "", []string{"The script is larger than the upload limit."})
	}
	body, err := io.ReadAll(io.LimitReader(f, p.h.opts.MaxScriptUpload+1))
	if err != nil {
		return err
	}
	if int64(len(body)) > p.h.opts.MaxScriptUpload {
		return p.showScripts(http.StatusRequestEntityTooLarge, "", []string{"The script is larger than the upload limit."})
	}
	req := library.Request{Body: body, Fields: map[string]string{}}
	if c := strings.TrimSpace(p.r.PostFormValue("comment")); c != "" {
		req.Comment = &c
	}
	if n := strings.TrimSpace(p.r.PostFormValue("name")); n != "" {
		req.Fields["name"] = n
	}
	var name string
	err = p.h.st.Update(p.ctx, func(tx *store.Tx) error {
		s, err := library.Create(tx, req)
		if err == nil {
			name = s.Name
		}
		return err
	})
	var fe library.FieldErrors
	if errors.As(err, &fe) {
		var problems []string
		for field, msgs := range fe {
			for _, m := range msgs {
				problems = append(problems, field+": "+m)
			}
		}
		return p.showScripts(http.StatusBadRequest, "", problems)
	}
	if err != nil {
		return err
	}
	http.Redirect(p.w, p.r, "/MAAS/r/scripts/"+urlPathEscape(name), http.StatusSeeOther)
	return nil
}
