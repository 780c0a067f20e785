package api

import (
	"strings"

	"maasgo/region/config"
	"maasgo/region/store"
)

func configNames() string { return strings.Join(config.Names(), ", ") }

func getConfig(req *request) (any, error) {
	name := req.params.Get("name")
	if name == "" {
		return nil, fieldError("name", "This field is required.")
	}
	s, err := config.Lookup(name)
	if err != nil {
		return nil, fieldError("name", err.Error()+"; known names: "+configNames())
	}
	if s.Secret && !req.user.IsAdmin {
		return nil, forbidden("You do not have permission to read %s: administrators only.", s.Name)
	}
	var v any
	err = req.s.store.View(req.ctx, func(tx *store.Tx) (err error) {
		v, err = config.Get(tx, name)
		return err
	})
	return v, err
}

func setConfig(req *request) (any, error) {
	name, value := req.params.Get("name"), req.params.Get("value")
	if name == "" {
		return nil, fieldError("name", "This field is required.")
	}
	s, err := config.Lookup(name)
	if err != nil {
		return nil, fieldError("name", err.Error()+"; known names: "+configNames())
	}
	if !req.params.Has("value") {
		return nil, fieldError("value", "This field is required.")
	}
	if _, err := s.Parse(value); err != nil {
		return nil, fieldError("value", err.Error())
	}
	err = req.s.store.Update(req.ctx, func(tx *store.Tx) error { return config.Set(tx, name, value) })
	if err != nil {
		return nil, err
	}
	return textResponse("OK"), nil
}
