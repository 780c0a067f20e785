package config

import (
	"context"
	"testing"
	"time"

	"maasgo/region/store"
	"maasgo/region/store/storetest"
)

func TestLookupSpellings(t *testing.T) {
	for _, name := range []string{"node_timeout", "node-timeout", "NODE_TIMEOUT", " node-timeout "} {
		s, err := Lookup(name)
		if err != nil || s.Name != "node_timeout" {
			t.Errorf("Lookup(%q) = %v, %v", name, s, err)
		}
	}
	if _, err := Lookup("no_such_thing"); err == nil {
		t.Error("unknown name accepted")
	}
}

func TestSetGet(t *testing.T) {
	e := storetest.SQLite(t)
	s, err := store.Open(context.Background(), e.DSN, e.StateDir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	err = s.Update(context.Background(), func(tx *store.Tx) error {
		if d, err := NodeTimeout(tx); err != nil || d != 30*time.Minute {
			t.Errorf("default node timeout = %v, %v", d, err)
		}
		for _, tc := range []struct {
			name, value string
			ok          bool
		}{
			{"node-timeout", "45", true},
			{"node_timeout", "0", false},
			{"node_timeout", "soon", false},
			{"enlist_commissioning", "False", true},
			{"enlist_commissioning", "maybe", false},
			{"maas_auto_ipmi_user_privilege_level", "ROOT", false},
			{"hardware_sync_interval", "1h", true},
			{"network_test_url", "http://10.0.0.1/check, icmp://10.0.0.2", true},
			{"network_test_url", " ", false},
			{"network_test_url", "http://a/,,10.0.0.2", false},
			{"network_test_url", "http://a/ b", false},
			{"maas_url", "http://10.0.0.2:5240/MAAS/", true},
			{"maas_url", "10.0.0.2:5240", false},
			{"maas_url", "ftp://10.0.0.2/", false},
			{"disk_erase_with_secure_erase", "true", true},
			{"disk_erase_with_secure_erase", "sometimes", false},
			{"disk_erase_with_quick_erase", "False", true},
			{"disk_erase_with_quick_erase", "2", false},
		} {
			if err := Set(tx, tc.name, tc.value); (err == nil) != tc.ok {
				t.Errorf("Set(%s=%s) = %v; want ok=%v", tc.name, tc.value, err, tc.ok)
			}
		}
		if d, _ := NodeTimeout(tx); d != 45*time.Minute {
			t.Errorf("node timeout after set = %v", d)
		}
		if v, _ := Get(tx, "enlist_commissioning"); v != false {
			t.Errorf("enlist_commissioning = %v", v)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
