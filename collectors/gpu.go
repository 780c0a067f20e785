package collectors

import (
	"context"
	"errors"
	"io/fs"
	"strconv"
	"strings"

	"maasgo/collectors/schema"
)

// gpuCollector fills resources.gpu with the PCI display controllers (class 0x03), their
// driver, NUMA node, ids, names, DRM nodes and SR-IOV capacity.
//
// Reads: /sys/bus/pci/devices/*/{class,vendor,device,driver,numa_node,sriov_*,
// drm/{cardN,renderDN,controlDN}/dev}, pci.ids.
type gpuCollector struct{}

func (gpuCollector) Name() string { return "gpu" }

func (gpuCollector) Collect(_ context.Context, env *Env, doc *schema.Document) error {
	f := env.FS
	out := schema.GPU{Cards: []schema.GPUCard{}}
	ents, err := f.ReadDir("/sys/bus/pci/devices")
	if errors.Is(err, fs.ErrNotExist) {
		doc.Resources.GPU = out
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
		class, err := readOptString(f, "/sys/bus/pci/devices/"+e.Name+"/class")
		if err != nil {
			return err
		}
		if !strings.HasPrefix(class, "0x03") {
			continue
		}
		dev, err := f.Resolve("/sys/bus/pci/devices/" + e.Name)
		if err != nil {
			return err
		}
		c := schema.GPUCard{PCIAddress: e.Name}
		if c.Driver, c.DriverVersion, err = driverInfo(f, dev, release); err != nil {
			return err
		}
		if c.NUMANode, err = numaNode(f, dev); err != nil {
			return err
		}
		if c.VendorID, err = readHexID(f, dev+"/vendor"); err != nil {
			return err
		}
		if c.ProductID, err = readHexID(f, dev+"/device"); err != nil {
			return err
		}
		c.Vendor, c.Product = env.ids.PCI(c.VendorID, c.ProductID)
		if c.DRM, err = readDRM(f, dev); err != nil {
			return err
		}
		if maxVFs, ok, err := readUint(f, dev+"/sriov_totalvfs"); err != nil {
			return err
		} else if ok {
			cur, _, err := readUint(f, dev+"/sriov_numvfs")
			if err != nil {
				return err
			}
			c.SRIOV = &schema.GPUCardSRIOV{CurrentVFs: cur, MaximumVFs: maxVFs}
		}
		out.Cards = append(out.Cards, c)
	}
	out.Total = uint64(len(out.Cards))
	doc.Resources.GPU = out
	return nil
}

func readDRM(f *FS, dev string) (*schema.GPUCardDRM, error) {
	ents, err := f.ReadDir(dev + "/drm")
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var drm *schema.GPUCardDRM
	get := func() *schema.GPUCardDRM {
		if drm == nil {
			drm = &schema.GPUCardDRM{}
		}
		return drm
	}
	for _, e := range ents {
		devno, err := readOptString(f, dev+"/drm/"+e.Name+"/dev")
		if err != nil {
			return nil, err
		}
		switch {
		case strings.HasPrefix(e.Name, "card"):
			id, err := strconv.ParseUint(e.Name[len("card"):], 10, 64)
			if err != nil {
				continue
			}
			d := get()
			d.ID, d.CardName, d.CardDevice = id, e.Name, devno
		case strings.HasPrefix(e.Name, "renderD"):
			d := get()
			d.RenderName, d.RenderDevice = e.Name, devno
		case strings.HasPrefix(e.Name, "controlD"):
			d := get()
			d.ControlName, d.ControlDevice = e.Name, devno
		}
	}
	return drm, nil
}
