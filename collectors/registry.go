package collectors

// Default returns the collectors in the order they run. Each lives in its own file.
func Default() []Collector {
	return []Collector{
		environmentCollector{},
		cpuCollector{},
		memoryCollector{},
		gpuCollector{},
		networkCollector{},
		storageCollector{},
		usbCollector{},
		pciCollector{},
		systemCollector{},
		networksCollector{},
	}
}
