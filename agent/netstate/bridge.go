package netstate

import (
	"errors"
	"fmt"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// The bridge settings and port states rtnetlink has but the netlink package does not decode
// (IFLA_BR_STP_STATE, IFLA_BR_FORWARD_DELAY, IFLA_BRPORT_STATE) are read and written here
// with raw requests, on sockets opened in the calling thread's namespace.

// portStates are the names of the kernel's bridge port states (BR_STATE_*).
var portStates = []string{"disabled", "listening", "learning", "forwarding", "blocking"}

// bridgeDetails reads every bridge's STP settings and every bridge port's state, by index.
func bridgeDetails() (map[int]BridgeAttrs, map[int]string, error) {
	bridges := map[int]BridgeAttrs{}
	if err := dumpLinks(unix.AF_UNSPEC, func(index int, attrs map[uint16][]byte) {
		info, ok := attrs[unix.IFLA_LINKINFO]
		if !ok {
			return
		}
		li, err := nl.ParseRouteAttrAsMap(info)
		if err != nil || string(trimNUL(li[nl.IFLA_INFO_KIND].Value)) != "bridge" {
			return
		}
		data, err := nl.ParseRouteAttrAsMap(li[nl.IFLA_INFO_DATA].Value)
		if err != nil {
			return
		}
		var b BridgeAttrs
		if v := data[nl.IFLA_BR_STP_STATE].Value; len(v) >= 4 {
			b.STP = nl.NativeEndian().Uint32(v) != 0
		}
		if v := data[nl.IFLA_BR_FORWARD_DELAY].Value; len(v) >= 4 {
			b.ForwardDelay = nl.NativeEndian().Uint32(v)
		}
		bridges[index] = b
	}); err != nil {
		return nil, nil, fmt.Errorf("read bridge settings: %w", err)
	}
	ports := map[int]string{}
	if err := dumpLinks(unix.AF_BRIDGE, func(index int, attrs map[uint16][]byte) {
		pi, ok := attrs[unix.IFLA_PROTINFO]
		if !ok {
			return
		}
		p, err := nl.ParseRouteAttrAsMap(pi)
		if err != nil {
			return
		}
		if v := p[nl.IFLA_BRPORT_STATE].Value; len(v) >= 1 && int(v[0]) < len(portStates) {
			ports[index] = portStates[v[0]]
		}
	}); err != nil {
		return nil, nil, fmt.Errorf("read bridge port states: %w", err)
	}
	return bridges, ports, nil
}

func trimNUL(b []byte) []byte {
	for len(b) > 0 && b[len(b)-1] == 0 {
		b = b[:len(b)-1]
	}
	return b
}

// dumpLinks dumps the links of family and calls f with each one's index and top-level
// attributes (their types without the nested flag).
func dumpLinks(family int, f func(index int, attrs map[uint16][]byte)) error {
	return retryDump(func() error {
		req := nl.NewNetlinkRequest(unix.RTM_GETLINK, unix.NLM_F_DUMP)
		req.AddData(nl.NewIfInfomsg(family))
		msgs, err := req.Execute(unix.NETLINK_ROUTE, unix.RTM_NEWLINK)
		if err != nil {
			if errors.Is(err, nl.ErrDumpInterrupted) {
				return netlink.ErrDumpInterrupted
			}
			return err
		}
		for _, m := range msgs {
			if len(m) < unix.SizeofIfInfomsg {
				continue
			}
			msg := nl.DeserializeIfInfomsg(m)
			attrs, err := nl.ParseRouteAttr(m[unix.SizeofIfInfomsg:])
			if err != nil {
				continue
			}
			byType := make(map[uint16][]byte, len(attrs))
			for _, a := range attrs {
				byType[a.Attr.Type&nl.NLA_TYPE_MASK] = a.Value
			}
			f(int(msg.Index), byType)
		}
		return nil
	})
}

// setBridgeSTP sets a bridge's STP state and forward delay (centiseconds). The kernel keeps a
// forward delay of at least 2 s while STP is on and reads the delay before the STP state, so a
// bridge that turns STP off has it turned off first.
func setBridgeSTP(index int, b BridgeAttrs) error {
	if !b.STP {
		if err := bridgeLinkinfo(index, nl.IFLA_BR_STP_STATE, 0); err != nil {
			return fmt.Errorf("turn off STP on bridge %d: %w", index, err)
		}
	}
	if err := bridgeLinkinfo(index, nl.IFLA_BR_FORWARD_DELAY, b.ForwardDelay); err != nil {
		return fmt.Errorf("set the forward delay of bridge %d to %d cs: %w", index, b.ForwardDelay, err)
	}
	if b.STP {
		if err := bridgeLinkinfo(index, nl.IFLA_BR_STP_STATE, 1); err != nil {
			return fmt.Errorf("turn on STP on bridge %d: %w", index, err)
		}
	}
	return nil
}

// bridgeLinkinfo sets one bridge attribute (IFLA_BR_*) of a bridge.
func bridgeLinkinfo(index, attr int, v uint32) error {
	req := nl.NewNetlinkRequest(unix.RTM_NEWLINK, unix.NLM_F_ACK)
	msg := nl.NewIfInfomsg(unix.AF_UNSPEC)
	msg.Index = int32(index)
	req.AddData(msg)
	info := nl.NewRtAttr(unix.IFLA_LINKINFO, nil)
	info.AddRtAttr(nl.IFLA_INFO_KIND, nl.NonZeroTerminated("bridge"))
	info.AddRtAttr(nl.IFLA_INFO_DATA, nil).AddRtAttr(attr, nl.Uint32Attr(v))
	req.AddData(info)
	_, err := req.Execute(unix.NETLINK_ROUTE, 0)
	return err
}
