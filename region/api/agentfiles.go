package api

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"maasgo/region/userdata"
)

// AgentArchitectures are the Debian architectures the agent is built for. They are the only
// names the agent paths answer to: a file name is built from this table, never from a request.
var AgentArchitectures = []string{"amd64", "arm64"}

// maxAgentSize bounds an agent binary the region serves (they are about 10 MiB).
const maxAgentSize = 256 << 20

// agentFiles are the agent binaries machines download (maas-run-scripts-linux-<arch> in a
// directory). They are opened and hashed once, when the region starts or reloads them, never
// while a request waits; requests only read what was loaded.
type agentFiles struct {
	dir string
	log func() *slog.Logger
	cur atomic.Pointer[agentSet]
}

// agentSet is one loading of the agent directory.
type agentSet struct {
	builds map[string]*agentBuild // by architecture
	sums   map[string]string
}

// agentBuild is one open agent binary. It is closed once a reload replaced it and the last
// download reading it ended.
type agentBuild struct {
	f       *os.File
	size    int64
	mtime   time.Time
	sum     string
	mu      sync.Mutex
	readers int
	retired bool
}

func newAgentFiles(dir string, log func() *slog.Logger) *agentFiles {
	a := &agentFiles{dir: dir, log: log}
	a.Reload()
	return a
}

// Reload opens and hashes the agent binaries again (after an upgrade); downloads under way
// finish with the files they started with.
func (a *agentFiles) Reload() {
	set := &agentSet{builds: map[string]*agentBuild{}, sums: map[string]string{}}
	for _, arch := range AgentArchitectures {
		b, err := openAgent(a.dir, arch)
		if err != nil {
			a.log().Warn("no agent build for an architecture; machines of it cannot be commissioned", "arch", arch, "err", err)
			continue
		}
		set.builds[arch], set.sums[arch] = b, b.sum
	}
	a.log().Info("agent builds loaded", "dir", a.dir, "architectures", len(set.builds))
	if old := a.cur.Swap(set); old != nil {
		for _, b := range old.builds {
			b.retire()
		}
	}
}

// openAgent opens and hashes the build for arch; it must be a regular file of a sane size.
func openAgent(dir, arch string) (*agentBuild, error) {
	p := filepath.Join(dir, "maas-run-scripts-linux-"+arch)
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("open agent build: %w", err)
	}
	st, err := f.Stat()
	switch {
	case err != nil:
		err = fmt.Errorf("stat agent build %s: %w", p, err)
	case !st.Mode().IsRegular():
		err = fmt.Errorf("agent build %s is not a regular file", p)
	case st.Size() > maxAgentSize:
		err = fmt.Errorf("agent build %s is %d bytes, more than the %d allowed", p, st.Size(), maxAgentSize)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, st.Size())); err != nil {
		f.Close()
		return nil, fmt.Errorf("read agent build %s: %w", p, err)
	}
	return &agentBuild{f: f, size: st.Size(), mtime: st.ModTime(), sum: hex.EncodeToString(h.Sum(nil))}, nil
}

// acquire takes the build for one download; false when it was retired meanwhile.
func (b *agentBuild) acquire() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.retired {
		return false
	}
	b.readers++
	return true
}

func (b *agentBuild) release() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.readers--; b.readers == 0 && b.retired {
		b.f.Close()
	}
}

func (b *agentBuild) retire() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.retired = true
	if b.readers == 0 {
		b.f.Close()
	}
}

// Sums are the SHA-256 of every architecture that has a build.
func (a *agentFiles) Sums() map[string]string {
	return a.cur.Load().sums
}

// build is the loaded build for arch, acquired for reading; nil when there is none.
func (a *agentFiles) build(arch string) *agentBuild {
	for range 2 { // a reload may retire the build between the load and the acquire
		if b := a.cur.Load().builds[arch]; b == nil || b.acquire() {
			return b
		}
	}
	return nil
}

// AgentSums reads the SHA-256 of the agent builds in dir, by architecture; an error says
// that there is none.
func AgentSums(dir string) (map[string]string, error) {
	sums := map[string]string{}
	var errs []error
	for _, arch := range AgentArchitectures {
		b, err := openAgent(dir, arch)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		b.f.Close()
		sums[arch] = b.sum
	}
	if len(sums) == 0 {
		return nil, fmt.Errorf("no agent build (maas-run-scripts-linux-<arch>) in %s: run make build or give --agent-dir: %w", dir, errors.Join(errs...))
	}
	return sums, nil
}

// serveAgent answers /MAAS/maas-run-scripts/<arch> and /MAAS/machine-resources/<arch> with the
// static agent binary (one binary does both), and /MAAS/maas-run-scripts with a small launcher
// that runs the binary of the machine's own architecture. Answers name no filesystem path.
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
	known := strings.Join(AgentArchitectures, ", ")
	if arch == "" {
		writeText(w, http.StatusNotFound, fmt.Sprintf("Name the architecture: /MAAS/%s/<arch> (one of %s).", name, known))
		return
	}
	if !slices.Contains(AgentArchitectures, arch) {
		writeText(w, http.StatusNotFound, fmt.Sprintf("Unknown architecture %q: the agent is built for %s.", arch, known))
		return
	}
	b := s.agent.build(arch)
	if b == nil {
		writeText(w, http.StatusNotFound, fmt.Sprintf("No maas-run-scripts build for architecture %s on this region (run make build, or start the region with --agent-dir).", arch))
		return
	}
	defer b.release()
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("X-Agent-SHA256", b.sum)
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", name))
	http.ServeContent(w, r, name, b.mtime, io.NewSectionReader(b.f, 0, b.size))
}

func (s *Server) serveLauncher(w http.ResponseWriter, r *http.Request) {
	sums := s.agent.Sums()
	if len(sums) == 0 {
		writeText(w, http.StatusNotFound, fmt.Sprintf("No maas-run-scripts build on this region for any architecture (%s): run make build, or start the region with --agent-dir.",
			strings.Join(AgentArchitectures, ", ")))
		return
	}
	body, err := userdata.Launcher(externalBase(r)+"/MAAS", userdata.Agent{Sums: sums, CA: s.machineCA()})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/x-shellscript; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="maas-run-scripts"`)
	w.Write(body)
}
