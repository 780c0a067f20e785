package main

import (
	"log/slog"
	"net/http"

	"maasgo/region/store"
	"maasgo/region/web"
)

// webUI is the web interface the region serves under /MAAS/r/: users log in with the
// password createadmin or users create gave them.
func webUI(st *store.Store, log *slog.Logger) http.Handler {
	return web.New(st, web.Options{Log: log.With("service", "web")})
}
