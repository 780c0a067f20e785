package lifecycle_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"maasgo/region/config"
	"maasgo/region/lifecycle"
	"maasgo/region/store"
	"maasgo/region/store/storetest"
	"maasgo/wire"
)

// TestInternetConnectivityURL: internet-connectivity checks the network_test_url setting
// when the request names no url, and the request's url when it names one.
func TestInternetConnectivityURL(t *testing.T) {
	st := open(t, storetest.SQLite(t))
	urls := func(in lifecycle.ParamInputs, host, macByte string) map[string]bool {
		t.Helper()
		got := map[string]bool{}
		m, admin := netMachine(t, st, host, macByte, wire.NodeReady)
		update(t, st, func(tx *store.Tx) error {
			m, err := tx.MachineByID(m.ID)
			if err != nil {
				return err
			}
			if err := lifecycle.Abort(tx, m, admin, ""); err != nil {
				return err
			}
			if err := lifecycle.StartTesting(tx, m, []string{lifecycle.InternetConnectivity}, in, false, admin); err != nil {
				return err
			}
			rs, err := tx.ScriptResults([]int64{*m.CurrentTestingSet}, false)
			if err != nil {
				return err
			}
			for _, r := range rs {
				var params map[string]wire.ResolvedParam
				if err := json.Unmarshal(r.Parameters, &params); err != nil {
					return err
				}
				got[params["url"].Value.(string)] = true
			}
			return nil
		})
		return got
	}
	i := 0
	for _, tc := range []struct {
		name, setting string
		in            lifecycle.ParamInputs
		want          string
	}{
		{"default", "", nil, "https://connectivity-check.ubuntu.com"},
		{"setting", "http://10.0.0.1/check, 10.0.0.2", nil, "http://10.0.0.1/check, 10.0.0.2"},
		{"request", "http://10.0.0.1/check", lifecycle.ParamInputs{"url": "icmp://10.9.9.9"}, "icmp://10.9.9.9"},
		{"request per script", "http://10.0.0.1/check", lifecycle.ParamInputs{"internet-connectivity_url": "10.8.8.8"}, "10.8.8.8"},
	} {
		i++
		t.Run(tc.name, func(t *testing.T) {
			if tc.setting != "" {
				update(t, st, func(tx *store.Tx) error { return config.Set(tx, "network_test_url", tc.setting) })
			}
			got := urls(tc.in, fmt.Sprintf("url-%d", i), fmt.Sprintf("%02x", 0x40+i))
			if len(got) != 1 || !got[tc.want] {
				t.Errorf("urls = %v; want only %q", got, tc.want)
			}
		})
	}
}
