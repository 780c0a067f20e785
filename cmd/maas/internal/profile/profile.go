// Package profile stores the maas CLI's profiles: one JSON file per profile, readable by the
// user alone, holding the region's URL, the API key and the region's API description.
package profile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"maasgo/wire"
)

// Profile is a logged-in region.
type Profile struct {
	Name string `json:"name"`
	// URL is the API's base, normalised to end in /api/<version>/.
	URL string `json:"url"`
	// Credentials is the API key, consumer_key:token_key:token_secret; nil for an anonymous
	// profile.
	Credentials *string `json:"credentials"`
	// CACerts holds PEM certificates that verify the region's TLS certificate.
	CACerts string `json:"cacerts,omitempty"`
	// Description is the region's describe/ document as fetched.
	Description json.RawMessage `json:"description"`
}

// Creds returns the parsed API key and whether there is one.
func (p *Profile) Creds() (wire.Credentials, bool, error) {
	if p.Credentials == nil {
		return wire.Credentials{}, false, nil
	}
	c, err := wire.ParseCredentials(*p.Credentials)
	if err != nil {
		return wire.Credentials{}, false, fmt.Errorf("profile %s: %w", p.Name, err)
	}
	return c, true, nil
}

// ErrNotFound says there is no profile of that name.
var ErrNotFound = errors.New("no such profile")

// ValidName checks a profile name: it becomes a file name and a command name, so it is
// letters, digits and "._@+-", starting with a letter or digit, at most 64 characters.
func ValidName(name string) error {
	if name == "" {
		return errors.New("profile name is empty")
	}
	if len(name) > 64 {
		return fmt.Errorf("profile name %q is longer than 64 characters", name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || !strings.ContainsRune("._@+-", rune(c))) {
			return fmt.Errorf("profile name %q: use letters, digits and ._@+- (starting with a letter or digit)", name)
		}
	}
	return nil
}

// Parse reads and checks a profile file.
func Parse(data []byte) (*Profile, error) {
	var p Profile
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("parse profile: %w", err)
	}
	if dec.More() {
		return nil, errors.New("parse profile: trailing data after the profile")
	}
	if err := ValidName(p.Name); err != nil {
		return nil, fmt.Errorf("parse profile: %w", err)
	}
	if err := checkURL(p.URL); err != nil {
		return nil, fmt.Errorf("parse profile %s: %w", p.Name, err)
	}
	if _, _, err := p.Creds(); err != nil {
		return nil, fmt.Errorf("parse profile: %w", err)
	}
	if len(p.Description) == 0 || string(p.Description) == "null" {
		return nil, fmt.Errorf("parse profile %s: no API description; run maas refresh", p.Name)
	}
	return &p, nil
}

func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("bad URL: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("bad URL %q: want http:// or https:// and a host", s)
	}
	return nil
}

// Store keeps profiles in a directory, one NAME.json file each.
type Store struct {
	Dir string
}

// DefaultDir is "maas/profiles" under the user's configuration directory
// ($XDG_CONFIG_HOME, else ~/.config).
func DefaultDir() (string, error) {
	d, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("find the configuration directory: %w", err)
	}
	return filepath.Join(d, "maas", "profiles"), nil
}

func (s *Store) path(name string) string { return filepath.Join(s.Dir, name+".json") }

// Names lists the stored profiles' names, sorted. A missing directory means none.
func (s *Store) Names() ([]string, error) {
	ents, err := os.ReadDir(s.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list profiles: %w", err)
	}
	var names []string
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || e.IsDir() || ValidName(name) != nil {
			continue
		}
		names = append(names, name)
	}
	sort.Strings(names)
	return names, nil
}

// Load reads one profile; ErrNotFound (wrapped) when there is none of that name.
func (s *Store) Load(name string) (*Profile, error) {
	if err := ValidName(name); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(s.path(name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("profile %s: %w", name, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read profile %s: %w", name, err)
	}
	p, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.path(name), err)
	}
	if p.Name != name {
		return nil, fmt.Errorf("%s: holds profile %q", s.path(name), p.Name)
	}
	return p, nil
}

// Save writes p atomically with mode 0600, creating the directory with mode 0700.
func (s *Store) Save(p *Profile) error {
	if err := ValidName(p.Name); err != nil {
		return err
	}
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return fmt.Errorf("encode profile %s: %w", p.Name, err)
	}
	if _, err := Parse(b); err != nil {
		return err
	}
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return fmt.Errorf("create profile directory: %w", err)
	}
	f, err := os.CreateTemp(s.Dir, "."+p.Name+".*.tmp")
	if err != nil {
		return fmt.Errorf("save profile %s: %w", p.Name, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // a no-op once renamed
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("save profile %s: %w", p.Name, err)
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("save profile %s: %w", p.Name, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("save profile %s: %w", p.Name, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("save profile %s: %w", p.Name, err)
	}
	if err := os.Rename(tmp, s.path(p.Name)); err != nil {
		return fmt.Errorf("save profile %s: %w", p.Name, err)
	}
	return nil
}

// Delete removes a profile; ErrNotFound (wrapped) when there is none of that name.
func (s *Store) Delete(name string) error {
	if err := ValidName(name); err != nil {
		return err
	}
	err := os.Remove(s.path(name))
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("profile %s: %w", name, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("delete profile %s: %w", name, err)
	}
	return nil
}
