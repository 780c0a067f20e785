package apidesc

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCommandName(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"MachinesHandler", "machines"},
		{"MachineHandler", "machine"},
		{"NodeScriptResultHandler", "node-script-result"},
		{"NodeScriptResultsHandler", "node-script-results"},
		{"NodeScriptsHandler", "node-scripts"},
		{"MaasHandler", "maas"},
		{"AnonMachinesHandler", "anon-machines"},
		{"IPAddressesHandler", "ipaddresses"},
		{"DNSResourceRecordHandler", "dnsresource-record"},
		{"BcacheCacheSetHandler", "bcache-cache-set"},
		{"VLANHandler", "vlanhandler"}, // one word for the regular expression, as upstream
		{"SSLKeysHandler", "sslkeys"},
		{"Ipv4Handler", "ipv4"},
		{"handler", ""},
		{"", ""},
		{"Üser_Handler", "ser"},
	} {
		if got := CommandName(tc.in); got != tc.want {
			t.Errorf("CommandName(%q) = %q; want %q", tc.in, got, tc.want)
		}
	}
}

func TestSafeName(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"read", "read"},
		{"set_config", "set-config"},
		{"get_token", "get-token"},
		{"create_authorisation_token", "create-authorisation-token"},
		{"add_tag", "add-tag"},
		{"readAll", "read-All"},
		{"_x__y_", "x-y"},
		{"ABC", "ABC"},
		{"op-name", "op-name"},
	} {
		if got := SafeName(tc.in); got != tc.want {
			t.Errorf("SafeName(%q) = %q; want %q", tc.in, got, tc.want)
		}
	}
}

func TestSplitDoc(t *testing.T) {
	for _, tc := range []struct{ name, in, title, body string }{
		{"one line", "Read a machine.", "Read a machine.", ""},
		{"params", "Create a user.\n\n:param username: The name.", "Create a user.", ":param username: The name."},
		{"indented docstring", "Upload a script.\n\n        Long text\n          indented more\n\n        :param name: The name.\n    ",
			"Upload a script.", "Long text\n  indented more\n\n:param name: The name."},
		{"title on lines", "  Read\n  the thing.\n\n  Body.", "Read the thing.", "Body."},
		{"crlf", "Title\r\n\r\nBody\r\nmore", "Title", "Body\nmore"},
		{"tabs", "T\n\n\tx", "T", "x"},
		{"empty", "", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			title, body := SplitDoc(tc.in)
			if title != tc.title || body != tc.body {
				t.Errorf("SplitDoc(%q) = %q, %q; want %q, %q", tc.in, title, body, tc.title, tc.body)
			}
		})
	}
}

func TestParamNames(t *testing.T) {
	doc := "Do it.\n\n:param name: The name.\n:param type: The type.\n:type type: unicode\n:param name: again\n  :param  script :x"
	if diff := cmp.Diff([]string{"name", "type", "script"}, ParamNames(doc)); diff != "" {
		t.Errorf("ParamNames (-want +got):\n%s", diff)
	}
}
