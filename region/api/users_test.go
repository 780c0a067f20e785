package api

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"maasgo/region/store"
)

// TestCreateUserPassword: users create with password= stores a hash the web interface checks;
// a password out of bounds is a field error and creates nobody.
func TestCreateUserPassword(t *testing.T) {
	w := newAccessWorld(t)
	post := func(form url.Values) (int, string) {
		req, _ := http.NewRequest("POST", w.srv.URL+"/MAAS/api/2.0/users/", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Authorization", w.keys[asAdmin].AuthorizationHeader(time.Now()))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := post(url.Values{"username": {"carol"}, "email": {"c@example.com"}, "password": {"s3cret-pass"}, "is_superuser": {"true"}}); code != 200 || !strings.Contains(body, `"is_superuser":true`) {
		t.Fatalf("create with a password: %d %s", code, body)
	}
	if code, body := post(url.Values{"username": {"dave"}, "password": {strings.Repeat("x", store.MaxPasswordLength+1)}}); code != 400 || !strings.Contains(body, `"password"`) {
		t.Errorf("create with too long a password: %d %s; want 400 naming password", code, body)
	}
	// Any shorter password is taken, as upstream's API takes it.
	if code, body := post(url.Values{"username": {"frank"}, "password": {"x"}}); code != 200 {
		t.Errorf("create with a one-letter password: %d %s", code, body)
	}
	if code, body := post(url.Values{"username": {"erin"}}); code != 200 {
		t.Errorf("create without a password: %d %s", code, body)
	}
	w.st.View(context.Background(), func(tx *store.Tx) error {
		u, err := tx.UserByName("carol")
		if err != nil {
			t.Fatal(err)
		}
		h, err := tx.PasswordHash(u.ID)
		if err != nil || !store.CheckPassword(h, "s3cret-pass") || store.CheckPassword(h, "wrong-pass") {
			t.Errorf("carol's password hash %q (%v) does not check her password alone", h, err)
		}
		if _, err := tx.UserByName("dave"); err == nil {
			t.Error("a user was created despite a bad password")
		}
		if f, _ := tx.UserByName("frank"); f == nil {
			t.Error("frank was not created")
		}
		e, _ := tx.UserByName("erin")
		if h, _ := tx.PasswordHash(e.ID); h != "" {
			t.Errorf("a user created without a password has hash %q", h)
		}
		return nil
	})
}
