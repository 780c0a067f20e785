package collectors

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"

	"maasgo/collectors/schema"
)

// usbCollector fills resources.usb with every USB device except the root hubs.
//
// Reads: /sys/bus/usb/devices/*/{busnum,devnum,serial,idVendor,idProduct,manufacturer,
// product,speed}, the interfaces' {bInterfaceNumber,bInterfaceClass,bInterfaceSubClass,
// driver,driver/module/version}, usb.ids.
type usbCollector struct{}

func (usbCollector) Name() string { return "usb" }

const sysBusUSB = "/sys/bus/usb/devices"

func (usbCollector) Collect(_ context.Context, env *Env, doc *schema.Document) error {
	f := env.FS
	out := schema.USB{Devices: []schema.USBDevice{}}
	ents, err := f.ReadDir(sysBusUSB)
	if errors.Is(err, fs.ErrNotExist) {
		doc.Resources.USB = out
		return nil
	}
	if err != nil {
		return err
	}
	release := ""
	if u, err := env.Uname(); err == nil {
		release = u.Release
	}
	for _, e := range ents {
		if strings.Contains(e.Name, ":") || strings.HasPrefix(e.Name, "usb") {
			continue
		}
		d, err := readUSBDevice(env, e.Name, ents, release)
		if err != nil {
			return err
		}
		out.Devices = append(out.Devices, d)
	}
	out.Total = uint64(len(out.Devices))
	doc.Resources.USB = out
	return nil
}

func readUSBDevice(env *Env, name string, all []DirEntry, release string) (schema.USBDevice, error) {
	f := env.FS
	dir := sysBusUSB + "/" + name
	d := schema.USBDevice{Interfaces: []schema.USBInterface{}}
	var err error
	if d.BusAddress, _, err = readUint(f, dir+"/busnum"); err != nil {
		return d, err
	}
	if d.DeviceAddress, _, err = readUint(f, dir+"/devnum"); err != nil {
		return d, err
	}
	if d.Serial, err = readOptString(f, dir+"/serial"); err != nil {
		return d, err
	}
	if d.VendorID, err = readHexID(f, dir+"/idVendor"); err != nil {
		return d, err
	}
	if d.ProductID, err = readHexID(f, dir+"/idProduct"); err != nil {
		return d, err
	}
	d.Vendor, d.Product = env.ids.USB(d.VendorID, d.ProductID)
	if d.Vendor == "" {
		if d.Vendor, err = readOptString(f, dir+"/manufacturer"); err != nil {
			return d, err
		}
	}
	if d.Product == "" {
		if d.Product, err = readOptString(f, dir+"/product"); err != nil {
			return d, err
		}
	}
	if s, err := readOptString(f, dir+"/speed"); err != nil {
		return d, err
	} else if s != "" {
		if d.Speed, err = strconv.ParseFloat(s, 64); err != nil {
			return d, fmt.Errorf("parse %s/speed: %w", dir, err)
		}
	}
	for _, e := range all {
		if !strings.HasPrefix(e.Name, name+":") {
			continue
		}
		idir := sysBusUSB + "/" + e.Name
		var i schema.USBInterface
		num, err := readOptString(f, idir+"/bInterfaceNumber")
		if err != nil {
			return d, err
		}
		class, err := readOptString(f, idir+"/bInterfaceClass")
		if err != nil {
			return d, err
		}
		subclass, err := readOptString(f, idir+"/bInterfaceSubClass")
		if err != nil {
			return d, err
		}
		i.Number, _ = strconv.ParseUint(num, 16, 64)
		i.ClassID, _ = strconv.ParseUint(class, 16, 64)
		i.SubClassID, _ = strconv.ParseUint(subclass, 16, 64)
		i.Class, i.SubClass = env.ids.USBClass(strings.ToLower(class), strings.ToLower(subclass))
		idev, err := f.Resolve(idir)
		if err != nil {
			return d, err
		}
		if i.Driver, i.DriverVersion, err = driverInfo(f, idev, release); err != nil {
			return d, err
		}
		d.Interfaces = append(d.Interfaces, i)
	}
	return d, nil
}
