package web

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strings"
	"sync"
	"time"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// pages are the parsed templates by page name; each is the layout with the page's blocks.
type pages map[string]*template.Template

var funcs = template.FuncMap{
	"mib":      formatMiB,
	"bytes":    formatBytes,
	"mbits":    formatMbits,
	"when":     formatTime,
	"duration": formatDuration,
	"lower":    strings.ToLower,
	"slug":     slug,
}

func mustParsePages() pages {
	out := pages{}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		panic(err)
	}
	for _, n := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if base == "layout" || strings.HasPrefix(base, "_") {
			continue
		}
		files := []string{"templates/layout.html", n}
		partials, _ := fs.Glob(templateFS, "templates/_*.html")
		files = append(files, partials...)
		out[base] = template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFS, files...))
	}
	return out
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// render writes page name with data, which gets the caller and the CSRF token added. The page
// is rendered into a buffer first, so a template error becomes a 500, not half a page.
func (p *page) render(code int, name string, data map[string]any) {
	p.renderTemplate(code, name, "layout.html", data)
}

// renderFragment writes one named template of a page alone (the live parts).
func (p *page) renderFragment(name, block string, data map[string]any) {
	p.renderTemplate(http.StatusOK, name, block, data)
}

func (p *page) renderTemplate(code int, name, block string, data map[string]any) {
	t := p.h.pages[name]
	if data == nil {
		data = map[string]any{}
	}
	data["User"] = p.user
	if p.sess != nil {
		data["CSRF"] = p.sess.CSRF
	}
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer bufPool.Put(buf)
	if t == nil {
		p.h.log().Error("web interface: no such page", "page", name)
		http.Error(p.w, "internal error", http.StatusInternalServerError)
		return
	}
	if err := t.ExecuteTemplate(buf, block, data); err != nil {
		p.h.log().Error("web interface: render", "page", name, "err", err)
		http.Error(p.w, "internal error", http.StatusInternalServerError)
		return
	}
	p.w.Header().Set("Content-Type", "text/html; charset=utf-8")
	p.w.WriteHeader(code)
	p.w.Write(buf.Bytes())
}

// staticFiles are the embedded stylesheet and script by name; a request names one of them,
// never a path.
var staticFiles = func() map[string][]byte {
	out := map[string][]byte{}
	entries, err := staticFS.ReadDir("static")
	if err != nil {
		panic(err)
	}
	for _, e := range entries {
		b, err := staticFS.ReadFile("static/" + e.Name())
		if err != nil {
			panic(err)
		}
		out[e.Name()] = b
	}
	return out
}()

func serveStatic(p *page) error {
	name := p.r.PathValue("file")
	b, ok := staticFiles[name]
	if !ok {
		return statusErrorf(http.StatusNotFound, "No such file.")
	}
	ct := "text/plain; charset=utf-8"
	switch {
	case strings.HasSuffix(name, ".css"):
		ct = "text/css; charset=utf-8"
	case strings.HasSuffix(name, ".js"):
		ct = "text/javascript; charset=utf-8"
	case strings.HasSuffix(name, ".svg"):
		ct = "image/svg+xml"
	}
	p.w.Header().Set("Content-Type", ct)
	p.w.Header().Set("Cache-Control", "public, max-age=3600")
	p.w.Write(b)
	return nil
}

func formatMiB(mib int64) string {
	if mib <= 0 {
		return "—"
	}
	if mib >= 1024 {
		return fmt.Sprintf("%.1f GiB", float64(mib)/1024)
	}
	return fmt.Sprintf("%d MiB", mib)
}

func formatBytes(b int64) string {
	switch {
	case b <= 0:
		return "—"
	case b >= 1e12:
		return fmt.Sprintf("%.1f TB", float64(b)/1e12)
	case b >= 1e9:
		return fmt.Sprintf("%.1f GB", float64(b)/1e9)
	case b >= 1e6:
		return fmt.Sprintf("%.1f MB", float64(b)/1e6)
	}
	return fmt.Sprintf("%d B", b)
}

func formatMbits(m int64) string {
	switch {
	case m <= 0:
		return "—"
	case m >= 1000 && m%1000 == 0:
		return fmt.Sprintf("%d Gbit/s", m/1000)
	case m >= 1000:
		return fmt.Sprintf("%.1f Gbit/s", float64(m)/1000)
	}
	return fmt.Sprintf("%d Mbit/s", m)
}

func formatTime(t any) string {
	switch v := t.(type) {
	case time.Time:
		if v.IsZero() {
			return "—"
		}
		return v.UTC().Format("2006-01-02 15:04:05")
	case *time.Time:
		if v == nil {
			return "—"
		}
		return v.UTC().Format("2006-01-02 15:04:05")
	}
	return "—"
}

func formatDuration(d time.Duration) string {
	if d < 0 {
		return "—"
	}
	d = d.Round(time.Second)
	if d < time.Minute {
		return fmt.Sprintf("%ds", int(d.Seconds()))
	}
	return strings.TrimSuffix(d.String(), "0s")
}

// slug turns a status label into a CSS class name: "Failed testing" → "failed-testing".
func slug(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	return b.String()
}
