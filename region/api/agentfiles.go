package api

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"maasgo/region/userdata"
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

func (s *Server) serveLauncher(w http.ResponseWriter, r *http.Request) {
	sums := s.agent.Sums()
	if len(sums) == 0 {
		writeText(w, http.StatusNotFound, fmt.Sprintf("No maas-run-scripts build in %s for any architecture (%s): run make build, or start the region with --agent-dir.",
			s.agent.dir, strings.Join(AgentArchitectures, ", ")))
		return
	}
	body, err := userdata.Launcher(externalBase(r)+"/MAAS", sums)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/x-shellscript; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="maas-run-scripts"`)
	w.Write(body)
}
