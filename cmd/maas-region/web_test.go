package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"maasgo/region/store"
	"maasgo/region/store/storetest"
)

// TestCreateAdminPassword: createadmin --password gives the administrator a password the web
// interface checks, besides the API key it prints; a password out of bounds creates nobody.
func TestCreateAdminPassword(t *testing.T) {
	e := storetest.SQLite(t)
	run := func(args ...string) (string, error) {
		cmd := newRootCmd()
		var out bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetErr(&out)
		cmd.SetIn(strings.NewReader("")) // not a terminal: no prompt
		cmd.SetArgs(append(args, "--state-dir", e.StateDir))
		err := cmd.ExecuteContext(context.Background())
		return out.String(), err
	}
	out, err := run("createadmin", "--username", "root", "--password", "s3cret-pass")
	if err != nil || strings.Count(out, ":") != 2 {
		t.Fatalf("createadmin: %v %q; want an API key", err, out)
	}
	if _, err := run("createadmin", "--username", "shorty", "--password", "short"); err == nil || !strings.Contains(err.Error(), "password") {
		t.Errorf("createadmin with a short password: %v", err)
	}
	if out, err := run("createadmin", "--username", "keyonly"); err != nil || strings.Count(out, ":") != 2 {
		t.Errorf("createadmin without a password, stdin not a terminal: %v %q", err, out)
	}
	st, err := store.Open(context.Background(), "", e.StateDir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	st.View(context.Background(), func(tx *store.Tx) error {
		u, err := tx.UserByName("root")
		if err != nil || !u.IsAdmin {
			t.Fatalf("root: %+v, %v", u, err)
		}
		if h, _ := tx.PasswordHash(u.ID); !store.CheckPassword(h, "s3cret-pass") {
			t.Error("root's password does not check")
		}
		if _, err := tx.UserByName("shorty"); err == nil {
			t.Error("a user was created despite a short password")
		}
		k, _ := tx.UserByName("keyonly")
		if h, _ := tx.PasswordHash(k.ID); h != "" {
			t.Errorf("keyonly has password hash %q", h)
		}
		return nil
	})
}

// TestPromptPassword answers createadmin's prompt on a real terminal (a pseudo-terminal):
// the password is read twice without echo; answers that differ are refused.
func TestPromptPassword(t *testing.T) {
	for _, tc := range []struct {
		typed, want string
		fails       bool
	}{
		{typed: "s3cret-pass\ns3cret-pass\n", want: "s3cret-pass"},
		{typed: "\n", want: ""},
		{typed: "one-password\nanother-one\n", fails: true},
	} {
		master, slave := openPTY(t)
		if !isTerminal(slave) {
			t.Fatal("a pseudo-terminal is not a terminal")
		}
		go master.Write([]byte(tc.typed))
		var prompts bytes.Buffer
		got, err := promptPassword(slave, &prompts)
		if tc.fails != (err != nil) || got != tc.want {
			t.Errorf("typed %q: %q, %v; want %q (error %v)", tc.typed, got, err, tc.want, tc.fails)
		}
		if !strings.Contains(prompts.String(), "Password") {
			t.Errorf("prompts %q", prompts.String())
		}
		// Echo is back on afterwards.
		tio, err := unix.IoctlGetTermios(int(slave.Fd()), unix.TCGETS)
		if err != nil || tio.Lflag&unix.ECHO == 0 {
			t.Errorf("echo left off after the prompt (%v)", err)
		}
		master.Close()
		slave.Close()
	}
	if f, err := os.Open(os.DevNull); err == nil {
		if isTerminal(f) {
			t.Error("/dev/null is taken for a terminal")
		}
		f.Close()
	}
}

// openPTY opens a pseudo-terminal pair.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	return m, s
}
