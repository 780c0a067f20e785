// Package collectors gathers the hardware inventory of a machine and returns it as the
// machine-resources document MAAS's region reads (spec/hardware.md §2). Each subsystem has
// its own collector in its own file (cpu.go, memory.go, gpu.go, network.go, storage.go,
// usb.go, pci.go, system.go, networks.go, environment.go), run in the order of Default; a
// collector that fails records its error under collector_errors and the others still run.
//
// Collectors read files through an FS rooted at Roots (never a hard-coded host path) and ask
// the kernel through three small seams declared here: Netlinker (links and addresses),
// Ethtooler (SIOCETHTOOL) and Hoster (uname). LiveSeams asks the running kernel,
// ReplaySeams answers from a recording, and RecordingSeams plus a Recorder capture every
// file and answer so that WriteTarXZ produces a snapshot that replays to the same document
// (UnpackSnapshot, RootsAt and ReplaySeams).
package collectors
