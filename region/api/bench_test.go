package api

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"maasgo/region/lifecycle"
	"maasgo/region/store"
	"maasgo/region/store/storetest"
	"maasgo/wire"
)

// BenchmarkListMachines measures GET machines/ with 1,000 deployed machines over loopback HTTP,
// signed requests included, on SQLite (and PostgreSQL when configured).
func BenchmarkListMachines(b *testing.B) {
	for _, e := range storetest.Engines(b) {
		func() {
			st, err := store.Open(context.Background(), e.DSN, e.StateDir)
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			var key wire.Credentials
			err = st.Update(context.Background(), func(tx *store.Tx) error {
				u := &store.User{Username: "admin", IsAdmin: true}
				if err := tx.CreateUser(u); err != nil {
					return err
				}
				tok := store.NewToken(store.TokenUser)
				tok.UserID = &u.ID
				key = wire.Credentials{ConsumerKey: tok.ConsumerKey, TokenKey: tok.TokenKey, TokenSecret: tok.TokenSecret}
				if err := tx.CreateToken(tok); err != nil {
					return err
				}
				for i := 0; i < 1000; i++ {
					_, err := lifecycle.CreateMachine(tx, lifecycle.CreateOptions{Hostname: fmt.Sprintf("m%04d", i), Deployed: true,
						Architecture: "amd64", MACs: []string{fmt.Sprintf("02:00:00:00:%02x:%02x", i>>8, i&0xff)}}, u)
					if err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
			srv := httptest.NewServer(New(st, Options{}))
			defer srv.Close()
			b.Run(e.Name, func(b *testing.B) {
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						req, _ := http.NewRequest("GET", srv.URL+"/MAAS/api/2.0/machines/", nil)
						req.Header.Set("Authorization", key.AuthorizationHeader(time.Now()))
						resp, err := http.DefaultClient.Do(req)
						if err != nil {
							b.Fatal(err)
						}
						n, _ := io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						if resp.StatusCode != 200 {
							b.Fatalf("status %d", resp.StatusCode)
						}
						b.SetBytes(n)
					}
				})
			})
		}()
	}
}
