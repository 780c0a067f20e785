// Package packaging has no Go code: it holds the nfpm configurations (nfpm-*.yaml), the
// systemd unit, its conffile and the maintainer scripts behind make dist (hack/dist.sh). Its
// test builds the packages as make dist does, unpacks them into throwaway roots, verifies the
// unit with systemd-analyze, runs the region the way the unit does from the unpacked root, and
// runs the maintainer scripts against stub commands.
package packaging
