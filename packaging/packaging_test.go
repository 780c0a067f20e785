package packaging

import (
	"archive/tar"
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const testVersion = "1.2.3~test4"

// need skips the test when a tool it cannot do without is missing.
func need(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed: building and checking the Debian packages needs it", tool)
		}
	}
}

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// run runs a command and returns its standard output; it fails the test when the command fails.
func run(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\nstdout:\n%s\nstderr:\n%s", name, strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

func writeFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // whatever the umask
		t.Fatal(err)
	}
}

// agentStub is what the test packages as the agent build for arch: the packaging copies it,
// and the region must serve exactly these bytes.
func agentStub(arch string) string {
	return "#!/bin/sh\n# maas-run-scripts stand-in for linux/" + arch + "\n"
}

// buildPackage runs `go tool nfpm pkg --packager deb` on packaging/nfpm-<name>.yaml from the
// repository's root, as hack/dist.sh does, with binDir as MAAS_BIN and stub agent builds as
// MAAS_AGENTS, and returns the one .deb it made.
func buildPackage(t *testing.T, name, binDir string) string {
	t.Helper()
	root := repoRoot(t)
	agents := t.TempDir()
	for _, arch := range []string{"amd64", "arm64"} {
		writeFile(t, filepath.Join(agents, "maas-run-scripts-linux-"+arch), agentStub(arch), 0o755)
	}
	out := t.TempDir()
	run(t, root, []string{"MAAS_VERSION=" + testVersion, "MAAS_ARCH=" + runtime.GOARCH, "MAAS_BIN=" + binDir,
		"MAAS_AGENTS=" + agents, "SOURCE_DATE_EPOCH=1700000000"},
		"go", "tool", "nfpm", "pkg", "--packager", "deb", "--config", "packaging/nfpm-"+name+".yaml", "--target", out+"/")
	debs, err := filepath.Glob(filepath.Join(out, "*.deb"))
	if err != nil || len(debs) != 1 {
		t.Fatalf("nfpm made %v (%v), want one .deb", debs, err)
	}
	want := fmt.Sprintf("%s_%s_%s.deb", name, testVersion, runtime.GOARCH)
	if got := filepath.Base(debs[0]); got != want {
		t.Errorf("package file %s, want %s", got, want)
	}
	return debs[0]
}

// entry is a file of a package's data archive.
type entry struct {
	mode     os.FileMode // permission bits
	dir      bool
	uid, gid int
	content  string // regular files only
}

// contents reads a package's data archive (dpkg-deb --fsys-tarfile): paths without the
// leading "./" and trailing "/".
func contents(t *testing.T, deb string) map[string]entry {
	t.Helper()
	data := run(t, "", nil, "dpkg-deb", "--fsys-tarfile", deb)
	files := map[string]entry{}
	tr := tar.NewReader(strings.NewReader(data))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("read the data archive of %s: %v", deb, err)
		}
		e := entry{mode: os.FileMode(h.Mode).Perm(), dir: h.Typeflag == tar.TypeDir, uid: h.Uid, gid: h.Gid}
		switch h.Typeflag {
		case tar.TypeDir:
		case tar.TypeReg:
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			e.content = string(b)
		default:
			t.Errorf("%s: %s has tar type %q; the packages hold only files and directories", deb, h.Name, h.Typeflag)
		}
		files[strings.TrimSuffix(strings.TrimPrefix(h.Name, "./"), "/")] = e
	}
	return files
}

// checkFiles checks a package holds exactly the regular files want, with their modes, owned
// by root, and the directories dirs with theirs.
func checkFiles(t *testing.T, got map[string]entry, want, dirs map[string]os.FileMode) {
	t.Helper()
	var regular []string
	for path, e := range got {
		if e.uid != 0 || e.gid != 0 {
			t.Errorf("%s is owned by %d:%d, want root", path, e.uid, e.gid)
		}
		if !e.dir {
			regular = append(regular, path)
		}
	}
	slices.Sort(regular)
	var wantRegular []string
	for path := range want {
		wantRegular = append(wantRegular, path)
	}
	slices.Sort(wantRegular)
	if !slices.Equal(regular, wantRegular) {
		t.Errorf("package files\n%s\nwant\n%s", strings.Join(regular, "\n"), strings.Join(wantRegular, "\n"))
	}
	for path, mode := range want {
		if e, ok := got[path]; ok && e.mode != mode {
			t.Errorf("%s has mode %04o, want %04o", path, e.mode, mode)
		}
	}
	for path, mode := range dirs {
		e, ok := got[path]
		switch {
		case !ok || !e.dir:
			t.Errorf("the package has no directory %s", path)
		case e.mode != mode:
			t.Errorf("directory %s has mode %04o, want %04o", path, e.mode, mode)
		}
	}
}

// fields returns the control fields of a package.
func fields(t *testing.T, deb string) map[string]string {
	t.Helper()
	f := map[string]string{}
	for _, line := range strings.Split(run(t, "", nil, "dpkg-deb", "--field", deb), "\n") {
		if k, v, ok := strings.Cut(line, ": "); ok && !strings.HasPrefix(line, " ") {
			f[k] = v
		}
	}
	return f
}

func checkFields(t *testing.T, deb string, want map[string]string) {
	t.Helper()
	got := fields(t, deb)
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: control field %s is %q, want %q", filepath.Base(deb), k, got[k], v)
		}
	}
}

// buildRegion builds the real region binary, as make dist does, into a directory for MAAS_BIN.
func buildRegion(t *testing.T) string {
	t.Helper()
	bin := t.TempDir()
	run(t, repoRoot(t), []string{"CGO_ENABLED=0"}, "go", "build", "-trimpath", "-ldflags", "-s -w -X main.version="+testVersion,
		"-o", filepath.Join(bin, "maas-region"), "./cmd/maas-region")
	return bin
}

func TestRegionPackage(t *testing.T) {
	need(t, "go", "dpkg", "dpkg-deb", "systemd-analyze")
	start := time.Now()
	deb := buildPackage(t, "maas-region", buildRegion(t))
	t.Logf("built %s in %s", filepath.Base(deb), time.Since(start).Round(time.Millisecond))

	checkFields(t, deb, map[string]string{
		"Package": "maas-region", "Version": testVersion, "Architecture": runtime.GOARCH,
		"Depends": "adduser | passwd", "Suggests": "maas-cli, postgresql", "Section": "admin",
	})
	if conffiles, err := exec.Command("dpkg-deb", "--info", deb, "conffiles").CombinedOutput(); err != nil ||
		string(conffiles) != "/etc/maas-region/maas-region.conf\n" {
		t.Errorf("conffiles %q (%v), want only /etc/maas-region/maas-region.conf", conffiles, err)
	}

	files := contents(t, deb)
	checkFiles(t, files, map[string]os.FileMode{
		"usr/bin/maas-region": 0o755,
		"usr/lib/maas-region/agent/maas-run-scripts-linux-amd64": 0o755,
		"usr/lib/maas-region/agent/maas-run-scripts-linux-arm64": 0o755,
		"usr/lib/systemd/system/maas-region.service":             0o644,
		"etc/maas-region/maas-region.conf":                       0o640, // it may hold a database password
		"usr/share/doc/maas-region/README.md":                    0o644,
	}, map[string]os.FileMode{"var/lib/maas-region": 0o750, "etc/maas-region": 0o755})
	for _, arch := range []string{"amd64", "arm64"} {
		if got := files["usr/lib/maas-region/agent/maas-run-scripts-linux-"+arch].content; got != agentStub(arch) {
			t.Errorf("the packaged %s agent is %q, want the build given as MAAS_AGENTS", arch, got)
		}
	}

	// Install it as dpkg does, into a throwaway root: its files land with their modes.
	installed := newDpkgRoot(t)
	installed.dpkg(t, "--install", deb)
	root := installed.dir
	for path, mode := range map[string]os.FileMode{
		"usr/bin/maas-region": 0o755, "usr/lib/maas-region/agent/maas-run-scripts-linux-arm64": 0o755,
		"usr/lib/systemd/system/maas-region.service": 0o644, "etc/maas-region/maas-region.conf": 0o640,
		"var/lib/maas-region": 0o750 | os.ModeDir,
	} {
		if st, err := os.Stat(filepath.Join(root, path)); err != nil || st.Mode()&(os.ModeDir|os.ModePerm) != mode {
			t.Errorf("installed /%s: %v %v, want mode %v", path, st.Mode(), err, mode)
		}
	}
	control := t.TempDir()
	run(t, "", nil, "dpkg-deb", "-e", deb, control)

	t.Run("unit", func(t *testing.T) { checkUnit(t, root) })
	t.Run("maintainer scripts", func(t *testing.T) { checkScripts(t, control) })
	t.Run("serve as the unit does", func(t *testing.T) { serveAsUnit(t, root) })
	t.Run("dpkg install, remove, purge", func(t *testing.T) { checkLifecycle(t, deb) })
}

// checkUnit checks the unit's settings and runs systemd-analyze verify (and security, where
// systemd-analyze can analyse a unit offline) on it inside root, the unpacked package.
func checkUnit(t *testing.T, root string) {
	unitPath := filepath.Join(root, "usr/lib/systemd/system/maas-region.service")
	unit := parseUnit(t, unitPath)
	for key, want := range map[string]string{
		"User": "maas-region", "Group": "maas-region", "DynamicUser": "no", "StateDirectory": "maas-region",
		"ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes", "NoNewPrivileges": "yes",
		"CapabilityBoundingSet": "", "AmbientCapabilities": "", "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
		"SystemCallFilter": "@system-service ~@privileged", "EnvironmentFile": "-/etc/maas-region/maas-region.conf",
		"WantedBy": "multi-user.target",
	} {
		if got := strings.Join(unit[key], " "); got != want {
			t.Errorf("%s=%q, want %q", key, got, want)
		}
	}

	// The unpacked package alone is no system systemd can load units in: give the root the
	// host's units (sysinit.target and the rest the service's start pulls in) and, for
	// ExecReload, a stand-in for procps's /bin/kill.
	for _, dir := range []string{"/usr/lib/systemd/system", "/lib/systemd/system"} {
		copyUnits(t, dir, filepath.Join(root, "usr/lib/systemd/system"))
	}
	if err := os.Symlink("usr/bin", filepath.Join(root, "bin")); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(root, "usr/bin/kill"), "#!/bin/sh\n", 0o755)

	cmd := exec.Command("systemd-analyze", "verify", "--root="+root, "maas-region.service")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, "maas-region") {
			t.Errorf("systemd-analyze verify warns about the unit: %s", line)
		}
	}

	// The exposure score of `systemd-analyze security` guards the hardening (1.2 when written;
	// "OK" is below 4.0).
	out, err = exec.Command("systemd-analyze", "security", "--offline=yes", "--root="+root, "maas-region.service").CombinedOutput()
	if err != nil && bytes.Contains(out, []byte("--offline")) {
		t.Logf("this systemd-analyze cannot analyse a unit offline: %s", bytes.TrimSpace(out))
		return
	}
	m := regexp.MustCompile(`Overall exposure level for maas-region\.service: ([0-9.]+)`).FindSubmatch(out)
	if err != nil || m == nil {
		t.Fatalf("systemd-analyze security: %v\n%s", err, out)
	}
	score, _ := strconv.ParseFloat(string(m[1]), 64)
	t.Logf("systemd-analyze security: exposure %.1f", score)
	if score > 2.0 {
		t.Errorf("systemd-analyze security scores the unit's exposure %.1f, want at most 2.0:\n%s", score, out)
	}
}

// parseUnit reads a unit file into key → values, in order (an empty assignment keeps its
// empty value, as CapabilityBoundingSet= does).
func parseUnit(t *testing.T, path string) map[string][]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	unit := map[string][]string{}
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || line[0] == ';' || line[0] == '[' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("%s: line %q is no assignment", path, line)
		}
		if vals := unit[k]; len(vals) == 1 && vals[0] == "" {
			unit[k] = nil // an empty assignment resets the list
		}
		unit[k] = append(unit[k], v)
	}
	return unit
}

// copyUnits copies the unit files (and symlinks among them) of dir into dst, leaving those
// dst has.
func copyUnits(t *testing.T, dir, dst string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		return // not there on a merged /usr, or at all
	}
	for _, e := range entries {
		target := filepath.Join(dst, e.Name())
		if _, err := os.Lstat(target); err == nil {
			continue
		}
		src := filepath.Join(dir, e.Name())
		switch {
		case e.Type()&os.ModeSymlink != 0:
			link, err := os.Readlink(src)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(link, target); err != nil {
				t.Fatal(err)
			}
		case e.Type().IsRegular():
			b, err := os.ReadFile(src)
			if err != nil {
				continue // unreadable here: not one the service needs
			}
			writeFile(t, target, string(b), 0o644)
		case e.IsDir() && strings.HasSuffix(e.Name(), ".wants"):
			if err := os.Mkdir(target, 0o755); err != nil {
				t.Fatal(err)
			}
			copyUnits(t, src, target)
		}
	}
}

// serveAsUnit starts the packaged region with the unit's ExecStart and Environment and the
// conffile's settings, paths taken inside root, on a free loopback port; checks it serves
// the packaged agent builds, keeps its database in the packaged state directory and stops
// cleanly on SIGTERM.
func serveAsUnit(t *testing.T, root string) {
	unit := parseUnit(t, filepath.Join(root, "usr/lib/systemd/system/maas-region.service"))
	env := map[string]string{}
	for _, kv := range unit["Environment"] {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	conf, err := os.ReadFile(filepath.Join(root, "etc/maas-region/maas-region.conf"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(conf), "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok && !strings.HasPrefix(k, "#") {
			env[k] = strings.Trim(v, `"`)
		}
	}
	if env["MAAS_REGION_ARGS"] == "" {
		t.Fatalf("the conffile sets no MAAS_REGION_ARGS:\n%s", conf)
	}
	// The unit's absolute paths, inside root.
	inRoot := func(s string) string {
		if strings.HasPrefix(s, "/") {
			if _, err := os.Stat(filepath.Join(root, s)); err == nil {
				return filepath.Join(root, s)
			}
		}
		return s
	}
	var argv []string
	for _, arg := range strings.Fields(unit["ExecStart"][0]) {
		if arg == "$MAAS_REGION_ARGS" {
			argv = append(argv, strings.Fields(env["MAAS_REGION_ARGS"])...)
			continue
		}
		argv = append(argv, inRoot(arg))
	}
	// The conffile's --listen :5240 may be taken on this machine: a later --listen wins.
	argv = append(argv, "--listen", "127.0.0.1:0")
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = os.Environ()
	for k, v := range env {
		if k != "MAAS_REGION_ARGS" {
			cmd.Env = append(cmd.Env, k+"="+inRoot(v))
		}
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %v: %v", argv, err)
	}
	t.Logf("started %s", strings.Join(argv, " "))
	lines := make(chan string, 100)
	var logged bytes.Buffer
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	exited := false
	defer func() {
		if !exited {
			cmd.Process.Kill()
			cmd.Wait()
		}
	}()
	var addr string
	agents := ""
	timeout := time.After(30 * time.Second)
	for addr == "" {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("the region exited before serving:\n%s", logged.String())
			}
			logged.WriteString(line + "\n")
			if m := regexp.MustCompile(`msg="agent builds loaded" dir=(\S+) architectures=(\d+)`).FindStringSubmatch(line); m != nil {
				agents = m[2]
				if want := filepath.Join(root, "usr/lib/maas-region/agent"); m[1] != want {
					t.Errorf("the region loads the agent builds from %s, want %s", m[1], want)
				}
			}
			if m := regexp.MustCompile(`msg="region serving" listen=(\S+)`).FindStringSubmatch(line); m != nil {
				addr = m[1]
			}
		case <-timeout:
			t.Fatalf("the region did not serve within 30 s:\n%s", logged.String())
		}
	}
	if agents != "2" {
		t.Errorf("the region loaded %q agent builds, want 2:\n%s", agents, logged.String())
	}
	for _, arch := range []string{"amd64", "arm64"} {
		resp, err := http.Get("http://" + addr + "/MAAS/maas-run-scripts/" + arch)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK || string(body) != agentStub(arch) {
			t.Errorf("GET /MAAS/maas-run-scripts/%s: %s %q (%v), want 200 and the packaged build", arch, resp.Status, body, err)
		}
	}
	resp, err := http.Get("http://" + addr + "/MAAS/api/2.0/version/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /MAAS/api/2.0/version/: %s", resp.Status)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	go func() {
		for line := range lines {
			logged.WriteString(line + "\n")
		}
	}()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		exited = true
		if err != nil {
			t.Errorf("the region exited with %v after SIGTERM", err)
		}
	case <-time.After(40 * time.Second):
		t.Fatal("the region did not stop within 40 s of SIGTERM")
	}
	state, err := os.ReadDir(filepath.Join(root, "var/lib/maas-region"))
	if err != nil || len(state) == 0 {
		t.Errorf("the region left nothing in the packaged state directory /var/lib/maas-region (%v)", err)
	}
}

// stubScript stands in for the commands the maintainer scripts call on the system (getent,
// adduser, chown, deb-systemd-helper, systemctl, …): it records its name and arguments in
// $STUB_LOG; getent exits $GETENT_STATUS and was-enabled $WAS_ENABLED_STATUS (default 0).
const stubScript = `#!/bin/sh
printf '%s\n' "${0##*/} $*" >>"$STUB_LOG"
case "${0##*/} $*" in
getent*) exit "${GETENT_STATUS:-0}" ;;
*was-enabled*) exit "${WAS_ENABLED_STATUS:-0}" ;;
esac
`

// stubCalls returns the calls recorded in log, root replaced by ROOT, and empties it.
func stubCalls(t *testing.T, log, root string) []string {
	t.Helper()
	b, err := os.ReadFile(log)
	if errors.Is(err, os.ErrNotExist) || len(b) == 0 {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(log); err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(strings.ReplaceAll(string(b), root, "ROOT")), "\n")
}

// dpkgRoot is a throwaway root with its own dpkg database; dpkg runs the maintainer scripts
// outside it (--force-script-chrootless, with DPKG_ROOT set) and with every command that
// would change the system stubbed.
type dpkgRoot struct {
	dir, log string
	env      []string
}

func newDpkgRoot(t *testing.T) *dpkgRoot {
	t.Helper()
	r := &dpkgRoot{dir: t.TempDir(), log: filepath.Join(t.TempDir(), "calls")}
	for _, d := range []string{"var/lib/dpkg/info", "var/lib/dpkg/updates"} {
		if err := os.MkdirAll(filepath.Join(r.dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, filepath.Join(r.dir, "var/lib/dpkg/status"), "", 0o644)
	stubs := t.TempDir()
	for _, name := range []string{"getent", "adduser", "useradd", "chown", "deb-systemd-helper", "deb-systemd-invoke", "systemctl"} {
		writeFile(t, filepath.Join(stubs, name), stubScript, 0o755)
	}
	r.env = []string{"PATH=" + stubs + ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "STUB_LOG=" + r.log, "GETENT_STATUS=2"}
	return r
}

// dpkg runs dpkg on the root as any user, without the dependencies (adduser) installed there.
func (r *dpkgRoot) dpkg(t *testing.T, args ...string) string {
	t.Helper()
	return run(t, "", r.env, "dpkg", append([]string{"--root=" + r.dir, "--force-not-root", "--force-script-chrootless",
		"--force-depends", "--log=/dev/null"}, args...)...)
}

// status returns the dpkg database's entry for a package.
func (r *dpkgRoot) status(t *testing.T, pkg string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(r.dir, "var/lib/dpkg/status"))
	if err != nil {
		t.Fatal(err)
	}
	for _, stanza := range strings.Split(string(b), "\n\n") {
		if strings.HasPrefix(stanza, "Package: "+pkg+"\n") {
			return stanza
		}
	}
	return ""
}

// checkLifecycle installs the package with dpkg into a root of its own, then removes it
// (the conffile, as changed, and the state stay) and purges it (they go).
func checkLifecycle(t *testing.T, deb string) {
	r := newDpkgRoot(t)
	const unit = "maas-region.service"
	r.dpkg(t, "--install", deb)
	if st := r.status(t, "maas-region"); !strings.Contains(st, "Status: install ok installed\n") ||
		!regexp.MustCompile(`(?m)^ /etc/maas-region/maas-region\.conf [0-9a-f]{32}$`).MatchString(st) {
		t.Errorf("after dpkg --install the database says\n%s\nwant the package installed and its conffile registered", st)
	}
	if got, want := stubCalls(t, r.log, r.dir), []string{
		"getent passwd maas-region",
		"adduser --system --group --quiet --home /var/lib/maas-region --no-create-home --shell /usr/sbin/nologin --gecos MAAS region maas-region",
		"chown maas-region:maas-region ROOT/var/lib/maas-region",
		"deb-systemd-helper unmask " + unit,
		"deb-systemd-helper --quiet was-enabled " + unit,
		"deb-systemd-helper enable " + unit,
	}; !slices.Equal(got, want) {
		t.Errorf("dpkg --install: the postinst called\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	conf := filepath.Join(r.dir, "etc/maas-region/maas-region.conf")
	db := filepath.Join(r.dir, "var/lib/maas-region/maas.db")
	f, err := os.OpenFile(conf, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(f, `MAAS_REGION_DATABASE="postgres://maas@localhost/maas"`)
	f.Close()
	writeFile(t, db, "", 0o600)

	r.dpkg(t, "--remove", "maas-region")
	if got, want := stubCalls(t, r.log, r.dir), []string{"deb-systemd-helper mask " + unit}; !slices.Equal(got, want) {
		t.Errorf("dpkg --remove: the scripts called %q, want %q", got, want)
	}
	for _, path := range []string{conf, db} {
		if _, err := os.Stat(path); err != nil {
			t.Errorf("dpkg --remove took %s: %v", path, err)
		}
	}
	if _, err := os.Stat(filepath.Join(r.dir, "usr/bin/maas-region")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("dpkg --remove left /usr/bin/maas-region (%v)", err)
	}

	r.dpkg(t, "--purge", "maas-region")
	if got, want := stubCalls(t, r.log, r.dir), []string{"deb-systemd-helper purge " + unit, "deb-systemd-helper unmask " + unit}; !slices.Equal(got, want) {
		t.Errorf("dpkg --purge: the scripts called %q, want %q", got, want)
	}
	for _, path := range []string{conf, filepath.Dir(conf), filepath.Dir(db)} {
		if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("dpkg --purge left %s (%v)", path, err)
		}
	}
	if st := r.status(t, "maas-region"); st != "" && !strings.Contains(st, "Status: purge ok not-installed") {
		t.Errorf("after dpkg --purge the database says\n%s", st)
	}
}

// checkScripts checks the packaged maintainer scripts parse (sh -n), pass shellcheck where it
// is installed, and do what they should, run against stub commands with DPKG_ROOT set.
func checkScripts(t *testing.T, control string) {
	for _, name := range []string{"postinst", "prerm", "postrm"} {
		path := filepath.Join(control, name)
		st, err := os.Stat(path)
		if err != nil {
			t.Errorf("the package has no %s: %v", name, err)
			continue
		}
		if st.Mode().Perm() != 0o755 {
			t.Errorf("%s has mode %04o, want 0755", name, st.Mode().Perm())
		}
		if out, err := exec.Command("sh", "-n", path).CombinedOutput(); err != nil {
			t.Errorf("sh -n %s: %v\n%s", name, err, out)
		}
		if _, err := exec.LookPath("shellcheck"); err == nil {
			if out, err := exec.Command("shellcheck", "--shell=sh", path).CombinedOutput(); err != nil {
				t.Errorf("shellcheck %s: %v\n%s", name, err, out)
			}
		} else {
			t.Logf("shellcheck is not installed: %s only parsed with sh -n", name)
		}
	}

	const unit = "maas-region.service"
	tests := []struct {
		name   string
		script string
		args   []string
		stubs  []string // the stub commands on PATH besides mkdir, chmod and rm
		env    []string
		want   []string // the stub calls, in order; ROOT is DPKG_ROOT
	}{{
		name: "first install", script: "postinst", args: []string{"configure"},
		stubs: []string{"getent", "adduser", "useradd", "chown", "deb-systemd-helper", "deb-systemd-invoke", "systemctl"},
		env:   []string{"GETENT_STATUS=2"},
		want: []string{
			"getent passwd maas-region",
			"adduser --system --group --quiet --home /var/lib/maas-region --no-create-home --shell /usr/sbin/nologin --gecos MAAS region maas-region",
			"chown maas-region:maas-region ROOT/var/lib/maas-region",
			"deb-systemd-helper unmask " + unit,
			"deb-systemd-helper --quiet was-enabled " + unit,
			"deb-systemd-helper enable " + unit,
		},
	}, {
		name: "upgrade, the user there, the unit disabled by the administrator", script: "postinst", args: []string{"configure", "1.2.2"},
		stubs: []string{"getent", "adduser", "useradd", "chown", "deb-systemd-helper", "deb-systemd-invoke", "systemctl"},
		env:   []string{"GETENT_STATUS=0", "WAS_ENABLED_STATUS=1"},
		want: []string{
			"getent passwd maas-region",
			"chown maas-region:maas-region ROOT/var/lib/maas-region",
			"deb-systemd-helper unmask " + unit,
			"deb-systemd-helper --quiet was-enabled " + unit,
			"deb-systemd-helper update-state " + unit,
		},
	}, {
		name: "first install without adduser and deb-systemd-helper", script: "postinst", args: []string{"configure"},
		stubs: []string{"getent", "useradd", "chown", "systemctl"},
		env:   []string{"GETENT_STATUS=2"},
		want: []string{
			"getent passwd maas-region",
			"useradd --system --user-group --home-dir /var/lib/maas-region --no-create-home --shell /usr/sbin/nologin --comment MAAS region maas-region",
			"chown maas-region:maas-region ROOT/var/lib/maas-region",
			"systemctl --quiet enable " + unit,
		},
	}, {
		name: "remove", script: "prerm", args: []string{"remove"},
		stubs: []string{"deb-systemd-helper", "deb-systemd-invoke", "systemctl"},
		want:  nil, // nothing to stop: systemd is not managing DPKG_ROOT
	}, {
		name: "removed", script: "postrm", args: []string{"remove"},
		stubs: []string{"deb-systemd-helper", "deb-systemd-invoke", "systemctl"},
		want:  []string{"deb-systemd-helper mask " + unit},
	}, {
		name: "purge", script: "postrm", args: []string{"purge"},
		stubs: []string{"deb-systemd-helper", "deb-systemd-invoke", "systemctl"},
		want:  []string{"deb-systemd-helper purge " + unit, "deb-systemd-helper unmask " + unit},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root, bin := t.TempDir(), t.TempDir()
			state := filepath.Join(root, "var/lib/maas-region")
			if err := os.MkdirAll(state, 0o755); err != nil {
				t.Fatal(err)
			}
			writeFile(t, filepath.Join(state, "maas.db"), "", 0o600)
			log := filepath.Join(t.TempDir(), "calls")
			for _, name := range tt.stubs {
				writeFile(t, filepath.Join(bin, name), stubScript, 0o755)
			}
			for _, name := range []string{"mkdir", "chmod", "rm"} {
				path, err := exec.LookPath(name)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.Symlink(path, filepath.Join(bin, name)); err != nil {
					t.Fatal(err)
				}
			}
			cmd := exec.Command("/bin/sh", append([]string{filepath.Join(control, tt.script)}, tt.args...)...)
			cmd.Env = append([]string{"PATH=" + bin, "DPKG_ROOT=" + root, "STUB_LOG=" + log}, tt.env...)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("%s %s: %v\n%s", tt.script, strings.Join(tt.args, " "), err, out)
			}
			if got := stubCalls(t, log, root); !slices.Equal(got, tt.want) {
				t.Errorf("%s %s called\n%s\nwant\n%s", tt.script, strings.Join(tt.args, " "), strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			st, err := os.Stat(state)
			switch {
			case tt.args[0] == "purge":
				if !errors.Is(err, os.ErrNotExist) {
					t.Errorf("purge left %s (%v)", state, err)
				}
			case err != nil:
				t.Errorf("%s %s removed the state directory: %v", tt.script, tt.args[0], err)
			case tt.script == "postinst" && st.Mode().Perm() != 0o750:
				t.Errorf("postinst left the state directory mode %04o, want 0750", st.Mode().Perm())
			}
		})
	}
}

// TestAgentAndCLIPackages builds the maas-run-scripts and maas-cli packages from stand-in
// binaries and checks what they hold.
func TestAgentAndCLIPackages(t *testing.T) {
	need(t, "go", "dpkg-deb")
	bin := t.TempDir()
	writeFile(t, filepath.Join(bin, "maas"), "#!/bin/sh\n# maas stand-in\n", 0o755)
	for _, tt := range []struct {
		name, path, content string
	}{
		{"maas-run-scripts", "usr/bin/maas-run-scripts", agentStub(runtime.GOARCH)},
		{"maas-cli", "usr/bin/maas", "#!/bin/sh\n# maas stand-in\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			deb := buildPackage(t, tt.name, bin)
			checkFields(t, deb, map[string]string{"Package": tt.name, "Version": testVersion, "Architecture": runtime.GOARCH})
			files := contents(t, deb)
			checkFiles(t, files, map[string]os.FileMode{tt.path: 0o755}, nil)
			if got := files[tt.path].content; got != tt.content {
				t.Errorf("%s holds %q, want %q", tt.path, got, tt.content)
			}
			if conffiles := run(t, "", nil, "dpkg-deb", "--info", deb); strings.Contains(conffiles, "conffiles") {
				t.Errorf("%s has conffiles:\n%s", tt.name, conffiles)
			}
		})
	}
}

// TestDebVersion checks hack/dist.sh turns git describe outputs into valid Debian versions
// that sort as the commits do.
func TestDebVersion(t *testing.T) {
	need(t, "dpkg")
	script := filepath.Join(repoRoot(t), "hack/dist.sh")
	count := "0" // as hack/dist.sh counts outside a git checkout
	if out, err := exec.Command("git", "-C", repoRoot(t), "rev-list", "--count", "HEAD").Output(); err == nil {
		count = strings.TrimSpace(string(out))
	}
	for in, want := range map[string]string{
		"v1.2.3":                  "1.2.3",
		"1.2.3":                   "1.2.3",
		"v1.2.3-4-gabc1234":       "1.2.3+4.gabc1234",
		"v1.2.3-4-gabc1234-dirty": "1.2.3+4.gabc1234.dirty",
		"v1.2.3-rc1":              "1.2.3~rc1",
		"v1.2.3-rc1-2-gabc1234":   "1.2.3~rc1+2.gabc1234",
		"27bfcc2":                 "0.0~git" + count + ".27bfcc2", // no tag: a hash, even one starting with digits
		"27bfcc2-dirty":           "0.0~git" + count + ".27bfcc2+dirty",
		"dev":                     "0.0~git" + count + ".dev",
	} {
		got := strings.TrimSpace(run(t, "", nil, script, "deb-version", in))
		if got != want {
			t.Errorf("deb-version %s = %s, want %s", in, got, want)
		}
		if out, err := exec.Command("dpkg", "--validate-version", got).CombinedOutput(); err != nil {
			t.Errorf("%s is no valid Debian version: %s", got, out)
		}
	}
	order := []string{"0.0~git66.ffff", "0.0~git67.27bfcc2", "0.0~git67.27bfcc2+dirty", "1.2.3~rc1", "1.2.3~rc1+2.gabc1234",
		"1.2.3", "1.2.3+4.gabc1234", "1.2.3+4.gabc1234.dirty", "1.2.3+5.g0000000", "1.2.4"}
	for i := 1; i < len(order); i++ {
		if err := exec.Command("dpkg", "--compare-versions", order[i-1], "lt", order[i]).Run(); err != nil {
			t.Errorf("dpkg sorts %s after %s", order[i-1], order[i])
		}
	}
}
