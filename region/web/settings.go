package web

import (
	"fmt"
	"net/http"

	"maasgo/region/config"
	"maasgo/region/store"
)

// editable are the settings the settings page offers.
var editable = []string{"maas_name", "node_timeout", "max_node_commissioning_results", "max_node_testing_results",
	"enable_anonymous_enlistment", "enable_disk_erasing_on_release"}

type settingView struct {
	Name, Doc, Value, Problem string
	Bool                      bool
}

func (p *page) loadSettings(tx *store.Tx) ([]settingView, error) {
	var out []settingView
	for _, name := range editable {
		s, err := config.Lookup(name)
		if err != nil {
			return nil, err
		}
		v, err := config.Get(tx, name)
		if err != nil {
			return nil, err
		}
		_, isBool := s.Default.(bool)
		out = append(out, settingView{Name: s.Name, Doc: s.Doc, Value: fmt.Sprint(v), Bool: isBool})
	}
	return out, nil
}

func settingsPage(p *page) error {
	var list []settingView
	err := p.h.st.View(p.ctx, func(tx *store.Tx) (err error) {
		list, err = p.loadSettings(tx)
		return err
	})
	if err != nil {
		return err
	}
	p.render(http.StatusOK, "settings", map[string]any{"Title": "Settings", "Settings": list})
	return nil
}

// saveSettings sets every editable setting from the form in one transaction: all of them, or
// none when one is invalid. An unchecked box sets a boolean false.
func saveSettings(p *page) error {
	problems := map[string]string{}
	err := p.h.st.Update(p.ctx, func(tx *store.Tx) error {
		clear(problems)
		for _, name := range editable {
			s, err := config.Lookup(name)
			if err != nil {
				return err
			}
			v := p.r.PostFormValue(name)
			if _, isBool := s.Default.(bool); isBool {
				v = fmt.Sprint(v == "on" || v == "true")
			} else if _, given := p.r.PostForm[name]; !given {
				continue
			}
			if _, err := s.Parse(v); err != nil {
				problems[name] = err.Error()
				continue
			}
			if err := config.Set(tx, name, v); err != nil {
				return err
			}
		}
		if len(problems) > 0 {
			return errInvalid
		}
		return nil
	})
	if err != nil && err != errInvalid {
		return err
	}
	var list []settingView
	if err := p.h.st.View(p.ctx, func(tx *store.Tx) (err error) {
		list, err = p.loadSettings(tx)
		return err
	}); err != nil {
		return err
	}
	code, notice := http.StatusOK, "Settings saved."
	if len(problems) > 0 {
		code, notice = http.StatusBadRequest, ""
		for i := range list {
			if msg, ok := problems[list[i].Name]; ok {
				list[i].Problem = msg
				list[i].Value = p.r.PostFormValue(list[i].Name)
			}
		}
	}
	p.render(code, "settings", map[string]any{"Title": "Settings", "Settings": list, "Notice": notice})
	return nil
}

// errInvalid rolls back a settings change with invalid values.
var errInvalid = fmt.Errorf("invalid settings")
