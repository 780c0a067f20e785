package cli

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/spf13/cobra"

	"maasgo/client"
	"maasgo/cmd/maas/internal/apidesc"
	"maasgo/cmd/maas/internal/profile"
)

// addProfileCmds adds a command per stored profile. A profile that cannot be read still gets
// a command, which reports the problem when used.
func addProfileCmds(root *cobra.Command, env *Env) {
	st, err := env.store()
	if err != nil {
		return
	}
	names, err := st.Names()
	if err != nil {
		return
	}
	for _, name := range names {
		if reserved(name) {
			continue
		}
		p, err := st.Load(name)
		if err == nil {
			var cmd *cobra.Command
			if cmd, err = newProfileCmd(env, p); err == nil {
				root.AddCommand(cmd)
				continue
			}
		}
		broken := err
		root.AddCommand(&cobra.Command{
			Use:                name,
			Short:              "Unusable profile: " + oneLine(broken.Error()),
			DisableFlagParsing: true,
			RunE: func(*cobra.Command, []string) error {
				return fmt.Errorf("profile %s is unusable (log in again): %w", name, broken)
			},
		})
	}
}

func newProfileCmd(env *Env, p *profile.Profile) (*cobra.Command, error) {
	desc, err := apidesc.Parse(p.Description)
	if err != nil {
		return nil, err
	}
	_, hasKey, err := p.Creds()
	if err != nil {
		return nil, err
	}
	cmd := &cobra.Command{
		Use:   p.Name + " RESOURCE ACTION [ARGS] [key=value ...]",
		Short: "Interact with " + p.URL,
		Long: "Issue commands to the MAAS region at " + p.URL + ".\n\n" +
			"The resources and actions below come from the region's API description, saved\n" +
			"at login; if the region's API changed, fetch it again with \"maas refresh\".",
	}
	setContainer(cmd, env, "resource")
	for _, c := range apidesc.Commands(desc, !hasKey) {
		cmd.AddCommand(newResourceCmd(env, p, c))
	}
	return cmd, nil
}

// setContainer makes cmd (a profile or a resource) insist on a known sub-command: cobra
// would otherwise print help and succeed for a missing or misspelt one.
func setContainer(cmd *cobra.Command, env *Env, what string) {
	cmd.SuggestionsMinimumDistance = 2
	cmd.Args = func(c *cobra.Command, args []string) error {
		if len(args) == 0 {
			return nil
		}
		msg := fmt.Sprintf("unknown %s %q for %q", what, args[0], c.CommandPath())
		if s := c.SuggestionsFor(args[0]); len(s) > 0 {
			msg += " (did you mean " + strings.Join(s, " or ") + "?)"
		}
		return usageErrorf("%s; see %s --help", msg, c.CommandPath())
	}
	cmd.RunE = func(c *cobra.Command, args []string) error {
		fmt.Fprint(env.Stderr, c.UsageString())
		return usageErrorf("%s: missing %s", c.CommandPath(), what)
	}
}

func newResourceCmd(env *Env, p *profile.Profile, c apidesc.Command) *cobra.Command {
	title, body := apidesc.SplitDoc(c.Doc)
	long := title
	if body != "" {
		long += "\n\n" + body
	}
	cmd := &cobra.Command{Use: c.Name + " ACTION [ARGS] [key=value ...]", Short: title, Long: long}
	setContainer(cmd, env, "action")
	for _, a := range c.Actions {
		cmd.AddCommand(newActionCmd(env, p, c, a))
	}
	return cmd
}

// actionCmd runs one API action.
type actionCmd struct {
	env      *Env
	prof     *profile.Profile
	res      apidesc.Command
	act      apidesc.CommandAction
	debug    bool
	insecure bool
}

func upperParams(params []string) []string {
	out := make([]string, len(params))
	for i, p := range params {
		out[i] = strings.ToUpper(p)
	}
	return out
}

const keywordHelp = `This action accepts keyword arguments, after the positional ones: key=value,
or key@=FILE to send a file's content (script=FILE also reads FILE when it names
a readable file). A key may be repeated.`

func newActionCmd(env *Env, p *profile.Profile, res apidesc.Command, act apidesc.CommandAction) *cobra.Command {
	a := &actionCmd{env: env, prof: p, res: res, act: act}
	use := strings.Join(append([]string{act.Name}, upperParams(res.Params)...), " ")
	if act.TakesData {
		use += " [key=value ...]"
	}
	title, body := apidesc.SplitDoc(act.Doc)
	long := title
	if len(res.Params) > 0 {
		long += "\n\nPositional arguments:\n\t" + strings.Join(upperParams(res.Params), "\n\t")
	}
	if act.TakesData {
		long += "\n\n" + keywordHelp
	}
	if body = strings.TrimRight(body, " \n"); body != "" {
		long += "\n\n" + body
	}
	long += fmt.Sprintf("\n\nHTTP: %s %s", act.Method, res.Path)
	if act.Op != "" {
		long += "?op=" + act.Op
	}
	cmd := &cobra.Command{
		Use:               use,
		Short:             title,
		Long:              long,
		Args:              cobra.ArbitraryArgs,
		RunE:              a.run,
		ValidArgsFunction: a.complete,
	}
	cmd.Flags().BoolVarP(&a.debug, "debug", "d", false, "show the response's status and headers on standard error")
	cmd.Flags().BoolVarP(&a.insecure, "insecure", "k", false, "do not check the region's TLS certificate")
	return cmd
}

// split separates the positional arguments (the handler's path parameters, in order) from
// the key=value ones, and checks their numbers.
func (a *actionCmd) split(path string, args []string) (pos []string, rest []Arg, err error) {
	n := len(a.res.Params)
	lead := 0
	for lead < len(args) && lead < n && !LooksLikePair(args[lead]) {
		lead++
	}
	if lead < n {
		return nil, nil, usageErrorf("%s: missing %s (usage: %s %s)", path,
			strings.Join(upperParams(a.res.Params[lead:]), " "), path, strings.Join(upperParams(a.res.Params), " "))
	}
	pos = args[:n]
	for i, v := range pos {
		if v == "" {
			return nil, nil, usageErrorf("%s: %s is empty", path, strings.ToUpper(a.res.Params[i]))
		}
	}
	extra := args[n:]
	if len(extra) > 0 && !a.act.TakesData {
		takes := "no arguments"
		if n > 0 {
			takes = "only " + strings.Join(upperParams(a.res.Params), " ")
		}
		return nil, nil, usageErrorf("%s: unexpected argument %q (it takes %s)", path, extra[0], takes)
	}
	for _, s := range extra {
		arg, err := ParseArg(s)
		if err != nil {
			return nil, nil, usageErrorf("%s: %w", path, err)
		}
		rest = append(rest, arg)
	}
	return pos, rest, nil
}

func (a *actionCmd) run(cmd *cobra.Command, args []string) error {
	path := cmd.CommandPath()
	pos, kv, err := a.split(path, args)
	if err != nil {
		return err
	}
	parts, err := Fields(kv, a.env.warnf)
	if err != nil {
		return usageErrorf("%s: %w", path, err)
	}
	p, err := apidesc.Expand(a.res.Path, a.res.Params, pos)
	if err != nil {
		return err
	}
	endpoint, err := client.Endpoint(a.prof.URL, p)
	if err != nil {
		return err
	}
	req, err := client.NewAPIRequest(a.act.Method, endpoint, a.act.Op, parts)
	if err != nil {
		return err
	}
	hc, err := a.env.httpClient(a.prof.CACerts, a.insecure)
	if err != nil {
		return err
	}
	c := &client.Client{HTTP: hc}
	creds, ok, err := a.prof.Creds()
	if err != nil {
		return err
	}
	if ok {
		c = client.New(creds, hc)
	}
	resp, err := c.Do(cmd.Context(), req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	a.compareHash(resp)
	if a.debug {
		dumpResponse(a.env.Stderr, resp)
	}
	if err := writeBody(a.env.Stdout, a.env.StdoutTTY, resp.StatusCode, reason(resp), resp.Header.Get("Content-Type"), resp.Body); err != nil {
		return fmt.Errorf("%s: write the answer: %w", path, err)
	}
	if resp.StatusCode/100 != 2 {
		fmt.Fprintf(a.env.Stderr, "HTTP %d: %s\n", resp.StatusCode, reason(resp))
		return &exitError{code: exitHTTP, silent: true}
	}
	return nil
}

// compareHash warns when the region reports an API hash other than the stored description's.
func (a *actionCmd) compareHash(resp *http.Response) {
	got := resp.Header.Get("X-MAAS-API-Hash")
	if got == "" {
		return
	}
	d, err := apidesc.Parse(a.prof.Description)
	if err != nil || d.Hash != got {
		a.env.warnf("the region's API differs from the description saved for profile %s; run: maas refresh %s", a.prof.Name, a.prof.Name)
	}
}

// complete offers the documented keyword names (as "name=") once the positional arguments
// are given.
func (a *actionCmd) complete(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if len(args) < len(a.res.Params) || !a.act.TakesData {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	if strings.Contains(toComplete, "@=") {
		return nil, cobra.ShellCompDirectiveDefault
	}
	var out []string
	for _, name := range apidesc.ParamNames(a.act.Doc) {
		if strings.HasPrefix(name+"=", toComplete) {
			out = append(out, name+"=")
		}
	}
	return out, cobra.ShellCompDirectiveNoSpace | cobra.ShellCompDirectiveNoFileComp
}
