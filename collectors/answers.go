package collectors

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// Recorded answers of the seams live below answersDir in a snapshot:
// answers/host.json, answers/netlink.json and answers/ethtool/<ifname>.json.
const answersDir = "answers"

// ErrNoAnswer is returned by replayed seams for a question that was not recorded. It wraps
// EOPNOTSUPP so that collectors treat it like a driver that does not answer.
var ErrNoAnswer = fmt.Errorf("no recorded answer: %w", unix.EOPNOTSUPP)

type hostAnswers struct {
	Uname *Uname `json:"uname,omitempty"`
	Error string `json:"error,omitempty"`
}

type netlinkAnswers struct {
	Links      []Link `json:"links"`
	LinksError string `json:"links_error,omitempty"`
	Addrs      []Addr `json:"addrs"`
	AddrsError string `json:"addrs_error,omitempty"`
}

type ethtoolAnswers struct {
	DriverInfo        *DriverInfo   `json:"driver_info,omitempty"`
	DriverInfoError   string        `json:"driver_info_error,omitempty"`
	PermAddr          *string       `json:"perm_addr,omitempty"`
	PermAddrError     string        `json:"perm_addr_error,omitempty"`
	LinkDetected      *bool         `json:"link_detected,omitempty"`
	LinkDetectedError string        `json:"link_detected_error,omitempty"`
	LinkSettings      *LinkSettings `json:"link_settings,omitempty"`
	LinkSettingsError string        `json:"link_settings_error,omitempty"`
}

// encodeErr turns an error into its recorded form: the errno name when there is one.
func encodeErr(err error) string {
	if err == nil {
		return ""
	}
	var errno unix.Errno
	if errors.As(err, &errno) {
		if name := unix.ErrnoName(errno); name != "" {
			return name
		}
	}
	return err.Error()
}

// decodeErr turns a recorded error back into an error (a unix.Errno when it names one).
func decodeErr(s string) error {
	if s == "" {
		return nil
	}
	if e := errnoByName(s); e != 0 {
		return e
	}
	return errors.New(s)
}

var errnoNames = sync.OnceValue(func() map[string]unix.Errno {
	m := map[string]unix.Errno{}
	for e := unix.Errno(1); e < 256; e++ {
		if n := unix.ErrnoName(e); n != "" {
			if _, dup := m[n]; !dup {
				m[n] = e
			}
		}
	}
	return m
})

func errnoByName(name string) unix.Errno { return errnoNames()[name] }

func validIfname(name string) bool {
	return name != "" && len(name) < unix.IFNAMSIZ && !strings.ContainsAny(name, "/\x00") &&
		name != "." && name != ".."
}

// ReplaySeams returns seams that answer from the recordings below dir/answers.
func ReplaySeams(dir string) Seams {
	r := &replay{dir: filepath.Join(dir, answersDir)}
	return Seams{Netlink: r, Ethtool: r, Host: r}
}

type replay struct{ dir string }

func (r *replay) load(name string, v any) error {
	data, err := os.ReadFile(filepath.Join(r.dir, name))
	if errors.Is(err, os.ErrNotExist) {
		return ErrNoAnswer
	}
	if err != nil {
		return fmt.Errorf("read recorded answer %s: %w", name, err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("decode recorded answer %s: %w", name, err)
	}
	return nil
}

func (r *replay) Uname() (Uname, error) {
	var a hostAnswers
	if err := r.load("host.json", &a); err != nil {
		return Uname{}, err
	}
	if a.Uname == nil {
		return Uname{}, errOr(decodeErr(a.Error))
	}
	return *a.Uname, nil
}

func (r *replay) netlink() (netlinkAnswers, error) {
	var a netlinkAnswers
	err := r.load("netlink.json", &a)
	return a, err
}

func (r *replay) Links() ([]Link, error) {
	a, err := r.netlink()
	if err != nil {
		return nil, err
	}
	return a.Links, decodeErr(a.LinksError)
}

func (r *replay) Addrs() ([]Addr, error) {
	a, err := r.netlink()
	if err != nil {
		return nil, err
	}
	return a.Addrs, decodeErr(a.AddrsError)
}

func (r *replay) ethtool(ifname string) (ethtoolAnswers, error) {
	var a ethtoolAnswers
	if !validIfname(ifname) {
		return a, fmt.Errorf("invalid interface name %q: %w", ifname, unix.EINVAL)
	}
	err := r.load(filepath.Join("ethtool", ifname+".json"), &a)
	return a, err
}

func errOr(err error) error {
	if err == nil {
		return ErrNoAnswer
	}
	return err
}

func (r *replay) DriverInfo(ifname string) (DriverInfo, error) {
	a, err := r.ethtool(ifname)
	if err != nil {
		return DriverInfo{}, err
	}
	if a.DriverInfo == nil {
		return DriverInfo{}, errOr(decodeErr(a.DriverInfoError))
	}
	return *a.DriverInfo, nil
}

func (r *replay) PermAddr(ifname string) (string, error) {
	a, err := r.ethtool(ifname)
	if err != nil {
		return "", err
	}
	if a.PermAddr == nil {
		return "", errOr(decodeErr(a.PermAddrError))
	}
	return *a.PermAddr, nil
}

func (r *replay) LinkDetected(ifname string) (bool, error) {
	a, err := r.ethtool(ifname)
	if err != nil {
		return false, err
	}
	if a.LinkDetected == nil {
		return false, errOr(decodeErr(a.LinkDetectedError))
	}
	return *a.LinkDetected, nil
}

func (r *replay) LinkSettings(ifname string) (LinkSettings, error) {
	a, err := r.ethtool(ifname)
	if err != nil {
		return LinkSettings{}, err
	}
	if a.LinkSettings == nil {
		return LinkSettings{}, errOr(decodeErr(a.LinkSettingsError))
	}
	return *a.LinkSettings, nil
}

// RecordingSeams wraps s so that every answer is also stored in rec.
func RecordingSeams(s Seams, rec *Recorder) Seams {
	w := &recording{inner: s, rec: rec, ethtool: map[string]*ethtoolAnswers{}}
	return Seams{Netlink: w, Ethtool: w, Host: w}
}

type recording struct {
	inner   Seams
	rec     *Recorder
	mu      sync.Mutex
	host    hostAnswers
	netlink netlinkAnswers
	ethtool map[string]*ethtoolAnswers
}

func (w *recording) save(name string, v any) {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return
	}
	w.rec.file("/"+answersDir+"/"+name, append(data, '\n'))
}

func (w *recording) Uname() (Uname, error) {
	u, err := w.inner.Host.Uname()
	w.mu.Lock()
	defer w.mu.Unlock()
	if err != nil {
		w.host = hostAnswers{Error: encodeErr(err)}
	} else {
		w.host = hostAnswers{Uname: &u}
	}
	w.save("host.json", w.host)
	return u, err
}

func (w *recording) Links() ([]Link, error) {
	l, err := w.inner.Netlink.Links()
	w.mu.Lock()
	defer w.mu.Unlock()
	w.netlink.Links, w.netlink.LinksError = l, encodeErr(err)
	w.save("netlink.json", w.netlink)
	return l, err
}

func (w *recording) Addrs() ([]Addr, error) {
	a, err := w.inner.Netlink.Addrs()
	w.mu.Lock()
	defer w.mu.Unlock()
	w.netlink.Addrs, w.netlink.AddrsError = a, encodeErr(err)
	w.save("netlink.json", w.netlink)
	return a, err
}

func (w *recording) eth(ifname string, set func(*ethtoolAnswers)) {
	if !validIfname(ifname) {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	a := w.ethtool[ifname]
	if a == nil {
		a = &ethtoolAnswers{}
		w.ethtool[ifname] = a
	}
	set(a)
	w.save("ethtool/"+ifname+".json", a)
}

func (w *recording) DriverInfo(ifname string) (DriverInfo, error) {
	d, err := w.inner.Ethtool.DriverInfo(ifname)
	w.eth(ifname, func(a *ethtoolAnswers) {
		if err != nil {
			a.DriverInfo, a.DriverInfoError = nil, encodeErr(err)
		} else {
			a.DriverInfo, a.DriverInfoError = &d, ""
		}
	})
	return d, err
}

func (w *recording) PermAddr(ifname string) (string, error) {
	p, err := w.inner.Ethtool.PermAddr(ifname)
	w.eth(ifname, func(a *ethtoolAnswers) {
		if err != nil {
			a.PermAddr, a.PermAddrError = nil, encodeErr(err)
		} else {
			a.PermAddr, a.PermAddrError = &p, ""
		}
	})
	return p, err
}

func (w *recording) LinkDetected(ifname string) (bool, error) {
	v, err := w.inner.Ethtool.LinkDetected(ifname)
	w.eth(ifname, func(a *ethtoolAnswers) {
		if err != nil {
			a.LinkDetected, a.LinkDetectedError = nil, encodeErr(err)
		} else {
			a.LinkDetected, a.LinkDetectedError = &v, ""
		}
	})
	return v, err
}

func (w *recording) LinkSettings(ifname string) (LinkSettings, error) {
	s, err := w.inner.Ethtool.LinkSettings(ifname)
	w.eth(ifname, func(a *ethtoolAnswers) {
		if err != nil {
			a.LinkSettings, a.LinkSettingsError = nil, encodeErr(err)
		} else {
			a.LinkSettings, a.LinkSettingsError = &s, ""
		}
	})
	return s, err
}
