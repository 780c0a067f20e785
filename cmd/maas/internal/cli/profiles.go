package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"maasgo/cmd/maas/internal/profile"
)

func newLogoutCmd(env *Env) *cobra.Command {
	return &cobra.Command{
		Use:               "logout PROFILE",
		Short:             "Forget a profile and its API key",
		ValidArgsFunction: completeProfiles(env),
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageErrorf("logout takes PROFILE, got %d argument(s)", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := env.store()
			if err != nil {
				return err
			}
			if err := st.Delete(args[0]); errors.Is(err, profile.ErrNotFound) {
				return usageErrorf("no profile named %q", args[0])
			} else if err != nil {
				return err
			}
			return nil
		},
	}
}

func newListCmd(env *Env) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the profiles: name, URL and API key",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 0 {
				return usageErrorf("list takes no arguments")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := env.store()
			if err != nil {
				return err
			}
			names, err := st.Names()
			if err != nil {
				return err
			}
			for _, n := range names {
				p, err := st.Load(n)
				if err != nil {
					env.warnf("%v", err)
					continue
				}
				if p.Credentials == nil {
					fmt.Fprintln(env.Stdout, p.Name, p.URL)
				} else {
					fmt.Fprintln(env.Stdout, p.Name, p.URL, *p.Credentials)
				}
			}
			return nil
		},
	}
}

func newRefreshCmd(env *Env) *cobra.Command {
	var insecure bool
	cmd := &cobra.Command{
		Use:               "refresh [PROFILE ...]",
		Short:             "Fetch the API description of every profile (or the named ones) again",
		Long:              "Fetch the API description of every profile (or the named ones) again, e.g. after the region is upgraded.",
		ValidArgsFunction: completeProfiles(env),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := env.store()
			if err != nil {
				return err
			}
			names := args
			if len(names) == 0 {
				if names, err = st.Names(); err != nil {
					return err
				}
			}
			var failed int
			for _, n := range names {
				if err := refresh(cmd, env, st, n, insecure); err != nil {
					if errors.Is(err, profile.ErrNotFound) {
						return usageErrorf("no profile named %q", n)
					}
					fmt.Fprintf(env.Stderr, "maas: refresh %s: %s\n", n, oneLine(err.Error()))
					failed++
				}
			}
			if failed > 0 {
				return &exitError{code: exitFailure, silent: true}
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&insecure, "insecure", "k", false, "do not check the region's TLS certificate")
	return cmd
}

func refresh(cmd *cobra.Command, env *Env, st *profile.Store, name string, insecure bool) error {
	p, err := st.Load(name)
	if err != nil {
		return err
	}
	hc, err := env.httpClient(p.CACerts, insecure)
	if err != nil {
		return err
	}
	desc, err := fetchDescription(cmd.Context(), hc, p.URL)
	if err != nil {
		return err
	}
	p.Description = desc
	return st.Save(p)
}
