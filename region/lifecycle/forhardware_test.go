package lifecycle_test

import (
	"testing"

	"maasgo/region/lifecycle"
)

// TestForHardwareMatches: each kind of for_hardware identifier against known modaliases and
// hardware_info, with upstream's globs and case rules.
func TestForHardwareMatches(t *testing.T) {
	hw := &lifecycle.Hardware{
		Modaliases: []string{
			"pci:v00008086d00001572sv00008086sd00000001bc02sc00i00",
			"pci:v000010DEd00001EB8sv000010DEsd000012A2bc03sc02i00",
			"usb:v174Cp07D1d1000dc00dsc00dp00ic08isc06ip50in00",
			"dmi:bvnDellInc.:bvr2.12.2:bd07/09/2021:svnDellInc.:pnPowerEdgeR640:",
			"acpi:PNP0A08:PNP0A03:",
			"platform:a.b+c[1]",
		},
		Info: map[string]string{
			"system_vendor": "Dell Inc.", "system_product": "PowerEdge R640", "system_version": "Unknown",
			"mainboard_vendor": "Dell Inc.", "mainboard_product": "0W23H8",
			"mainboard_firmware_version": "-[IVE156L-2.61]-", "chassis_type": "Rack Mount Chassis", "cpu_model": "Xeon",
		},
	}
	for _, tc := range []struct {
		ids  []string
		want bool
	}{
		{nil, true}, // no for_hardware: every machine
		{[]string{}, true},

		// modalias: fnmatch globs, case-sensitive.
		{[]string{"modalias:pci:v00008086d00001572*"}, true},
		{[]string{"modalias:pci:v00008086d00001572sv00008086sd00000001bc02sc00i00"}, true},
		{[]string{"modalias:pci:v00008086d00001572"}, false}, // a whole-string match
		{[]string{"modalias:pci:v00008086D00001572*"}, false},
		{[]string{"modalias:pci:v00008086d0000157?sv*"}, true},
		{[]string{"modalias:pci:v00008086d0000157[0-2]sv*"}, true},
		{[]string{"modalias:pci:v00008086d0000157[!2]sv*"}, false},
		{[]string{"modalias:dmi:*bd07/09/2021*"}, true}, // * spans / and :
		{[]string{"modalias:*svnDellInc.:pnPowerEdgeR640:"}, true},
		{[]string{"modalias:platform:a.b+c[1]"}, false}, // [1] is a set matching "1"
		{[]string{"modalias:platform:a.b+c[[]1]"}, true},
		{[]string{"modalias:platform:a?b+c*"}, true},
		{[]string{"modalias:platform:axb+c*"}, false}, // . is literal
		{[]string{"modalias:acpi:PNP0A03*"}, false},
		{[]string{"modalias:acpi:*PNP0A03:"}, true},

		// pci:VVVV:PPPP and usb:VVVV:PPPP: vendor and product in either case.
		{[]string{"pci:8086:1572"}, true},
		{[]string{"pci:10de:1eb8"}, true},
		{[]string{"pci:10DE:1EB8"}, true},
		{[]string{"pci:8086:1573"}, false},
		{[]string{"pci:174c:07d1"}, false}, // a USB device is no PCI device
		{[]string{"usb:174c:07d1"}, true},
		{[]string{"usb:174C:07D1"}, true},
		{[]string{"usb:8086:1572"}, false},
		{[]string{"pci:8086"}, false}, // malformed: ignored
		{[]string{"pci:8086:1572:1"}, false},

		// Prefixes are lower case only, as upstream's.
		{[]string{"PCI:8086:1572"}, false},
		{[]string{"Modalias:pci:*"}, false},
		{[]string{"System_Vendor:Dell Inc."}, false},

		// system_ and mainboard_ values equal exactly.
		{[]string{"system_vendor:Dell Inc."}, true},
		{[]string{"system_vendor:dell inc."}, false},
		{[]string{"system_vendor:Dell*"}, false}, // no globs
		{[]string{"system_product:PowerEdge R640"}, true},
		{[]string{"system_product:PowerEdge R650"}, false},
		{[]string{"system_version:Unknown"}, false}, // not reported
		{[]string{"system_version:"}, false},
		{[]string{"mainboard_vendor:Dell Inc."}, true},
		{[]string{"mainboard_product:0W23H8"}, true},
		{[]string{"mainboard_product:0W23H9"}, false},
		{[]string{"mainboard_firmware_version:-[IVE156L-2.61]-"}, true}, // LP:1891213
		{[]string{"chassis_type:Rack Mount Chassis"}, true},
		{[]string{"cpu_model:Xeon"}, false}, // not a hardware pair

		// Any one identifier is enough.
		{[]string{"usb:0000:0000", "system_vendor:HPE", "pci:8086:1572"}, true},
		{[]string{"usb:0000:0000", "system_vendor:HPE", "modalias:nothing*"}, false},
	} {
		if got := hw.Matches(tc.ids); got != tc.want {
			t.Errorf("Matches(%q) = %v; want %v", tc.ids, got, tc.want)
		}
	}

	// Nothing known: only scripts without for_hardware.
	none := &lifecycle.Hardware{}
	for _, ids := range [][]string{{"pci:8086:1572"}, {"modalias:*"}, {"system_vendor:Dell Inc."}} {
		if none.Matches(ids) {
			t.Errorf("Matches(%q) on unknown hardware = true", ids)
		}
	}
	if !none.Matches(nil) {
		t.Error("a script without for_hardware does not match unknown hardware")
	}
}
