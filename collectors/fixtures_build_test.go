package collectors

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The hand-built machine trees in testdata/machines are written by TestBuildFixtures when
// the tests run with -build-fixtures. The trees are checked in; this code documents how they
// were made and rebuilds them after a change.
var buildFixtures = flag.Bool("build-fixtures", false, "rewrite the hand-built machine trees in testdata/machines")

// tree writes a fake machine root.
type tree struct {
	t    testing.TB
	root string
}

func (tr tree) file(p, content string) {
	tr.t.Helper()
	full := filepath.Join(tr.root, p)
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		tr.t.Fatal(err)
	}
	if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
		tr.t.Fatal(err)
	}
}

// files writes several attribute files below dir.
func (tr tree) files(dir string, kv map[string]string) {
	tr.t.Helper()
	for k, v := range kv {
		tr.file(dir+"/"+k, v+"\n")
	}
}

func (tr tree) dir(p string) {
	tr.t.Helper()
	if err := os.MkdirAll(filepath.Join(tr.root, p), 0o755); err != nil {
		tr.t.Fatal(err)
	}
}

// link creates p as a symlink to target, made relative to p's directory.
func (tr tree) link(p, target string) {
	tr.t.Helper()
	full := filepath.Join(tr.root, p)
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		tr.t.Fatal(err)
	}
	rel, err := filepath.Rel(filepath.Dir("/"+p), "/"+target)
	if err != nil {
		tr.t.Fatal(err)
	}
	if err := os.Symlink(rel, full); err != nil {
		tr.t.Fatal(err)
	}
}

func (tr tree) json(p string, v any) {
	tr.t.Helper()
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		tr.t.Fatal(err)
	}
	tr.file(p, string(data)+"\n")
}

// cpu adds logical CPU id in the given socket/core/node.
func (tr tree) cpu(id, pkg, core, node int, freq bool) {
	d := fmt.Sprintf("sys/devices/system/cpu/cpu%d", id)
	tr.files(d+"/topology", map[string]string{
		"physical_package_id": fmt.Sprint(pkg), "core_id": fmt.Sprint(core), "die_id": "0",
	})
	if id != 0 {
		tr.file(d+"/online", "1\n")
	}
	tr.link(fmt.Sprintf("%s/node%d", d, node), fmt.Sprintf("sys/devices/system/node/node%d", node))
	tr.link(fmt.Sprintf("sys/devices/system/node/node%d/cpu%d", node, id), d)
	if freq {
		tr.files(d+"/cpufreq", map[string]string{
			"scaling_cur_freq": "2100000", "cpuinfo_min_freq": "1000000", "cpuinfo_max_freq": "3700000",
		})
	}
	for i, c := range []struct{ level, typ, size string }{{"1", "Data", "32K"}, {"1", "Instruction", "32K"}, {"2", "Unified", "1024K"}, {"3", "Unified", "22528K"}} {
		tr.files(fmt.Sprintf("%s/cache/index%d", d, i), map[string]string{"level": c.level, "type": c.typ, "size": c.size})
	}
}

// memBlock adds an online 128 MiB memory block on a node.
func (tr tree) memBlock(n, node int) {
	d := fmt.Sprintf("sys/devices/system/memory/memory%d", n)
	tr.file(d+"/online", "1\n")
	if node >= 0 {
		tr.link(fmt.Sprintf("sys/devices/system/node/node%d/memory%d", node, n), d)
	}
}

// pciDev adds a PCI function below pci0000:<bus> and its /sys/bus/pci/devices link.
func (tr tree) pciDev(parent, addr, vendor, device, class, driver string, numa int) string {
	d := parent + "/" + addr
	tr.files(d, map[string]string{"vendor": vendor, "device": device, "class": class, "numa_node": fmt.Sprint(numa)})
	tr.link("sys/bus/pci/devices/"+addr, d)
	if driver != "" {
		tr.dir("sys/bus/pci/drivers/" + driver)
		tr.link(d+"/driver", "sys/bus/pci/drivers/"+driver)
	}
	tr.link(d+"/subsystem", "sys/bus/pci")
	return d
}

func (tr tree) netdev(devDir, name, mac string, port int) {
	nd := devDir + "/net/" + name
	tr.files(nd, map[string]string{"address": mac, "dev_port": fmt.Sprint(port), "type": "1", "addr_assign_type": "0"})
	tr.link("sys/class/net/"+name, nd)
	tr.link(nd+"/device", devDir)
}

func (tr tree) virtualNetdev(name, mac string) string {
	nd := "sys/devices/virtual/net/" + name
	tr.files(nd, map[string]string{"address": mac, "type": "1", "addr_assign_type": "3"})
	tr.link("sys/class/net/"+name, nd)
	return nd
}

// disk adds a block device below devDir (the device it hangs off).
func (tr tree) disk(devDir, name, majmin string, sectors uint64, rotational, pbs string, udev string) string {
	bd := devDir + "/block/" + name
	tr.files(bd, map[string]string{"dev": majmin, "size": fmt.Sprint(sectors), "ro": "0", "removable": "0"})
	tr.files(bd+"/queue", map[string]string{"rotational": rotational, "physical_block_size": pbs, "logical_block_size": "512"})
	tr.link(bd+"/device", devDir)
	tr.link("sys/class/block/"+name, bd)
	tr.file("run/udev/data/b"+majmin, udev)
	return bd
}

func (tr tree) partition(diskDir, name, majmin string, num int, sectors uint64, udev string) {
	pd := diskDir + "/" + name
	tr.files(pd, map[string]string{"dev": majmin, "size": fmt.Sprint(sectors), "ro": "0", "partition": fmt.Sprint(num)})
	tr.link("sys/class/block/"+name, pd)
	tr.file("run/udev/data/b"+majmin, udev)
}

func udevRecord(links []string, env map[string]string) string {
	var b strings.Builder
	for _, l := range links {
		fmt.Fprintf(&b, "S:%s\n", l)
	}
	for _, k := range sortedKeys(env) {
		fmt.Fprintf(&b, "E:%s=%s\n", k, env[k])
	}
	return b.String()
}

func ethtoolFixture(drv DriverInfo, perm string, link bool, speed uint32, duplex, port uint8, autoneg uint8, supported []uint32) ethtoolAnswers {
	return ethtoolAnswers{
		DriverInfo:   &drv,
		PermAddr:     &perm,
		LinkDetected: &link,
		LinkSettings: &LinkSettings{Speed: speed, Duplex: duplex, Port: port, Autoneg: autoneg, Supported: supported},
	}
}

// bits returns a link-mode bitmap of nwords words with the given bits set.
func bits(nwords int, set ...int) []uint32 {
	w := make([]uint32, nwords)
	for _, b := range set {
		w[b/32] |= 1 << (uint(b) % 32)
	}
	return w
}

const iffUpBroadcastMulticast = 0x1 | 0x2 | 0x1000 // IFF_UP | IFF_BROADCAST | IFF_MULTICAST
const iffLowerUp = 0x10000
const iffMaster, iffSlave = 0x400, 0x800

func TestBuildFixtures(t *testing.T) {
	if !*buildFixtures {
		t.Skip("run with -build-fixtures to rewrite the hand-built machine trees")
	}
	buildServerFixture(t, filepath.Join("..", "testdata", "machines", "two-socket-server", "root"))
	buildSeedVMFixture(t, filepath.Join("..", "testdata", "machines", "qemu-1g", "root"))
}

// buildServerFixture writes a two-socket, two-NUMA-node server: NVMe, SATA SSD and a
// 7200 rpm disk, a two-port 25G NIC with SR-IOV in a bond with a VLAN on top, a 400G NIC
// without link, an ASPEED BMC display, a USB keyboard, and full DMI.
func buildServerFixture(t *testing.T, root string) {
	if err := os.RemoveAll(root); err != nil {
		t.Fatal(err)
	}
	tr := tree{t, root}
	for id := 0; id < 8; id++ {
		tr.cpu(id, id/4, id%4/2, id/4, true)
	}
	tr.file("sys/devices/system/cpu/isolated", "7\n")
	tr.file("sys/devices/system/memory/block_size_bytes", "8000000\n")
	for n := 0; n < 16; n++ {
		tr.memBlock(n, n/8)
	}
	var cpuinfo strings.Builder
	for id := 0; id < 8; id++ {
		fmt.Fprintf(&cpuinfo, "processor\t: %d\nvendor_id\t: GenuineIntel\ncpu family\t: 6\nmodel\t\t: 85\nmodel name\t: Intel(R) Xeon(R) Gold 6130 CPU @ 2.10GHz\nphysical id\t: %d\ncore id\t\t: %d\nflags\t\t: fpu vme de pse tsc msr pae mce sse sse2 ht lm\n\n", id, id/4, id%4/2)
	}
	tr.file("proc/cpuinfo", cpuinfo.String())
	tr.file("proc/meminfo", "MemTotal:        2014212 kB\nMemFree:         1524000 kB\nMemAvailable:    1700000 kB\nBuffers:           20000 kB\nCached:           150000 kB\nHugePages_Total:       8\nHugePages_Free:        6\nHugepagesize:       2048 kB\n")
	for n := 0; n < 2; n++ {
		tr.file(fmt.Sprintf("sys/devices/system/node/node%d/meminfo", n), fmt.Sprintf("Node %d MemTotal:        1007106 kB\nNode %d MemFree:          762000 kB\nNode %d MemUsed:          245106 kB\nNode %d HugePages_Total:     4\nNode %d HugePages_Free:      %d\n", n, n, n, n, n, 4-n*2))
	}
	tr.file("proc/self/mountinfo", "22 1 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw\n25 22 259:1 / /boot/efi rw,relatime shared:2 - vfat /dev/nvme0n1p1 rw\n")
	tr.file("etc/os-release", "NAME=\"Ubuntu\"\nVERSION_ID=\"24.04\"\nID=ubuntu\n")
	tr.file("proc/net/dev", "Inter-|   Receive                                                |  Transmit\n face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n    lo:    1000      10    0    0    0     0          0         0     1000      10    0    0    0     0       0          0\nens1f0: 5000000    4000    0    0    0     0          0        10   300000    2000    0    0    0     0       0          0\nens1f1: 4000000    3000    0    0    0     0          0        10   200000    1000    0    0    0     0       0          0\n bond0: 9000000    7000    0    0    0     0          0        20   500000    3000    0    0    0     0       0          0\nbond0.100:  800000     600    0    0    0     0          0         0    70000     500    0    0    0     0       0          0\n")
	tr.file("usr/share/misc/pci.ids", "# reduced copy for the fixture\n1a03  ASPEED Technology, Inc.\n\t2000  ASPEED Graphics Family\n144d  Samsung Electronics Co Ltd\n\ta808  NVMe SSD Controller SM981/PM981/PM983\n15b3  Mellanox Technologies\n\t1021  MT2910 Family [ConnectX-7]\n8086  Intel Corporation\n\t154c  Ethernet Virtual Function 700 Series\n\t158b  Ethernet Controller XXV710 for 25GbE SFP28\n\ta182  C620 Series Chipset Family SATA Controller [AHCI mode]\n")
	tr.file("usr/share/misc/usb.ids", "# reduced copy for the fixture\n046b  American Megatrends, Inc.\n\tff10  Virtual Keyboard and Mouse\nC 03  Human Interface Device\n\t01  Boot Interface Subclass\n")

	// DMI (chassis_version carries a vendor placeholder on purpose).
	dmi := "sys/devices/virtual/dmi/id"
	tr.files(dmi, map[string]string{
		"sys_vendor": "Dell Inc.", "product_name": "PowerEdge R640", "product_family": "PowerEdge",
		"product_serial": "7XQ2J93", "product_uuid": "4c4c4544-0058-5110-8032-b7c04f4a3933",
		"product_sku": "SKU=NotProvided;ModelName=PowerEdge R640", "product_version": "",
		"board_vendor": "Dell Inc.", "board_name": "0W23H8", "board_serial": ".7XQ2J93.CNFCP0018C0123.",
		"board_version": "A01", "board_asset_tag": "", "bios_vendor": "Dell Inc.", "bios_version": "2.12.2",
		"bios_date": "07/09/2021", "chassis_vendor": "Dell Inc.", "chassis_type": "23",
		"chassis_serial": "7XQ2J93", "chassis_version": "0123456789", "chassis_asset_tag": "",
	})
	tr.link("sys/class/dmi/id", dmi)

	pci0 := "sys/devices/pci0000:00"
	pci3a := "sys/devices/pci0000:3a"
	pci5d := "sys/devices/pci0000:5d"
	pciae := "sys/devices/pci0000:ae"
	for _, d := range []string{pci0, pci3a, pci5d, pciae} {
		tr.dir(d)
	}

	// SATA controller with an SSD and a rotational disk (node 0).
	sata := tr.pciDev(pci0, "0000:00:17.0", "0x8086", "0xa182", "0x010601", "ahci", 0)
	sdaDev := sata + "/ata1/host0/target0:0:0/0:0:0:0"
	tr.link(sdaDev+"/subsystem", "sys/bus/scsi")
	tr.files(sdaDev, map[string]string{"model": "SAMSUNG MZ7LH960", "rev": "404Q", "vendor": "ATA"})
	sda := tr.disk(sdaDev, "sda", "8:0", 1875385008, "0", "4096", udevRecord(
		[]string{"disk/by-id/ata-SAMSUNG_MZ7LH960HAJR-00005_S45NNE0M000000", "disk/by-id/wwn-0x5002538e00000000", "disk/by-path/pci-0000:00:17.0-ata-1"},
		map[string]string{"ID_ATA": "1", "ID_ATA_SATA": "1", "ID_BUS": "ata", "ID_MODEL": "SAMSUNG_MZ7LH960HAJR-00005", "ID_MODEL_ENC": `SAMSUNG\x20MZ7LH960HAJR-00005\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20`, "ID_REVISION": "HXT7404Q", "ID_SERIAL": "SAMSUNG_MZ7LH960HAJR-00005_S45NNE0M000000", "ID_SERIAL_SHORT": "S45NNE0M000000", "ID_WWN": "0x5002538e00000000", "ID_TYPE": "disk"}))
	tr.link("dev/disk/by-id/ata-SAMSUNG_MZ7LH960HAJR-00005_S45NNE0M000000", "dev/sda")
	tr.link("dev/disk/by-id/wwn-0x5002538e00000000", "dev/sda")
	tr.link("dev/disk/by-path/pci-0000:00:17.0-ata-1", "dev/sda")
	_ = sda
	sdbDev := sata + "/ata2/host1/target1:0:0/1:0:0:0"
	tr.link(sdbDev+"/subsystem", "sys/bus/scsi")
	tr.files(sdbDev, map[string]string{"model": "ST4000NM0035-1V4", "rev": "TN05", "vendor": "ATA"})
	tr.disk(sdbDev, "sdb", "8:16", 7814037168, "1", "4096", udevRecord(
		[]string{"disk/by-id/ata-ST4000NM0035-1V4107_ZC1A2B3C", "disk/by-id/wwn-0x5000c500a1b2c3d4", "disk/by-path/pci-0000:00:17.0-ata-2"},
		map[string]string{"ID_ATA": "1", "ID_ATA_SATA": "1", "ID_ATA_ROTATION_RATE_RPM": "7200", "ID_BUS": "ata", "ID_MODEL_ENC": `ST4000NM0035-1V4107\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20`, "ID_REVISION": "TN05", "ID_SERIAL": "ST4000NM0035-1V4107_ZC1A2B3C", "ID_SERIAL_SHORT": "ZC1A2B3C", "ID_WWN": "0x5000c500a1b2c3d4"}))
	tr.link("dev/disk/by-id/ata-ST4000NM0035-1V4107_ZC1A2B3C", "dev/sdb")
	tr.link("dev/disk/by-id/wwn-0x5000c500a1b2c3d4", "dev/sdb")
	tr.link("dev/disk/by-path/pci-0000:00:17.0-ata-2", "dev/sdb")

	// NVMe on node 1 with two partitions.
	nvmePCI := tr.pciDev(pci5d, "0000:5e:00.0", "0x144d", "0xa808", "0x010802", "nvme", 1)
	nvmeCtl := nvmePCI + "/nvme/nvme0"
	tr.files(nvmeCtl, map[string]string{"model": "Samsung SSD 970 EVO Plus 1TB", "serial": "S4EWNX0N000000", "firmware_rev": "2B2QEXM7"})
	tr.dir("sys/class/nvme")
	tr.link(nvmeCtl+"/subsystem", "sys/class/nvme")
	tr.link(nvmeCtl+"/device", nvmePCI)
	nv := tr.disk(nvmeCtl, "nvme0n1", "259:0", 1953525168, "0", "512", udevRecord(
		[]string{"disk/by-id/nvme-Samsung_SSD_970_EVO_Plus_1TB_S4EWNX0N000000", "disk/by-id/nvme-eui.0025385b91b12345"},
		map[string]string{"ID_MODEL": "Samsung SSD 970 EVO Plus 1TB", "ID_SERIAL": "Samsung SSD 970 EVO Plus 1TB_S4EWNX0N000000", "ID_SERIAL_SHORT": "S4EWNX0N000000", "ID_WWN": "eui.0025385b91b12345", "ID_REVISION": "2B2QEXM7", "ID_PART_TABLE_TYPE": "gpt"}))
	tr.file(nv+"/wwid", "eui.0025385b91b12345\n")
	tr.link("dev/disk/by-id/nvme-Samsung_SSD_970_EVO_Plus_1TB_S4EWNX0N000000", "dev/nvme0n1")
	tr.link("dev/disk/by-id/nvme-eui.0025385b91b12345", "dev/nvme0n1")
	tr.partition(nv, "nvme0n1p1", "259:1", 1, 1048576, udevRecord(nil, map[string]string{"ID_FS_TYPE": "vfat", "ID_FS_UUID": "6A1B-2C3D"}))
	tr.partition(nv, "nvme0n1p2", "259:2", 2, 1952474079, udevRecord(nil, map[string]string{"ID_FS_TYPE": "ext4", "ID_FS_UUID": "0f0e0d0c-0b0a-4909-8807-060504030201"}))

	// Two-port XXV710 on node 0; port 0 has SR-IOV with two VFs.
	f0 := tr.pciDev(pci3a, "0000:3b:00.0", "0x8086", "0x158b", "0x020000", "i40e", 0)
	f1 := tr.pciDev(pci3a, "0000:3b:00.1", "0x8086", "0x158b", "0x020000", "i40e", 0)
	tr.files(f0, map[string]string{"sriov_totalvfs": "64", "sriov_numvfs": "2"})
	tr.files(f1, map[string]string{"sriov_totalvfs": "64", "sriov_numvfs": "0"})
	tr.netdev(f0, "ens1f0", "3c:fd:fe:00:00:01", 0)
	tr.netdev(f1, "ens1f1", "3c:fd:fe:00:00:01", 0)
	for i := 0; i < 2; i++ {
		addr := fmt.Sprintf("0000:3b:02.%d", i)
		vf := tr.pciDev(pci3a, addr, "0x8086", "0x154c", "0x020000", "iavf", 0)
		tr.link(vf+"/physfn", f0)
		tr.link(fmt.Sprintf("%s/virtfn%d", f0, i), vf)
		tr.netdev(vf, fmt.Sprintf("ens1f0v%d", i), fmt.Sprintf("52:54:00:aa:bb:0%d", i), 0)
	}
	// ConnectX-7 400G on node 1, cable unplugged.
	cx := tr.pciDev(pciae, "0000:af:00.0", "0x15b3", "0x1021", "0x020000", "mlx5_core", 1)
	tr.netdev(cx, "enp175s0np0", "b8:3f:d2:00:00:10", 0)
	tr.file(cx+"/vpd", string(vpdFixture()))

	// BMC display and a BMC virtual USB keyboard.
	vga := tr.pciDev(pci0, "0000:03:00.0", "0x1a03", "0x2000", "0x030000", "ast", 0)
	tr.files(vga+"/drm/card0", map[string]string{"dev": "226:0"})
	usbHC := tr.pciDev(pci0, "0000:00:14.0", "0x8086", "0xa1af", "0x0c0330", "xhci_hcd", 0)
	hub := usbHC + "/usb1"
	tr.files(hub, map[string]string{"busnum": "1", "devnum": "1", "idVendor": "1d6b", "idProduct": "0002", "speed": "480"})
	tr.link("sys/bus/usb/devices/usb1", hub)
	kbd := hub + "/1-1"
	tr.files(kbd, map[string]string{"busnum": "1", "devnum": "2", "idVendor": "046b", "idProduct": "ff10", "speed": "480", "serial": "", "manufacturer": "American Megatrends Inc.", "product": "Virtual Keyboard and Mouse"})
	tr.link("sys/bus/usb/devices/1-1", kbd)
	intf := kbd + "/1-1:1.0"
	tr.files(intf, map[string]string{"bInterfaceNumber": "00", "bInterfaceClass": "03", "bInterfaceSubClass": "01"})
	tr.dir("sys/bus/usb/drivers/usbhid")
	tr.link(intf+"/driver", "sys/bus/usb/drivers/usbhid")
	tr.link("sys/bus/usb/devices/1-1:1.0", intf)

	// Bond and VLAN.
	bond := tr.virtualNetdev("bond0", "3c:fd:fe:00:00:01")
	tr.files(bond+"/bonding", map[string]string{
		"mode": "802.3ad 4", "xmit_hash_policy": "layer3+4 1", "updelay": "0", "downdelay": "0",
		"miimon": "100", "mii_status": "up", "slaves": "ens1f0 ens1f1",
	})
	tr.virtualNetdev("bond0.100", "3c:fd:fe:00:00:01")
	lo := tr.virtualNetdev("lo", "00:00:00:00:00:00")
	tr.file(lo+"/type", "772\n")

	up := uint32(iffUpBroadcastMulticast | iffLowerUp)
	tr.json("answers/host.json", hostAnswers{Uname: &Uname{Sysname: "Linux", Release: "6.8.0-45-generic", Machine: "x86_64", Hostname: "r640-01"}})
	tr.json("answers/netlink.json", netlinkAnswers{
		Links: []Link{
			{Index: 1, Name: "lo", MTU: 65536, Flags: 0x1 | 0x8 | iffLowerUp},
			{Index: 2, Name: "ens1f0", MTU: 9000, Flags: up | iffSlave, HardwareAddr: "3c:fd:fe:00:00:01", PermAddr: "3c:fd:fe:00:00:01", OperState: "up", MasterIndex: 6},
			{Index: 3, Name: "ens1f1", MTU: 9000, Flags: up | iffSlave, HardwareAddr: "3c:fd:fe:00:00:01", PermAddr: "3c:fd:fe:00:00:02", OperState: "up", MasterIndex: 6},
			{Index: 4, Name: "ens1f0v0", MTU: 1500, Flags: iffUpBroadcastMulticast &^ 0x1, HardwareAddr: "52:54:00:aa:bb:00", OperState: "down"},
			{Index: 5, Name: "ens1f0v1", MTU: 1500, Flags: iffUpBroadcastMulticast &^ 0x1, HardwareAddr: "52:54:00:aa:bb:01", OperState: "down"},
			{Index: 6, Name: "bond0", Kind: "bond", MTU: 9000, Flags: up | iffMaster, HardwareAddr: "3c:fd:fe:00:00:01", OperState: "up"},
			{Index: 7, Name: "bond0.100", Kind: "vlan", MTU: 9000, Flags: up, HardwareAddr: "3c:fd:fe:00:00:01", OperState: "up", ParentIndex: 6, VlanID: 100},
			{Index: 8, Name: "enp175s0np0", MTU: 1500, Flags: iffUpBroadcastMulticast, HardwareAddr: "b8:3f:d2:00:00:10", PermAddr: "b8:3f:d2:00:00:10", OperState: "down"},
		},
		Addrs: []Addr{
			{LinkIndex: 1, IP: "127.0.0.1", PrefixLen: 8},
			{LinkIndex: 6, IP: "10.20.30.40", PrefixLen: 24},
			{LinkIndex: 7, IP: "10.100.0.5", PrefixLen: 24},
			{LinkIndex: 1, IP: "::1", PrefixLen: 128},
			{LinkIndex: 6, IP: "2001:db8::40", PrefixLen: 64},
			{LinkIndex: 6, IP: "fe80::3efd:feff:fe00:1", PrefixLen: 64},
		},
	})
	i40e := DriverInfo{Driver: "i40e", Version: "6.8.0-45-generic", FirmwareVersion: "8.70 0x8000c40f 1.3295.0"}
	xxv := bits(4, 41, 43, 33, 10) // 1000baseX, 10000baseSR, 25000baseSR, fibre
	d0, d1 := i40e, i40e
	d0.BusInfo, d1.BusInfo = "0000:3b:00.0", "0000:3b:00.1"
	tr.json("answers/ethtool/ens1f0.json", ethtoolFixture(d0, "3c:fd:fe:00:00:01", true, 25000, 1, 0x04, 0, xxv))
	tr.json("answers/ethtool/ens1f1.json", ethtoolFixture(d1, "3c:fd:fe:00:00:02", true, 25000, 1, 0x04, 0, xxv))
	for i := 0; i < 2; i++ {
		vf := DriverInfo{Driver: "iavf", Version: "6.8.0-45-generic", BusInfo: fmt.Sprintf("0000:3b:02.%d", i)}
		tr.json(fmt.Sprintf("answers/ethtool/ens1f0v%d.json", i), ethtoolFixture(vf, "", false, 0xffffffff, 0xff, 0xef, 0, nil))
	}
	mlx := DriverInfo{Driver: "mlx5_core", Version: "6.8.0-45-generic", FirmwareVersion: "28.39.1002 (MT_0000000838)", BusInfo: "0000:af:00.0"}
	tr.json("answers/ethtool/enp175s0np0.json", ethtoolFixture(mlx, "b8:3f:d2:00:00:10", false, 0xffffffff, 0xff, 0x05, 1, bits(4, 62, 66, 85, 89, 10)))
}

// vpdFixture returns PCI VPD with a product name and read-only keywords.
func vpdFixture() []byte {
	name := "NVIDIA ConnectX-7 HHHL adapter Card, 400GbE"
	b := []byte{0x82, byte(len(name)), 0}
	b = append(b, name...)
	var ro []byte
	for _, kv := range [][2]string{{"PN", "MCX75310AAS-NEAT"}, {"EC", "A7"}, {"SN", "MT2301X00000"}, {"V0", "PCIeGen5 x16"}} {
		ro = append(ro, kv[0][0], kv[0][1], byte(len(kv[1])))
		ro = append(ro, kv[1]...)
	}
	ro = append(ro, 'R', 'V', 1, 0)
	b = append(b, 0x90, byte(len(ro)), 0)
	b = append(b, ro...)
	return append(b, 0x78)
}

// buildSeedVMFixture writes a 1 GiB QEMU virtual machine like the machine in the MAAS
// documentation sample: one vCPU, ens3 (virtio, 52:54:00:15:36:f2), sda "QEMU HARDDISK"
// QM00001 of 5368709120 bytes behind PIIX IDE, and SeaBIOS DMI.
func buildSeedVMFixture(t *testing.T, root string) {
	if err := os.RemoveAll(root); err != nil {
		t.Fatal(err)
	}
	tr := tree{t, root}
	tr.cpu(0, 0, 0, 0, false)
	tr.file("sys/devices/system/memory/block_size_bytes", "8000000\n")
	for n := 0; n < 8; n++ {
		tr.memBlock(n, -1)
	}
	tr.file("proc/cpuinfo", "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel Core Processor (Skylake, IBRS)\ncpu MHz\t\t: 2399.998\nflags\t\t: fpu vme de pse tsc msr pae hypervisor lahf_lm\n\n")
	tr.file("proc/meminfo", "MemTotal:        1008640 kB\nMemFree:          600000 kB\nBuffers:           10000 kB\nCached:           200000 kB\nHugePages_Total:       0\nHugePages_Free:        0\nHugepagesize:       2048 kB\n")
	tr.file("sys/devices/system/node/node0/meminfo", "Node 0 MemTotal:        1008640 kB\nNode 0 MemFree:          600000 kB\nNode 0 MemUsed:          408640 kB\nNode 0 HugePages_Total:     0\nNode 0 HugePages_Free:      0\n")
	tr.file("proc/1/environ", "")
	tr.file("etc/os-release", "NAME=\"Ubuntu\"\nVERSION_ID=\"20.04\"\nID=ubuntu\n")
	tr.file("proc/net/dev", "Inter-|   Receive                                                |  Transmit\n face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n    lo:    2000      20    0    0    0     0          0         0     2000      20    0    0    0     0       0          0\n  ens3: 1200000    900    0    0    0     0          0         0   150000     800    0    0    0     0       0          0\n")
	tr.file("usr/share/misc/pci.ids", "# reduced copy for the fixture\n1af4  Red Hat, Inc.\n\t1000  Virtio network device\n8086  Intel Corporation\n\t7010  82371SB PIIX3 IDE [Natoma/Triton II]\n")
	dmi := "sys/devices/virtual/dmi/id"
	tr.files(dmi, map[string]string{
		"sys_vendor": "QEMU", "product_name": "Standard PC (i440FX + PIIX, 1996)", "product_version": "pc-i440fx-focal",
		"product_uuid": "F677A842-571C-4E65-ADC9-11E2CF92D363", "bios_vendor": "SeaBIOS", "bios_date": "04/01/2014",
		"bios_version": "1.13.0-1ubuntu1", "chassis_vendor": "QEMU", "chassis_type": "1", "chassis_version": "pc-i440fx-focal",
	})
	tr.link("sys/class/dmi/id", dmi)
	pci0 := "sys/devices/pci0000:00"
	ide := tr.pciDev(pci0, "0000:00:01.1", "0x8086", "0x7010", "0x010180", "ata_piix", -1)
	sdaDev := ide + "/ata1/host0/target0:0:0/0:0:0:0"
	tr.link(sdaDev+"/subsystem", "sys/bus/scsi")
	tr.files(sdaDev, map[string]string{"model": "QEMU HARDDISK", "rev": "2.5+", "vendor": "ATA"})
	tr.disk(sdaDev, "sda", "8:0", 10485760, "0", "512", udevRecord(
		[]string{"disk/by-id/ata-QEMU_HARDDISK_QM00001", "disk/by-path/pci-0000:00:01.1-ata-1"},
		map[string]string{"ID_ATA": "1", "ID_BUS": "ata", "ID_MODEL": "QEMU_HARDDISK", "ID_MODEL_ENC": `QEMU\x20HARDDISK\x20\x20\x20`, "ID_REVISION": "2.5+", "ID_SERIAL": "QEMU_HARDDISK_QM00001", "ID_SERIAL_SHORT": "QM00001", "ID_TYPE": "disk"}))
	tr.link("dev/disk/by-id/ata-QEMU_HARDDISK_QM00001", "dev/sda")
	tr.link("dev/disk/by-path/pci-0000:00:01.1-ata-1", "dev/sda")
	nicPCI := tr.pciDev(pci0, "0000:00:03.0", "0x1af4", "0x1000", "0x020000", "virtio-pci", -1)
	vdev := nicPCI + "/virtio0"
	tr.files(vdev, map[string]string{"vendor": "0x1af4", "device": "0x0001"})
	tr.dir("sys/bus/virtio/drivers/virtio_net")
	tr.link(vdev+"/driver", "sys/bus/virtio/drivers/virtio_net")
	tr.link(vdev+"/subsystem", "sys/bus/virtio")
	tr.netdev(vdev, "ens3", "52:54:00:15:36:f2", 0)
	lo := tr.virtualNetdev("lo", "00:00:00:00:00:00")
	tr.file(lo+"/type", "772\n")
	tr.json("answers/host.json", hostAnswers{Uname: &Uname{Sysname: "Linux", Release: "5.4.0-42-generic", Machine: "x86_64", Hostname: "ace-swan"}})
	tr.json("answers/netlink.json", netlinkAnswers{
		Links: []Link{
			{Index: 1, Name: "lo", MTU: 65536, Flags: 0x1 | 0x8 | iffLowerUp},
			{Index: 2, Name: "ens3", MTU: 1500, Flags: iffUpBroadcastMulticast | iffLowerUp, HardwareAddr: "52:54:00:15:36:f2", OperState: "up"},
		},
		Addrs: []Addr{
			{LinkIndex: 1, IP: "127.0.0.1", PrefixLen: 8},
			{LinkIndex: 2, IP: "10.10.10.137", PrefixLen: 24},
			{LinkIndex: 1, IP: "::1", PrefixLen: 128},
			{LinkIndex: 2, IP: "fe80::5054:ff:fe15:36f2", PrefixLen: 64},
		},
	})
	tr.json("answers/ethtool/ens3.json", ethtoolFixture(DriverInfo{Driver: "virtio_net", Version: "1.0.0", BusInfo: "0000:00:03.0"}, "", true, 0xffffffff, 0xff, 0xff, 0, bits(4)))
}
