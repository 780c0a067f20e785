// Package cli builds the maas command line: login, logout, list and refresh, and a command
// per profile whose resources and actions come from the region's API description, named
// and laid out as upstream's maas CLI does.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"maasgo/client"
	"maasgo/cmd/maas/internal/profile"
)

// Env is what the commands read from and write to.
type Env struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// StdinTTY and StdoutTTY say whether those are terminals: on a terminal, answers get
	// upstream's "Success." banner and JSON is indented.
	StdinTTY, StdoutTTY bool
	// ReadSecret reads one line from the terminal without echoing it; nil reads a line from
	// Stdin.
	ReadSecret func() (string, error)
	// ProfileDir is where profiles live; "" means profile.DefaultDir().
	ProfileDir string
	// HTTPClient makes the HTTP client for a profile's TLS settings; nil means
	// client.NewHTTPClient.
	HTTPClient func(client.Options) *http.Client
	Version    string
}

// OSEnv is the process's environment: standard streams, terminal detection and the user's
// configuration directory.
func OSEnv(version string) *Env {
	e := &Env{
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
		StdinTTY: isTerminal(os.Stdin), StdoutTTY: isTerminal(os.Stdout),
		Version: version,
	}
	if e.StdinTTY {
		e.ReadSecret = func() (string, error) { return readSecret(os.Stdin) }
	}
	return e
}

func (e *Env) store() (*profile.Store, error) {
	dir := e.ProfileDir
	if dir == "" {
		d, err := profile.DefaultDir()
		if err != nil {
			return nil, err
		}
		dir = d
	}
	return &profile.Store{Dir: dir}, nil
}

// httpClient is the HTTP client that trusts caCerts (PEM; empty: the system's authorities),
// or does not check the region's certificate at all when insecure.
func (e *Env) httpClient(caCerts string, insecure bool) (*http.Client, error) {
	tc, err := client.TLSConfig(caCerts, insecure)
	if err != nil {
		return nil, err
	}
	if e.HTTPClient != nil {
		return e.HTTPClient(client.Options{TLS: tc}), nil
	}
	return client.NewHTTPClient(client.Options{TLS: tc}), nil
}

func (e *Env) warnf(format string, args ...any) {
	fmt.Fprintf(e.Stderr, "maas: warning: "+format+"\n", args...)
}

// Exit statuses. Usage errors and HTTP errors give 2, as upstream's CLI does; other failures
// (network, files) give 1.
const (
	exitFailure = 1
	exitUsage   = 2
	exitHTTP    = 2
)

// exitError carries an exit status. A silent one has already told the user.
type exitError struct {
	code   int
	err    error
	silent bool
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

func usageErrorf(format string, args ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, args...)}
}

func usageError(err error) error { return &exitError{code: exitUsage, err: err} }

// Main runs the command line and returns the exit status.
func Main(ctx context.Context, args []string, env *Env) int {
	if args == nil {
		args = []string{} // cobra reads os.Args when given nil
	}
	root := NewRoot(env)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if !ee.silent {
			fmt.Fprintln(env.Stderr, "maas: "+oneLine(ee.Error()))
		}
		return ee.code
	}
	fmt.Fprintln(env.Stderr, "maas: "+oneLine(err.Error()))
	return exitFailure
}

// oneLine keeps error messages on one line: a region's multi-line answer is joined.
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " ")), " ")
}
