package lldp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"maasgo/wire"
)

// Conn is a packet socket that receives the LLDP frames arriving on one interface: bound
// to the interface and to EtherType 0x88cc, a member of the LLDP multicast groups (so
// frames arrive without promiscuous mode). Closing it leaves the groups; the interface's
// state is never changed.
type Conn struct {
	Ifname string
	f      *os.File
}

// Open opens the socket of ifname in the calling thread's network namespace. It needs
// CAP_NET_RAW.
func Open(ifname string) (*Conn, error) {
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return nil, fmt.Errorf("lldp on %s: %w", ifname, err)
	}
	// Protocol 0 receives nothing until bind names the interface and the EtherType, so no
	// frame of another interface can be queued in between.
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("lldp on %s: open packet socket: %w", ifname, err)
	}
	sa := &unix.SockaddrLinklayer{Protocol: htons(EtherType), Ifindex: ifi.Index}
	if err := unix.Bind(fd, sa); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("lldp on %s: bind packet socket: %w", ifname, err)
	}
	for _, mc := range Multicast {
		mreq := &unix.PacketMreq{Ifindex: int32(ifi.Index), Type: unix.PACKET_MR_MULTICAST, Alen: uint16(len(mc))}
		copy(mreq.Address[:], mc)
		if err := unix.SetsockoptPacketMreq(fd, unix.SOL_PACKET, unix.PACKET_ADD_MEMBERSHIP, mreq); err != nil {
			unix.Close(fd)
			return nil, fmt.Errorf("lldp on %s: join multicast group %s: %w", ifname, mc, err)
		}
	}
	return &Conn{Ifname: ifname, f: os.NewFile(uintptr(fd), "lldp:"+ifname)}, nil
}

// Close closes the socket.
func (c *Conn) Close() error { return c.f.Close() }

// htons converts a 16-bit value to network byte order, as the packet socket's protocol
// field wants it.
func htons(v uint16) uint16 { return v<<8 | v>>8 }

// Heard is what one interface heard: its neighbours (at most
// wire.MaxNeighboursPerInterface, sorted by chassis then port) and how many frames were
// malformed and ignored.
type Heard struct {
	Neighbours []wire.Neighbour
	Malformed  int
}

// Listen reads frames until the deadline or until ctx ends, and returns the neighbours
// heard: the latest frame of each chassis and port counts; a frame with a TTL of 0 (an
// agent shutting down) removes its neighbour. Malformed frames are counted and ignored.
// Frames the interface sends itself never arrive: the kernel shows outgoing frames only to
// sockets bound to every EtherType.
func (c *Conn) Listen(ctx context.Context, deadline time.Time) (Heard, error) {
	if err := c.f.SetReadDeadline(deadline); err != nil {
		return Heard{}, fmt.Errorf("lldp on %s: %w", c.Ifname, err)
	}
	stop := context.AfterFunc(ctx, func() { c.f.SetReadDeadline(time.Now()) })
	defer stop()
	rc, err := c.f.SyscallConn()
	if err != nil {
		return Heard{}, fmt.Errorf("lldp on %s: %w", c.Ifname, err)
	}
	var h Heard
	byKey := map[string]wire.Neighbour{}
	buf := make([]byte, maxFrame)
	for {
		var (
			n     int
			rerr  error
			trunc bool
		)
		err := rc.Read(func(fd uintptr) bool {
			var flags int
			n, _, flags, _, rerr = unix.Recvmsg(int(fd), buf, nil, unix.MSG_TRUNC)
			trunc = n > len(buf) || flags&unix.MSG_TRUNC != 0
			return rerr != unix.EAGAIN
		})
		if errors.Is(err, os.ErrDeadlineExceeded) {
			break
		}
		if err == nil && errors.Is(rerr, unix.EINTR) {
			continue
		}
		if err == nil {
			err = rerr
		}
		if err != nil {
			return h, fmt.Errorf("lldp on %s: receive: %w", c.Ifname, err)
		}
		if trunc {
			h.Malformed++
			continue
		}
		nb, perr := ParseFrame(buf[:n])
		if perr != nil {
			h.Malformed++
			continue
		}
		key := nb.ChassisIDType + "\x00" + nb.ChassisID + "\x00" + nb.PortIDType + "\x00" + nb.PortID
		switch _, known := byKey[key]; {
		case nb.TTL == 0:
			delete(byKey, key)
		case known || len(byKey) < wire.MaxNeighboursPerInterface:
			byKey[key] = nb
		}
	}
	if ctx.Err() != nil && time.Now().Before(deadline) {
		return h, fmt.Errorf("lldp on %s: %w", c.Ifname, ctx.Err())
	}
	h.Neighbours = make([]wire.Neighbour, 0, len(byKey))
	for _, nb := range byKey {
		h.Neighbours = append(h.Neighbours, nb)
	}
	slices.SortFunc(h.Neighbours, func(a, b wire.Neighbour) int {
		if c := strings.Compare(a.ChassisID, b.ChassisID); c != 0 {
			return c
		}
		return strings.Compare(a.PortID, b.PortID)
	})
	return h, nil
}

// ListenAll listens on every conn at once for wait and returns what each heard, by
// interface name. The first error (or ctx ending) is returned after every conn stopped.
func ListenAll(ctx context.Context, conns []*Conn, wait time.Duration) (map[string]Heard, error) {
	deadline := time.Now().Add(wait)
	out := make(map[string]Heard, len(conns))
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	for _, c := range conns {
		wg.Go(func() {
			h, err := c.Listen(ctx, deadline)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			out[c.Ifname] = h
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		return out, errors.Join(errs...)
	}
	return out, nil
}
