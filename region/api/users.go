package api

import (
	"errors"
	"fmt"
	"strings"

	"maasgo/region/lifecycle"
	"maasgo/region/store"
)

// APIVersion is the upstream release whose API the region speaks.
const APIVersion = "3.7.3"

func readVersion(req *request) (any, error) {
	v := APIVersion
	sub := req.s.opts.Version
	return map[string]any{
		"capabilities": []string{"networks-management", "static-ipaddresses", "ipv6-deployment-ubuntu",
			"devices-management", "storage-deployment-ubuntu", "network-deployment-ubuntu"},
		"version":    v,
		"subversion": sub,
	}, nil
}

func userJSON(u *store.User) map[string]any {
	return map[string]any{"username": u.Username, "email": u.Email, "is_superuser": u.IsAdmin,
		"is_local": true, "resource_uri": fmt.Sprintf("%s/users/%s/", apiRoot, u.Username)}
}

func whoami(req *request) (any, error) { return userJSON(req.user), nil }

func readUsers(req *request) (any, error) {
	var out []map[string]any
	err := req.s.store.View(req.ctx, func(tx *store.Tx) error {
		users, err := tx.Users()
		for i := range users {
			out = append(out, userJSON(&users[i]))
		}
		return err
	})
	if out == nil {
		out = []map[string]any{}
	}
	return out, err
}

func readUser(req *request) (any, error) {
	var u *store.User
	err := req.s.store.View(req.ctx, func(tx *store.Tx) (err error) {
		u, err = tx.UserByName(req.path["username"])
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, notFoundf("No user named %q.", req.path["username"])
	}
	if err != nil {
		return nil, err
	}
	return userJSON(u), nil
}

func createUser(req *request) (any, error) {
	p := req.params
	admin, err := p.Bool("is_superuser", false)
	if err != nil {
		return nil, err
	}
	// The hash is slow by design: made once, before the transaction (which may run twice).
	var hash string
	if pw := p.Get("password"); pw != "" {
		if hash, err = store.HashPassword(pw); err != nil {
			return nil, fieldError("password", fmt.Sprintf("Use at most %d characters.", store.MaxPasswordLength))
		}
	}
	var u *store.User
	err = req.s.store.Update(req.ctx, func(tx *store.Tx) (err error) {
		u, _, err = lifecycle.CreateUser(tx, strings.TrimSpace(p.Get("username")), strings.TrimSpace(p.Get("email")), admin)
		if err != nil || hash == "" {
			return err
		}
		return tx.SetPasswordHash(u.ID, hash)
	})
	if err != nil {
		return nil, err
	}
	return userJSON(u), nil
}

func deleteUser(req *request) (any, error) {
	name := req.path["username"]
	if name == req.user.Username {
		return nil, badRequest("You cannot delete yourself.")
	}
	err := req.s.store.Update(req.ctx, func(tx *store.Tx) error {
		u, err := tx.UserByName(name)
		if err != nil {
			return err
		}
		return tx.DeleteUser(u.ID)
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, notFoundf("No user named %q.", name)
	}
	if err != nil {
		return nil, err
	}
	return noContent{}, nil
}

func keyJSON(t *store.Token) map[string]any {
	return map[string]any{"token_key": t.TokenKey, "token_secret": t.TokenSecret, "consumer_key": t.ConsumerKey, "name": t.Name}
}

func createKey(req *request) (any, error) {
	tok := store.NewToken(store.TokenUser)
	tok.UserID = &req.user.ID
	tok.Name = strings.TrimSpace(req.params.Get("name"))
	if tok.Name == "" {
		tok.Name = store.DefaultKeyName
	}
	if len(tok.Name) > 255 {
		return nil, fieldError("name", "Ensure this value has at most 255 characters.")
	}
	if err := req.s.store.Update(req.ctx, func(tx *store.Tx) error { return tx.CreateToken(tok) }); err != nil {
		return nil, err
	}
	return keyJSON(tok), nil
}

func listKeys(req *request) (any, error) {
	var toks []store.Token
	err := req.s.store.View(req.ctx, func(tx *store.Tx) (err error) {
		toks, err = tx.UserTokens(req.user.ID)
		return err
	})
	out := []map[string]any{}
	for i := range toks {
		out = append(out, map[string]any{"name": toks[i].Name, "token": toks[i].APIKey()})
	}
	return out, err
}

func deleteKey(req *request) (any, error) {
	key := strings.TrimSpace(req.params.Get("token_key"))
	if key == "" {
		return nil, fieldError("token_key", "This field is required.")
	}
	err := req.s.store.Update(req.ctx, func(tx *store.Tx) error {
		tok, err := tx.TokenByKey(key)
		if err != nil {
			return err
		}
		if tok.Kind != store.TokenUser || tok.UserID == nil || *tok.UserID != req.user.ID {
			return store.ErrNotFound
		}
		return tx.DeleteToken(key)
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, notFoundf("No API key with token key %q belongs to you.", key)
	}
	if err != nil {
		return nil, err
	}
	return noContent{}, nil
}
