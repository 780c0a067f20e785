package collectors

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"unsafe"

	"github.com/safchain/ethtool"
	"golang.org/x/sys/unix"
)

// SIOCETHTOOL commands used here (include/uapi/linux/ethtool.h).
const (
	ethtoolGSET          = 0x00000001
	ethtoolGLINKSETTINGS = 0x0000004c
	linkModeMaskMaxWords = 127 // link_mode_masks_nwords is an __s8
	linkSettingsHdrLen   = 48  // struct ethtool_link_settings without the masks
	lsNwordsOff          = 15  // offset of link_mode_masks_nwords
)

// liveEthtool answers with SIOCETHTOOL ioctls: safchain/ethtool for driver info, permanent
// address and link state, and its own ETHTOOL_GLINKSETTINGS handshake (safchain's
// GetLinkSettings sends a fixed mask size, falls back to GSET and prints to stdout).
type liveEthtool struct {
	et *ethtool.Ethtool
	fd int
}

func newLiveEthtool() (*liveEthtool, error) {
	et, err := ethtool.NewEthtool()
	if err != nil {
		return nil, fmt.Errorf("open ethtool socket: %w", err)
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.IPPROTO_IP)
	if err != nil {
		et.Close()
		return nil, fmt.Errorf("open ethtool socket: %w", err)
	}
	return &liveEthtool{et: et, fd: fd}, nil
}

func (l *liveEthtool) close() {
	l.et.Close()
	unix.Close(l.fd)
}

func (l *liveEthtool) DriverInfo(ifname string) (DriverInfo, error) {
	d, err := l.et.DriverInfo(ifname)
	if err != nil {
		return DriverInfo{}, err
	}
	return DriverInfo{Driver: d.Driver, Version: d.Version, FirmwareVersion: d.FwVersion, BusInfo: d.BusInfo}, nil
}

func (l *liveEthtool) PermAddr(ifname string) (string, error) { return l.et.PermAddr(ifname) }

func (l *liveEthtool) LinkDetected(ifname string) (bool, error) {
	v, err := l.et.LinkState(ifname)
	return v == 1, err
}

// ifreq is struct ifreq with ifr_data (40 bytes on 64-bit systems).
type ifreq struct {
	name [unix.IFNAMSIZ]byte
	data uintptr
	_    [16]byte
}

func (l *liveEthtool) ioctl(ifname string, buf []uint32) error {
	if len(ifname) >= unix.IFNAMSIZ {
		return unix.EINVAL
	}
	var req ifreq
	copy(req.name[:], ifname)
	req.data = uintptr(unsafe.Pointer(&buf[0]))
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(l.fd), unix.SIOCETHTOOL, uintptr(unsafe.Pointer(&req)))
	runtime.KeepAlive(buf)
	if errno != 0 {
		return errno
	}
	return nil
}

// LinkSettings performs the two-step ETHTOOL_GLINKSETTINGS handshake: the first request
// carries link_mode_masks_nwords = 0 and the kernel answers with the negated size it
// wants; the second request asks with that size. Drivers without link settings answer
// EOPNOTSUPP, and then the legacy ETHTOOL_GSET is tried.
func (l *liveEthtool) LinkSettings(ifname string) (LinkSettings, error) {
	buf := make([]uint32, (linkSettingsHdrLen/4)+3*linkModeMaskMaxWords)
	b := unsafe.Slice((*byte)(unsafe.Pointer(&buf[0])), len(buf)*4)
	ne := binary.NativeEndian
	ne.PutUint32(b[0:], ethtoolGLINKSETTINGS)
	err := l.ioctl(ifname, buf)
	if err == nil {
		nwords := int8(b[lsNwordsOff])
		if nwords >= 0 || ne.Uint32(b[0:]) != ethtoolGLINKSETTINGS {
			return LinkSettings{}, fmt.Errorf("glinksettings handshake on %s: unexpected nwords %d", ifname, nwords)
		}
		clear(buf)
		ne.PutUint32(b[0:], ethtoolGLINKSETTINGS)
		b[lsNwordsOff] = byte(-nwords)
		if err := l.ioctl(ifname, buf); err != nil {
			return LinkSettings{}, err
		}
		return decodeLinkSettings(b)
	}
	if !isUnsupported(err) {
		return LinkSettings{}, err
	}
	return l.gset(ifname)
}

// decodeLinkSettings decodes a struct ethtool_link_settings answer.
func decodeLinkSettings(b []byte) (LinkSettings, error) {
	ne := binary.NativeEndian
	n := int(int8(b[lsNwordsOff]))
	if n <= 0 || n > linkModeMaskMaxWords || linkSettingsHdrLen+3*4*n > len(b) {
		return LinkSettings{}, fmt.Errorf("glinksettings: bad mask size %d", n)
	}
	s := LinkSettings{
		Speed:       ne.Uint32(b[4:]),
		Duplex:      b[8],
		Port:        b[9],
		Autoneg:     b[11],
		Transceiver: b[16],
	}
	s.Supported = make([]uint32, n)
	for i := range n {
		s.Supported[i] = ne.Uint32(b[linkSettingsHdrLen+4*i:])
	}
	return s, nil
}

// gset asks the legacy ETHTOOL_GSET (struct ethtool_cmd, 32-bit link mode masks).
func (l *liveEthtool) gset(ifname string) (LinkSettings, error) {
	buf := make([]uint32, 11)
	b := unsafe.Slice((*byte)(unsafe.Pointer(&buf[0])), len(buf)*4)
	ne := binary.NativeEndian
	ne.PutUint32(b[0:], ethtoolGSET)
	if err := l.ioctl(ifname, buf); err != nil {
		return LinkSettings{}, err
	}
	return LinkSettings{
		Speed:       uint32(ne.Uint16(b[28:]))<<16 | uint32(ne.Uint16(b[12:])),
		Duplex:      b[14],
		Port:        b[15],
		Transceiver: b[17],
		Autoneg:     b[18],
		Supported:   []uint32{ne.Uint32(b[4:])},
		Legacy:      true,
	}, nil
}
