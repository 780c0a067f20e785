package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"maasgo/region/lifecycle"
	"maasgo/region/store"
)

func newCreateAdminCmd(o *dbOpts) *cobra.Command {
	var username, email string
	cmd := &cobra.Command{
		Use:   "createadmin --username U [--email E]",
		Short: "Create an administrator and print their API key",
		Args:  cobra.NoArgs,
		RunE: o.storeCmd(func(cmd *cobra.Command, st *store.Store) error {
			key, err := createAdmin(cmd.Context(), st, username, email)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), key)
			return nil
		}),
	}
	cmd.Flags().StringVar(&username, "username", "", "the administrator's username (required)")
	cmd.Flags().StringVar(&email, "email", "", "the administrator's e-mail address")
	cmd.MarkFlagRequired("username")
	return cmd
}

// errUserExists says createadmin was asked for a user that is already there.
var errUserExists = errors.New("user already exists")

// createAdmin adds an administrator with one API key and returns the key.
func createAdmin(ctx context.Context, st *store.Store, username, email string) (string, error) {
	var key string
	username = strings.TrimSpace(username)
	err := st.Update(ctx, func(tx *store.Tx) error {
		if _, err := tx.UserByName(username); err == nil {
			return fmt.Errorf("%w: %q (use `maas-region apikey --username %s` to see its keys)", errUserExists, username, username)
		}
		_, tok, err := lifecycle.CreateUser(tx, username, email, true)
		if fe := (lifecycle.FieldErrors)(nil); errors.As(err, &fe) {
			return fmt.Errorf("invalid username: %s", strings.Join(fe["username"], " "))
		}
		if err != nil {
			return err
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
