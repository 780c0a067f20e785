package store_test

import (
	"fmt"
	"testing"

	"maasgo/region/store"
	"maasgo/wire"
)

// TestMachinesByTag: the tag filter finds the machines carrying exactly that tag; '_' and '%'
// in a name are not wildcards, and a tag is not found inside a longer one.
func TestMachinesByTag(t *testing.T) {
	forEachEngine(t, func(t *testing.T, s *store.Store) {
		tags := map[string][]string{"m1": {"a_b"}, "m2": {"axb"}, "m3": {"a_b-2", "other"}, "m4": {"x%y"}, "m5": nil}
		update(t, s, func(tx *store.Tx) error {
			for _, host := range []string{"m1", "m2", "m3", "m4", "m5"} {
				m := &store.Machine{SystemID: "s" + host, Hostname: host, Domain: "maas", Architecture: "amd64/generic",
					Status: wire.NodeReady, Tags: tags[host]}
				if err := tx.CreateMachine(m); err != nil {
					return err
				}
			}
			return nil
		})
		for tag, want := range map[string]string{"a_b": "[m1]", "axb": "[m2]", "other": "[m3]", "x%y": "[m4]", "a": "[]", "%": "[]"} {
			s.View(t.Context(), func(tx *store.Tx) error {
				ms, err := tx.Machines(store.MachineFilter{Tag: tag})
				var got []string
				for _, m := range ms {
					got = append(got, m.Hostname)
				}
				if err != nil || fmt.Sprint(got) != want && !(want == "[]" && got == nil) {
					t.Errorf("machines with tag %q: %v %v, want %s", tag, got, err, want)
				}
				return nil
			})
		}
	})
}
