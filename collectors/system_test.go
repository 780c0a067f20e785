package collectors

import "testing"

func TestChassisTypeName(t *testing.T) {
	for in, want := range map[string]string{"1": "Other", "23": "Rack Mount Chassis", "36": "Stick PC", "0": "", "37": "", "x": "", "17\n": "Main Server Chassis"} {
		if got := ChassisTypeName(in); got != want {
			t.Errorf("ChassisTypeName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDetectVirt(t *testing.T) {
	tests := []struct {
		name  string
		build func(tr tree)
		want  string
	}{
		{"container from PID 1 environment", func(tr tree) { tr.file("proc/1/environ", "PATH=/bin\x00container=lxc\x00") }, VirtContainer},
		{"hypervisor cpu flag", func(tr tree) { tr.file("proc/cpuinfo", "processor : 0\nflags : fpu hypervisor\n") }, VirtMachine},
		{"QEMU in DMI", func(tr tree) { tr.files("sys/class/dmi/id", map[string]string{"sys_vendor": "QEMU"}) }, VirtMachine},
		{"Hyper-V product", func(tr tree) {
			tr.files("sys/class/dmi/id", map[string]string{"sys_vendor": "Microsoft Corporation", "product_name": "Virtual Machine"})
		}, VirtMachine},
		{"Xen domU", func(tr tree) { tr.file("sys/hypervisor/type", "xen\n") }, VirtMachine},
		{"Xen dom0 is physical", func(tr tree) {
			tr.file("sys/hypervisor/type", "xen\n")
			tr.file("proc/xen/capabilities", "control_d\n")
		}, VirtPhysical},
		{"z/VM", func(tr tree) { tr.file("proc/sysinfo", "VM00 Control Program: z/VM    7.2.0\n") }, VirtMachine},
		{"bare metal", func(tr tree) {
			tr.file("proc/1/environ", "HOME=/\x00")
			tr.file("proc/cpuinfo", "processor : 0\nflags : fpu sse\n")
			tr.files("sys/class/dmi/id", map[string]string{"sys_vendor": "Dell Inc.", "product_name": "PowerEdge R640"})
		}, VirtPhysical},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tr := newTree(t)
			tt.build(tr)
			got, err := detectVirt(NewFS(RootsAt(tr.root), nil))
			if err != nil || got != tt.want {
				t.Errorf("detectVirt = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestSystemWithoutDMI(t *testing.T) {
	tr := newTree(t)
	tr.file("proc/cpuinfo", "processor : 0\nflags : hypervisor\n")
	s := tr.run(systemCollector{}, Seams{}).Resources.System
	if s.Type != VirtMachine || s.Firmware != nil || s.Chassis != nil || s.Motherboard != nil {
		t.Errorf("system = %+v", s)
	}
}

func TestDetectVirtContainerMarkers(t *testing.T) {
	for _, p := range []string{".dockerenv", "run/.containerenv", "run/systemd/container"} {
		tr := newTree(t)
		tr.file(p, "docker\n")
		tr.file("proc/cpuinfo", "processor : 0\nflags : hypervisor\n")
		if got, err := detectVirt(NewFS(RootsAt(tr.root), nil)); err != nil || got != VirtContainer {
			t.Errorf("%s: detectVirt = %q, %v", p, got, err)
		}
	}
}
