package cli

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"maasgo/client"
	"maasgo/cmd/maas/internal/apidesc"
	"maasgo/cmd/maas/internal/profile"
	"maasgo/wire"
)

type loginOpts struct {
	cacerts  string
	insecure bool
}

func newLoginCmd(env *Env) *cobra.Command {
	var o loginOpts
	cmd := &cobra.Command{
		Use:   "login PROFILE URL [API_KEY|-]",
		Short: "Log in to a MAAS region and remember its URL, API key and API description",
		Long: `Log in to a MAAS region and remember its URL, API key and API description.

URL is the region's address, e.g. http://10.0.0.2:5240/MAAS ("api/2.0/" is added
unless the URL names an API version). API_KEY is consumer_key:token_key:token_secret;
"-" reads it from the first line of standard input, and without it the key is asked
for (an empty key logs in anonymously). The key is checked with users/?op=whoami,
then the region's API description (describe/) is fetched and stored with the profile.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 2 || len(args) > 3 {
				return usageErrorf("login takes PROFILE URL [API_KEY|-], got %d argument(s)", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			key, given := "", len(args) == 3
			if given {
				key = args[2]
			}
			return login(cmd.Context(), env, args[0], args[1], key, given, o)
		},
	}
	cmd.Flags().StringVar(&o.cacerts, "cacerts", "", "PEM file of the certificate authorities that sign the region's TLS certificate")
	cmd.Flags().BoolVarP(&o.insecure, "insecure", "k", false, "do not check the region's TLS certificate")
	return cmd
}

func login(ctx context.Context, env *Env, name, rawURL, key string, keyGiven bool, o loginOpts) error {
	if err := profile.ValidName(name); err != nil {
		return usageError(err)
	}
	if reserved(name) {
		return usageErrorf("profile name %q is taken by the built-in command", name)
	}
	apiURL, err := client.APIURL(rawURL)
	if err != nil {
		return usageError(err)
	}
	if o.insecure && o.cacerts != "" {
		return usageErrorf("--cacerts and --insecure cannot be used together")
	}
	var caCerts string
	if o.cacerts != "" {
		b, err := os.ReadFile(o.cacerts)
		if err != nil {
			return usageErrorf("--cacerts: %w", err)
		}
		if !x509.NewCertPool().AppendCertsFromPEM(b) {
			return usageErrorf("--cacerts %s: no PEM certificates in it", o.cacerts)
		}
		caCerts = string(b)
	}
	key, err = obtainKey(env, key, keyGiven)
	if err != nil {
		return err
	}
	hc, err := env.httpClient(caCerts, o.insecure)
	if err != nil {
		return err
	}
	p := &profile.Profile{Name: name, URL: apiURL, CACerts: caCerts}
	if key != "" {
		creds, err := wire.ParseCredentials(key)
		if err != nil {
			return usageErrorf("invalid API key: %w", err)
		}
		s := creds.String()
		p.Credentials = &s
		if err := checkKey(ctx, client.New(creds, hc), apiURL); err != nil {
			return err
		}
	}
	desc, err := fetchDescription(ctx, hc, apiURL)
	if err != nil {
		return err
	}
	p.Description = desc
	st, err := env.store()
	if err != nil {
		return err
	}
	if err := st.Save(p); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "\nYou are now logged in to the MAAS server at %s with the profile name '%s'.\n\n"+
		"For help with the available commands, try:\n\n  maas %s --help\n\n", apiURL, name, name)
	return nil
}

// obtainKey returns the API key: the argument, the first line of stdin for "-", or, without
// an argument, what the user types (or the first line of a non-terminal stdin).
func obtainKey(env *Env, key string, given bool) (string, error) {
	switch {
	case given && key != "-":
		return strings.TrimSpace(key), nil
	case !given && env.StdinTTY && env.ReadSecret != nil:
		fmt.Fprint(env.Stderr, "API key (leave empty for anonymous access): ")
		k, err := env.ReadSecret()
		fmt.Fprintln(env.Stderr)
		if err != nil {
			return "", fmt.Errorf("read API key: %w", err)
		}
		return strings.TrimSpace(k), nil
	}
	k, err := readLine(env.Stdin)
	if err != nil {
		return "", fmt.Errorf("read API key from standard input: %w", err)
	}
	return strings.TrimSpace(k), nil
}

// checkKey asks users/?op=whoami with the key: 200 is valid, 401 is rejected, anything else
// is unexpected (upstream's check_valid_apikey).
func checkKey(ctx context.Context, c *client.Client, apiURL string) error {
	u, err := client.Relative(apiURL, "users/")
	if err != nil {
		return err
	}
	req, err := client.NewAPIRequest(http.MethodGet, u, "whoami", nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(ctx, req)
	if err != nil {
		return fmt.Errorf("check the API key: %w", err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	switch resp.StatusCode {
	case http.StatusOK:
		return nil
	case http.StatusUnauthorized:
		return errors.New("the MAAS server rejected your API key")
	}
	return fmt.Errorf("the MAAS server gave an unexpected response to users/?op=whoami: %d %s", resp.StatusCode, reason(resp))
}

// maxDescription bounds the describe/ document (upstream's is about 1 MB).
const maxDescription = 64 << 20

// fetchDescription GETs describe/ unsigned. The answer must be 200 with a Content-Type of
// application/json and parse as a description; it is returned as received.
func fetchDescription(ctx context.Context, hc *http.Client, apiURL string) (json.RawMessage, error) {
	u, err := client.Relative(apiURL, "describe/")
	if err != nil {
		return nil, err
	}
	req, err := client.NewAPIRequest(http.MethodGet, u, "", nil)
	if err != nil {
		return nil, err
	}
	resp, err := (&client.Client{HTTP: hc}).Do(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("fetch the API description: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxDescription+1))
	if err != nil {
		return nil, fmt.Errorf("fetch the API description: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch the API description: %d %s: %s", resp.StatusCode, reason(resp), oneLine(string(b)))
	}
	if len(b) > maxDescription {
		return nil, fmt.Errorf("fetch the API description: larger than %d bytes", maxDescription)
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "application/json" {
		return nil, fmt.Errorf("fetch the API description: expected application/json, got %q", resp.Header.Get("Content-Type"))
	}
	if _, err := apidesc.Parse(b); err != nil {
		return nil, fmt.Errorf("fetch the API description from %s: %w", u, err)
	}
	return json.RawMessage(b), nil
}
