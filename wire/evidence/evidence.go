// Package evidence writes and verifies evidence bundles: a tar of a machine's script results
// that can be handed to a customer or a CI dashboard. A bundle holds the outputs, a JUnit XML
// file of the results, and a manifest (the machine, its hardware, every result with its
// status, runtime, exit status, script and revision, and the SHA-256 of every file) that the
// region signs with ed25519. The agent writes the same bundle offline from a run's journal,
// unsigned and marked so. Both sides import this package; it holds no I/O of its own beyond
// the tar it is given.
package evidence

import (
	"archive/tar"
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Format names this bundle layout in the manifest.
const Format = "maasgo-evidence/1"

// Member names inside the bundle's top directory.
const (
	ManifestName  = "manifest.json"
	SignatureName = "manifest.sig"
	JUnitName     = "junit.xml"
	OutputsDir    = "outputs"
)

// Manifest describes a bundle. Files lists every member but the manifest and its signature.
type Manifest struct {
	Format    string    `json:"format"`
	Signed    bool      `json:"signed"`
	Generator string    `json:"generator"`
	Generated time.Time `json:"generated"`
	Machine   Machine   `json:"machine"`
	Results   []Result  `json:"results"`
	Files     []File    `json:"files"`
}

// Machine is the machine the results are of, with a summary of its hardware.
type Machine struct {
	SystemID     string            `json:"system_id,omitempty"`
	Hostname     string            `json:"hostname,omitempty"`
	Architecture string            `json:"architecture,omitempty"`
	Status       string            `json:"status,omitempty"`
	CPUCount     int               `json:"cpu_count"`
	Memory       int64             `json:"memory"` // MiB
	HardwareUUID string            `json:"hardware_uuid,omitempty"`
	HardwareInfo map[string]string `json:"hardware_info,omitempty"`
	Disks        []Disk            `json:"disks,omitempty"`
	Interfaces   []Interface       `json:"interfaces,omitempty"`
}

// Disk is one physical disk.
type Disk struct {
	Name   string `json:"name"`
	Model  string `json:"model,omitempty"`
	Serial string `json:"serial,omitempty"`
	Size   int64  `json:"size"`
}

// Interface is one network interface.
type Interface struct {
	Name           string `json:"name"`
	MACAddress     string `json:"mac_address"`
	LinkConnected  bool   `json:"link_connected"`
	LinkSpeed      int64  `json:"link_speed"`
	InterfaceSpeed int64  `json:"interface_speed"`
}

// Result is one script result.
type Result struct {
	ID         int64      `json:"id,omitempty"`
	Run        string     `json:"run"` // commissioning, testing, installation or release, with the run's id: testing-12
	Name       string     `json:"name"`
	Revision   int64      `json:"script_revision_id,omitempty"`
	Device     string     `json:"device,omitempty"` // the disk or interface the result is about
	Status     string     `json:"status"`
	Failed     bool       `json:"failed"`
	Skipped    bool       `json:"skipped"`
	ExitStatus *int       `json:"exit_status"`
	Runtime    float64    `json:"runtime"` // seconds
	Started    *time.Time `json:"started,omitempty"`
	Ended      *time.Time `json:"ended,omitempty"`
	Suppressed bool       `json:"suppressed"`
	Files      []string   `json:"files"` // its outputs' paths in the bundle
	// Missing names outputs the bundle's maker no longer had (an agent's export of a run
	// whose results it delivered).
	Missing []string `json:"missing,omitempty"`
}

// File is one member of the bundle: its path under the top directory, size and SHA-256.
type File struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Signature is the content of manifest.sig.
type Signature struct {
	Algorithm   string `json:"algorithm"` // ed25519
	PublicKey   string `json:"public_key"`
	Fingerprint string `json:"fingerprint"`
	Signature   string `json:"signature"` // of manifest.json's bytes, base64
}

// Fingerprint names a public key: SHA256: and the base64 of its hash, as ssh-keygen -l does.
func Fingerprint(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return "SHA256:" + base64.RawStdEncoding.EncodeToString(sum[:])
}

// EncodeKey and ParseKey give a public key as text: base64 of its 32 bytes.
func EncodeKey(pub ed25519.PublicKey) string { return base64.StdEncoding.EncodeToString(pub) }

// ParseKey reads a public key written by EncodeKey.
func ParseKey(s string) (ed25519.PublicKey, error) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("public key %q: want the base64 of %d bytes", s, ed25519.PublicKeySize)
	}
	return ed25519.PublicKey(b), nil
}

// SafeName makes s, a name from stored or reported data, one path component that stays
// inside the directory it is extracted to: '/' and '\\', control and format characters and
// invalid UTF-8 become '_'; it is cut to limit bytes; a name of dots only ("", ".", "..")
// gets a '_' in front.
func SafeName(s string, limit int) string {
	var b strings.Builder
	for _, r := range s {
		if r == '/' || r == '\\' || r == utf8.RuneError || unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			r = '_'
		}
		if b.Len()+utf8.RuneLen(r) > limit {
			break
		}
		b.WriteRune(r)
	}
	out := b.String()
	if strings.Trim(out, ".") == "" {
		out = "_" + out[:min(len(out), limit-1)]
	}
	return out
}

// Writer writes a bundle into a tar stream: the outputs first, as they come, then the JUnit
// file, the manifest and its signature.
type Writer struct {
	tw    *tar.Writer
	root  string
	at    time.Time
	files []File
	seen  map[string]bool
}

// NewWriter starts a bundle under the top directory root (a safe name) in w (the caller
// compresses and closes w).
func NewWriter(w io.Writer, root string, at time.Time) *Writer {
	return &Writer{tw: tar.NewWriter(w), root: SafeName(root, 200), at: at, seen: map[string]bool{}}
}

// Root is the bundle's top directory.
func (w *Writer) Root() string { return w.root }

// AddOutput adds one output of a run under outputs/RUN/, named from name (made safe and
// unique), and gives its path in the bundle.
func (w *Writer) AddOutput(run, name string, data []byte) (string, error) {
	dir := OutputsDir + "/" + SafeName(run, 64) + "/"
	p := dir + SafeName(name, 200)
	for n := 2; w.seen[p]; n++ {
		p = dir + SafeName(name, 200) + "~" + strconv.Itoa(n)
	}
	return p, w.add(p, data)
}

func (w *Writer) add(p string, data []byte) error {
	w.seen[p] = true
	hdr := &tar.Header{Name: w.root + "/" + p, Mode: 0o644, Size: int64(len(data)), ModTime: w.at, Typeflag: tar.TypeReg}
	if err := w.tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("bundle: write header of %s: %w", p, err)
	}
	if _, err := w.tw.Write(data); err != nil {
		return fmt.Errorf("bundle: write %s: %w", p, err)
	}
	sum := sha256.Sum256(data)
	w.files = append(w.files, File{Path: p, Size: int64(len(data)), SHA256: hex.EncodeToString(sum[:])})
	return nil
}

// Close writes the JUnit file, the manifest (with the files written) and, with a key, its
// signature; m.Signed is set by whether key is given. It closes the tar, not the writer under it.
func (w *Writer) Close(m *Manifest, key ed25519.PrivateKey) error {
	junit, err := JUnit(m)
	if err != nil {
		return err
	}
	if err := w.add(JUnitName, junit); err != nil {
		return err
	}
	m.Format = Format
	m.Signed = key != nil
	m.Files = w.files
	body, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("bundle: encode the manifest: %w", err)
	}
	body = append(body, '\n')
	if err := w.member(ManifestName, body); err != nil {
		return err
	}
	if key != nil {
		pub := key.Public().(ed25519.PublicKey)
		sig, err := json.MarshalIndent(Signature{Algorithm: "ed25519", PublicKey: EncodeKey(pub), Fingerprint: Fingerprint(pub),
			Signature: base64.StdEncoding.EncodeToString(ed25519.Sign(key, body))}, "", "  ")
		if err != nil {
			return fmt.Errorf("bundle: encode the signature: %w", err)
		}
		if err := w.member(SignatureName, append(sig, '\n')); err != nil {
			return err
		}
	}
	if err := w.tw.Close(); err != nil {
		return fmt.Errorf("bundle: close the tar: %w", err)
	}
	return nil
}

func (w *Writer) member(name string, data []byte) error {
	hdr := &tar.Header{Name: w.root + "/" + name, Mode: 0o644, Size: int64(len(data)), ModTime: w.at, Typeflag: tar.TypeReg}
	if err := w.tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("bundle: write header of %s: %w", name, err)
	}
	if _, err := w.tw.Write(data); err != nil {
		return fmt.Errorf("bundle: write %s: %w", name, err)
	}
	return nil
}

// Bounds on what Verify reads.
const (
	maxManifest  = 64 << 20
	maxSignature = 64 << 10
	maxMembers   = 1 << 20
)

// Verified is what Verify found.
type Verified struct {
	Manifest *Manifest
	// Fingerprint is the key that signed the manifest ("" for an unsigned bundle).
	Fingerprint string
	// Trusted says the signing key is the one the caller trusts (false when none was given,
	// or the bundle is unsigned).
	Trusted bool
}

// Verify reads a bundle's tar and checks it: every file the manifest lists is there with its
// size and SHA-256, no other file is, and the manifest's signature holds. With trusted, the
// signature must be by that key; without, by the key the bundle carries (which proves only
// that the bundle is whole, not who made it). An unsigned bundle verifies only with no
// trusted key, and Verified says so.
func Verify(r io.Reader, trusted ed25519.PublicKey) (*Verified, error) {
	tr := tar.NewReader(r)
	var manifest, sig []byte
	got := map[string]File{}
	root := ""
	for n := 0; ; n++ {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read the bundle: %w", err)
		}
		if n >= maxMembers {
			return nil, fmt.Errorf("the bundle has more than %d members", maxMembers)
		}
		if hdr.Typeflag == tar.TypeDir {
			continue
		}
		if hdr.Typeflag != tar.TypeReg {
			return nil, fmt.Errorf("member %q is not a regular file", hdr.Name)
		}
		top, rel, ok := strings.Cut(hdr.Name, "/")
		if !ok || rel == "" || path.Clean(rel) != rel || strings.HasPrefix(rel, "../") || rel == ".." {
			return nil, fmt.Errorf("member %q is not a file under the bundle's directory", hdr.Name)
		}
		if root == "" {
			root = top
		} else if top != root {
			return nil, fmt.Errorf("member %q is outside the bundle's directory %s", hdr.Name, root)
		}
		switch rel {
		case ManifestName:
			if manifest, err = readAtMost(tr, maxManifest, rel); err != nil {
				return nil, err
			}
			continue
		case SignatureName:
			if sig, err = readAtMost(tr, maxSignature, rel); err != nil {
				return nil, err
			}
			continue
		}
		if _, dup := got[rel]; dup {
			return nil, fmt.Errorf("member %s appears twice", rel)
		}
		h := sha256.New()
		size, err := io.Copy(h, tr)
		if err != nil {
			return nil, fmt.Errorf("read member %s: %w", rel, err)
		}
		got[rel] = File{Path: rel, Size: size, SHA256: hex.EncodeToString(h.Sum(nil))}
	}
	if manifest == nil {
		return nil, fmt.Errorf("the bundle has no %s", ManifestName)
	}
	var m Manifest
	if err := json.Unmarshal(manifest, &m); err != nil {
		return nil, fmt.Errorf("read %s: %w", ManifestName, err)
	}
	if m.Format != Format {
		return nil, fmt.Errorf("%s: format %q, want %q", ManifestName, m.Format, Format)
	}
	v := &Verified{Manifest: &m}
	switch {
	case sig == nil && (m.Signed || trusted != nil):
		return nil, fmt.Errorf("the bundle has no %s: it is not signed", SignatureName)
	case sig != nil:
		var s Signature
		if err := json.Unmarshal(sig, &s); err != nil {
			return nil, fmt.Errorf("read %s: %w", SignatureName, err)
		}
		if s.Algorithm != "ed25519" {
			return nil, fmt.Errorf("%s: algorithm %q, want ed25519", SignatureName, s.Algorithm)
		}
		pub, err := ParseKey(s.PublicKey)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", SignatureName, err)
		}
		if trusted != nil && !bytes.Equal(pub, trusted) {
			return nil, fmt.Errorf("the bundle is signed by %s, not by the trusted key %s", Fingerprint(pub), Fingerprint(trusted))
		}
		raw, err := base64.StdEncoding.DecodeString(s.Signature)
		if err != nil || !ed25519.Verify(pub, manifest, raw) {
			return nil, fmt.Errorf("the signature of %s does not match it: the manifest was changed", ManifestName)
		}
		if !m.Signed {
			return nil, fmt.Errorf("%s says the bundle is unsigned, but it carries a signature", ManifestName)
		}
		v.Fingerprint, v.Trusted = Fingerprint(pub), trusted != nil
	}
	var problems []string
	want := map[string]bool{}
	for _, f := range m.Files {
		want[f.Path] = true
		g, ok := got[f.Path]
		switch {
		case !ok:
			problems = append(problems, f.Path+" is missing")
		case g.Size != f.Size || g.SHA256 != f.SHA256:
			problems = append(problems, fmt.Sprintf("%s was changed (sha256 %s, the manifest says %s)", f.Path, g.SHA256, f.SHA256))
		}
	}
	var extra []string
	for p := range got {
		if !want[p] {
			extra = append(extra, p)
		}
	}
	sort.Strings(extra)
	for _, p := range extra {
		problems = append(problems, p+" is not in the manifest")
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("the bundle does not match its manifest: %s", strings.Join(problems, "; "))
	}
	return v, nil
}

func readAtMost(r io.Reader, limit int64, name string) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", name, limit)
	}
	return b, nil
}
