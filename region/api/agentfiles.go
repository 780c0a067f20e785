package api

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"text/template"
	"time"
)

// AgentArchitectures are the Debian architectures the agent is built for.
var AgentArchitectures = []string{"amd64", "arm64"}

// agentFiles finds the agent binaries (maas-run-scripts-linux-<arch>) in a directory and
// remembers their SHA-256 while they do not change.
type agentFiles struct {
	dir string
	mu  sync.Mutex
	sum map[string]cachedSum
}

type cachedSum struct {
	size  int64
	mtime time.Time
	sum   string
}

func (a *agentFiles) path(arch string) string {
	return filepath.Join(a.dir, "maas-run-scripts-linux-"+arch)
}

// Sum is the SHA-256 of the binary for arch, or an error naming what is missing.
func (a *agentFiles) Sum(arch string) (string, error) {
	p := a.path(arch)
	st, err := os.Stat(p)
	if err != nil {
		return "", fmt.Errorf("no maas-run-scripts build for architecture %s: %s is missing (run make build, or start the region with --agent-dir)", arch, p)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if c, ok := a.sum[arch]; ok && c.size == st.Size() && c.mtime.Equal(st.ModTime()) {
		return c.sum, nil
	}
	f, err := os.Open(p)
	if err != nil {
		return "", fmt.Errorf("open %s: %w", p, err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("read %s: %w", p, err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if a.sum == nil {
		a.sum = map[string]cachedSum{}
	}
	a.sum[arch] = cachedSum{size: st.Size(), mtime: st.ModTime(), sum: sum}
	return sum, nil
}

// Sums are the SHA-256 of every architecture that has a build.
func (a *agentFiles) Sums() map[string]string {
	out := map[string]string{}
	for _, arch := range AgentArchitectures {
		if s, err := a.Sum(arch); err == nil {
			out[arch] = s
		}
	}
	return out
}

// AgentSums reads the SHA-256 of the agent builds in dir, by architecture; an error says
// that there is none.
func AgentSums(dir string) (map[string]string, error) {
	sums := (&agentFiles{dir: dir}).Sums()
	if len(sums) == 0 {
		return nil, fmt.Errorf("no agent build (maas-run-scripts-linux-<arch>) in %s: run make build or give --agent-dir", dir)
	}
	return sums, nil
}

// serveAgent answers /MAAS/maas-run-scripts/<arch> and /MAAS/machine-resources/<arch> with the
// static agent binary (one binary does both), and /MAAS/maas-run-scripts with a small launcher
// that runs the binary of the machine's own architecture.
func (s *Server) serveAgent(w http.ResponseWriter, r *http.Request, path string) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		writeText(w, http.StatusMethodNotAllowed, "GET only")
		return
	}
	rest := strings.Trim(strings.TrimPrefix(path, "/MAAS/"), "/")
	name, arch, _ := strings.Cut(rest, "/")
	if arch == "" {
		arch = r.URL.Query().Get("arch")
	}
	if arch == "" && name == "maas-run-scripts" {
		s.serveLauncher(w, r)
		return
	}
	if arch == "" {
		writeText(w, http.StatusNotFound, fmt.Sprintf("Name the architecture: /MAAS/%s/<arch> (one of %s).", name, strings.Join(AgentArchitectures, ", ")))
		return
	}
	sum, err := s.agent.Sum(arch)
	if err != nil {
		writeText(w, http.StatusNotFound, err.Error())
		return
	}
	f, err := os.Open(s.agent.path(arch))
	if err != nil {
		writeText(w, http.StatusNotFound, err.Error())
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		writeText(w, http.StatusInternalServerError, err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("X-Agent-SHA256", sum)
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", name))
	http.ServeContent(w, r, name, st.ModTime(), f)
}

var launcherTmpl = template.Must(template.New("launcher").Parse(`#!/bin/sh
# maas-run-scripts from the MAAS region at {{.URL}}.
# It runs the agent built for this machine's architecture, fetched from the region once, checked
# against the region's SHA-256 and kept beside this file (or in ~/.cache/maas-run-scripts).
set -u
MAAS_URL='{{.URL}}'
case $(uname -m) in
x86_64 | amd64) arch=amd64 ;;
aarch64 | arm64) arch=arm64 ;;
*) echo "maas-run-scripts: the region has no agent for this machine's architecture $(uname -m)" >&2; exit 1 ;;
esac
case $arch in
{{- range .Sums}}
{{.Arch}}) sum={{.Sum}} ;;
{{- end}}
*) echo "maas-run-scripts: the region has no agent built for $arch (run make build on the region)" >&2; exit 1 ;;
esac
dir=$(cd "$(dirname "$0")" && pwd)
if [ ! -w "$dir" ]; then
	dir="${XDG_CACHE_HOME:-$HOME/.cache}/maas-run-scripts"
	mkdir -p "$dir" || exit 1
fi
bin="$dir/.maas-run-scripts-$arch-$sum"
if [ ! -x "$bin" ]; then
	tmp="$bin.$$"
	if command -v curl >/dev/null 2>&1; then
		curl -fsSL -o "$tmp" "$MAAS_URL/maas-run-scripts/$arch"
	else
		wget -q -O "$tmp" "$MAAS_URL/maas-run-scripts/$arch"
	fi || { rm -f "$tmp"; echo "maas-run-scripts: cannot download $MAAS_URL/maas-run-scripts/$arch" >&2; exit 1; }
	if command -v sha256sum >/dev/null 2>&1; then
		got=$(sha256sum "$tmp" | cut -d' ' -f1)
	else
		got=$(openssl dgst -sha256 -r "$tmp" | cut -d' ' -f1)
	fi
	if [ "$got" != "$sum" ]; then
		rm -f "$tmp"
		echo "maas-run-scripts: the agent's SHA-256 is $got, not $sum: the region's agent changed, download maas-run-scripts again" >&2
		exit 1
	fi
	chmod 755 "$tmp" && mv "$tmp" "$bin" || exit 1
fi
exec "$bin" "$@"
`))

func (s *Server) serveLauncher(w http.ResponseWriter, r *http.Request) {
	type archSum struct{ Arch, Sum string }
	var sums []archSum
	for a, sum := range s.agent.Sums() {
		sums = append(sums, archSum{a, sum})
	}
	if len(sums) == 0 {
		writeText(w, http.StatusNotFound, fmt.Sprintf("No maas-run-scripts build in %s for any architecture (%s): run make build, or start the region with --agent-dir.",
			s.agent.dir, strings.Join(AgentArchitectures, ", ")))
		return
	}
	sort.Slice(sums, func(i, j int) bool { return sums[i].Arch < sums[j].Arch })
	w.Header().Set("Content-Type", "text/x-shellscript; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="maas-run-scripts"`)
	if err := launcherTmpl.Execute(w, map[string]any{"URL": externalBase(r) + "/MAAS", "Sums": sums}); err != nil {
		s.log().Warn("render launcher", "err", err)
	}
}
