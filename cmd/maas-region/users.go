package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"maasgo/region/lifecycle"
	"maasgo/region/store"
)

func newCreateAdminCmd(o *dbOpts) *cobra.Command {
	var username, email, password string
	cmd := &cobra.Command{
		Use:   "createadmin --username U [--email E] [--password P]",
		Short: "Create an administrator and print their API key",
		Long: "Create an administrator and print their API key. The password logs in to the web interface; " +
			"without --password it is asked for when standard input is a terminal (an empty answer leaves the user without one).",
		Args: cobra.NoArgs,
		RunE: o.storeCmd(func(cmd *cobra.Command, st *store.Store) error {
			if !cmd.Flags().Changed("password") {
				if f, ok := cmd.InOrStdin().(*os.File); ok && isTerminal(f) {
					var err error
					if password, err = promptPassword(f, cmd.ErrOrStderr()); err != nil {
						return err
					}
				}
			}
			key, err := createAdminWithPassword(cmd.Context(), st, username, email, password)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), key)
			return nil
		}),
	}
	cmd.Flags().StringVar(&username, "username", "", "the administrator's username (required)")
	cmd.Flags().StringVar(&email, "email", "", "the administrator's e-mail address")
	cmd.Flags().StringVar(&password, "password", "", "the administrator's password for the web interface (asked for on a terminal when omitted)")
	cmd.MarkFlagRequired("username")
	return cmd
}

// errUserExists says createadmin was asked for a user that is already there.
var errUserExists = errors.New("user already exists")

// createAdmin adds an administrator with one API key, without a password, and returns the key.
func createAdmin(ctx context.Context, st *store.Store, username, email string) (string, error) {
	return createAdminWithPassword(ctx, st, username, email, "")
}

// createAdminWithPassword adds an administrator with one API key and returns the key; a
// password, when given, lets them log in to the web interface.
func createAdminWithPassword(ctx context.Context, st *store.Store, username, email, password string) (string, error) {
	var key, hash string
	username = strings.TrimSpace(username)
	if password != "" {
		if len(password) < store.MinPasswordLength {
			return "", fmt.Errorf("password: use at least %d characters", store.MinPasswordLength)
		}
		var err error
		if hash, err = store.HashPassword(password); err != nil {
			return "", fmt.Errorf("password: %w", err)
		}
	}
	err := st.Update(ctx, func(tx *store.Tx) error {
		if _, err := tx.UserByName(username); err == nil {
			return fmt.Errorf("%w: %q (use `maas-region apikey --username %s` to see its keys)", errUserExists, username, username)
		}
		u, tok, err := lifecycle.CreateUser(tx, username, email, true)
		if fe := (lifecycle.FieldErrors)(nil); errors.As(err, &fe) {
			return fmt.Errorf("invalid username: %s", strings.Join(fe["username"], " "))
		}
		if err != nil {
			return err
		}
		if hash != "" {
			if err := tx.SetPasswordHash(u.ID, hash); err != nil {
				return err
			}
		}
		key = tok.APIKey()
		return nil
	})
	return key, err
}

func newAPIKeyCmd(o *dbOpts) *cobra.Command {
	var username, del string
	var generate bool
	cmd := &cobra.Command{
		Use:   "apikey --username U [--generate | --delete KEY]",
		Short: "List, create or delete a user's API keys",
		Args:  cobra.NoArgs,
		RunE: o.storeCmd(func(cmd *cobra.Command, st *store.Store) error {
			out := cmd.OutOrStdout()
			return st.Update(cmd.Context(), func(tx *store.Tx) error {
				u, err := tx.UserByName(username)
				if errors.Is(err, store.ErrNotFound) {
					return fmt.Errorf("no user named %q", username)
				}
				if err != nil {
					return err
				}
				switch {
				case del != "":
					key := del
					if parts := strings.Split(del, ":"); len(parts) >= 3 {
						key = parts[1]
					}
					tok, err := tx.TokenByKey(key)
					if err != nil || tok.UserID == nil || *tok.UserID != u.ID {
						return fmt.Errorf("user %s has no API key %q", username, del)
					}
					return tx.DeleteToken(tok.TokenKey)
				case generate:
					tok := store.NewToken(store.TokenUser)
					tok.UserID = &u.ID
					if err := tx.CreateToken(tok); err != nil {
						return err
					}
					fmt.Fprintln(out, tok.APIKey())
					return nil
				}
				toks, err := tx.UserTokens(u.ID)
				for _, t := range toks {
					fmt.Fprintln(out, t.APIKey())
				}
				return err
			})
		}),
	}
	cmd.Flags().StringVar(&username, "username", "", "the user (required)")
	cmd.Flags().BoolVar(&generate, "generate", false, "create a new key and print it")
	cmd.Flags().StringVar(&del, "delete", "", "delete this key (the whole key or its token key)")
	cmd.MarkFlagRequired("username")
	cmd.MarkFlagsMutuallyExclusive("generate", "delete")
	return cmd
}

func newMigrateCmd(o *dbOpts) *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Create or upgrade the database schema and print its version",
		Args:  cobra.NoArgs,
		RunE: o.storeCmd(func(cmd *cobra.Command, st *store.Store) error {
			v, err := st.AppliedVersion(cmd.Context())
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s database at schema version %d\n", st.Engine(), v)
			return nil
		}),
	}
}

// isTerminal reports whether f is a terminal.
func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// promptPassword asks for a password twice on the terminal f, without echo; an empty answer
// means no password.
func promptPassword(f *os.File, out io.Writer) (string, error) {
	fd := int(f.Fd())
	old, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return "", fmt.Errorf("read terminal settings: %w", err)
	}
	quiet := *old
	quiet.Lflag &^= unix.ECHO
	quiet.Lflag |= unix.ICANON | unix.ISIG
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, &quiet); err != nil {
		return "", fmt.Errorf("turn off echo: %w", err)
	}
	defer unix.IoctlSetTermios(fd, unix.TCSETS, old)
	in := bufio.NewReader(io.LimitReader(f, 2*(store.MaxPasswordLength+2)))
	read := func(prompt string) (string, error) {
		fmt.Fprint(out, prompt)
		line, err := in.ReadString('\n')
		fmt.Fprintln(out)
		if err != nil && !(errors.Is(err, io.EOF) && line != "") {
			return "", fmt.Errorf("read password: %w", err)
		}
		return strings.TrimRight(line, "\r\n"), nil
	}
	pw, err := read("Password (empty for none): ")
	if err != nil || pw == "" {
		return "", err
	}
	again, err := read("Password again: ")
	if err != nil {
		return "", err
	}
	if again != pw {
		return "", errors.New("the passwords differ")
	}
	return pw, nil
}
