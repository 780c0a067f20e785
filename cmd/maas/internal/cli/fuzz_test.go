package cli

import (
	"encoding/json"
	"testing"

	"github.com/spf13/cobra"

	"maasgo/cmd/maas/internal/profile"
)

// FuzzProfileTree builds the command tree of a profile from an arbitrary describe/ document
// and renders every command's help: no document may break the CLI.
func FuzzProfileTree(f *testing.F) {
	// Small seeds: the fuzzer minimises every new input it finds, which takes long for the
	// full documents under testdata/.
	f.Add([]byte(`{"resources":[{"name":"NodeScriptHandler","anon":null,"auth":{"name":"NodeScriptHandler","doc":"Manage a script.",` +
		`"params":["name"],"path":"/MAAS/api/2.0/scripts/{name}","actions":[{"name":"add_tag","method":"POST","op":"add_tag",` +
		`"restful":false,"doc":"Add a tag.\n\n    :param tag: The tag.\n    "},{"name":"read","method":"GET","op":null,"restful":true,"doc":"Read."}]}}]}`))
	f.Add([]byte(`{"resources":[{"name":"HelpHandler","auth":{"doc":"\n\n","path":"/h/{a}/","params":["a"],"actions":[{"name":"help","method":"GET","doc":":param"},{"name":"x_","method":"PUT","doc":"t\n\n:param a b: c"}]}}]}`))
	f.Fuzz(func(t *testing.T, desc []byte) {
		if !json.Valid(desc) {
			return
		}
		key := "a:b:c"
		p := &profile.Profile{Name: "p", URL: "http://h/MAAS/api/2.0/", Credentials: &key, Description: desc}
		cmd, err := newProfileCmd(&Env{}, p)
		if err != nil {
			return
		}
		var walk func(*cobra.Command)
		walk = func(c *cobra.Command) {
			_ = c.UsageString()
			for _, sub := range c.Commands() {
				walk(sub)
			}
		}
		walk(cmd)
	})
}
