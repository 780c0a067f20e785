package collectors

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestStorageCollector(t *testing.T) {
	pci := "sys/devices/pci0000:00"
	tests := []struct {
		name  string
		build func(tr tree)
		check func(t *testing.T, d []diskView)
	}{
		{
			name: "sata from udev, numa from the PCI parent, last by-id link",
			build: func(tr tree) {
				ctl := tr.pciDev(pci, "0000:00:17.0", "0x8086", "0xa182", "0x010601", "ahci", 1)
				dev := ctl + "/ata1/host0/target0:0:0/0:0:0:0"
				tr.link(dev+"/subsystem", "sys/bus/scsi")
				tr.disk(dev, "sda", "8:0", 2048, "1", "4096", udevRecord(nil, map[string]string{
					"ID_ATA_SATA": "1", "ID_MODEL_ENC": `Disk\x20One\x20\x20`, "ID_SERIAL_SHORT": "S1", "ID_ATA_ROTATION_RATE_RPM": "5400", "ID_REVISION": "R1",
				}))
				tr.link("dev/disk/by-id/ata-Disk_One_S1", "dev/sda")
				tr.link("dev/disk/by-id/wwn-0x1", "dev/sda")
			},
			check: func(t *testing.T, d []diskView) {
				want := diskView{"sda", "sata", "Disk One", "S1", "wwn-0x1", 1, 5400, 4096, 1048576, "R1", "0000:00:17.0"}
				if len(d) != 1 || d[0] != want {
					t.Errorf("disks = %+v, want %+v", d, want)
				}
			},
		},
		{
			name: "numa_node -1 beside the device is unknown, rotational without rpm gives 1, no udev",
			build: func(tr tree) {
				ctl := tr.pciDev(pci, "0000:00:04.0", "0x1af4", "0x1042", "0x010000", "virtio-pci", -1)
				vd := ctl + "/virtio1"
				tr.link(vd+"/subsystem", "sys/bus/virtio")
				b := tr.disk(vd, "vda", "254:0", 4096, "1", "512", "")
				tr.file(b+"/serial", "vserial\n")
			},
			check: func(t *testing.T, d []diskView) {
				want := diskView{"vda", "virtio", "", "vserial", "", 0, 1, 512, 2097152, "", "0000:00:04.0"}
				if len(d) != 1 || d[0] != want {
					t.Errorf("disks = %+v, want %+v", d, want)
				}
			},
		},
		{
			name: "cdrom and usb types, loop devices without a device are skipped",
			build: func(tr tree) {
				ctl := tr.pciDev(pci, "0000:00:1f.2", "0x8086", "0x2922", "0x010601", "ahci", 0)
				sr := ctl + "/ata2/host1/target1:0:0/1:0:0:0"
				tr.link(sr+"/subsystem", "sys/bus/scsi")
				b := tr.disk(sr, "sr0", "11:0", 0, "1", "2048", udevRecord(nil, map[string]string{"ID_CDROM": "1"}))
				tr.file(b+"/removable", "1\n")
				usb := ctl + "/usb1/1-1/1-1:1.0/host2/target2:0:0/2:0:0:0"
				tr.link(usb+"/subsystem", "sys/bus/scsi")
				tr.disk(usb, "sdc", "8:32", 100, "0", "512", udevRecord(nil, map[string]string{"ID_USB_DRIVER": "usb-storage", "ID_MODEL": "Flash_Disk"}))
				loop := "sys/devices/virtual/block/loop0"
				tr.files(loop, map[string]string{"dev": "7:0", "size": "0"})
				tr.link("sys/class/block/loop0", loop)
			},
			check: func(t *testing.T, d []diskView) {
				if len(d) != 2 || d[0].id != "sdc" || d[0].typ != "usb" || d[0].model != "Flash Disk" || d[1].id != "sr0" || d[1].typ != "cdrom" {
					t.Errorf("disks = %+v", d)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tr := newTree(t)
			tt.build(tr)
			doc := tr.run(storageCollector{}, Seams{})
			var views []diskView
			for _, d := range doc.Resources.Storage.Disks {
				views = append(views, diskView{d.ID, d.Type, d.Model, d.Serial, d.DeviceID, d.NUMANode, d.RPM, d.BlockSize, d.Size, d.FirmwareVersion, d.PCIAddress})
			}
			tt.check(t, views)
		})
	}
}

type diskView struct {
	id, typ, model, serial, deviceID string
	numa, rpm, blockSize, size       uint64
	firmware, pci                    string
}

func TestDecodeUdevEnc(t *testing.T) {
	for in, want := range map[string]string{
		`QEMU\x20HARDDISK\x20\x20`: "QEMU HARDDISK",
		`a\x2fb`:                   "a/b",
		`bad\x2`:                   `bad\x2`,
		`\xzz`:                     `\xzz`,
		`a\x20b\x5cc\x2`:           `a b\c\x2`,
	} {
		if got := decodeUdevEnc(in); got != want {
			t.Errorf("decodeUdevEnc(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseUdevDB(t *testing.T) {
	u := parseUdevDB("S:disk/by-id/x\nI:123\nE:ID_SERIAL=abc=d\nE:=bad\nW:1\nG:systemd\n")
	if u.Env["ID_SERIAL"] != "abc=d" || len(u.Env) != 1 || len(u.Links) != 1 || u.Links[0] != "disk/by-id/x" {
		t.Errorf("parseUdevDB = %+v", u)
	}
}

func TestBlockDevices(t *testing.T) {
	tr := newTree(t)
	// A SATA disk known to udev, with a partition; an NVMe disk without udev; a loop device
	// and a disk without a dev file, which lsblk leaves out.
	ata := "sys/devices/pci0000:00/0000:00:17.0/ata1/host0/target0:0:0/0:0:0:0"
	bd := tr.disk(ata, "sda", "8:0", 2048, "0", "512", udevRecord(nil, map[string]string{
		"ID_MODEL": "Samsung_SSD_850", "ID_MODEL_ENC": `Samsung\x20SSD\x20850\x20\x20`, "ID_SERIAL_SHORT": "S21N", "ID_SERIAL": "Samsung_SSD_850_S21N",
	}))
	tr.file(ata+"/model", "Samsung SSD 850 \n")
	tr.partition(bd, "sda1", "8:1", 1, 1024, "")
	tr.file("sys/class/block/nvme0n1/dev", "259:0\n")
	tr.file("sys/class/block/nvme0n1/device/model", "QEMU NVMe Ctrl\n")
	tr.file("sys/class/block/nvme0n1/device/serial", "deadbeef\n")
	tr.file("sys/class/block/loop0/dev", "7:0\n")
	tr.dir("sys/class/block/nodev")
	got, err := BlockDevices(NewFS(RootsAt(tr.root), nil))
	if err != nil {
		t.Fatal(err)
	}
	want := []BlockDevice{
		{Name: "nvme0n1", MajMin: "259:0", Models: []string{"QEMU NVMe Ctrl"}, Serials: []string{"deadbeef"}},
		{Name: "sda", MajMin: "8:0", Models: []string{"Samsung_SSD_850", "Samsung SSD 850"}, Serials: []string{"S21N", "Samsung_SSD_850_S21N"}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("BlockDevices (-want +got):\n%s", diff)
	}
	if _, err := BlockDevices(NewFS(RootsAt(t.TempDir()), nil)); err == nil {
		t.Error("no error without /sys/class/block")
	}
}
