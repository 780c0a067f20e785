// Package throughput measures TCP throughput between a machine's interface and a peer
// without iperf: a server (Serve) that anyone can run next to the region or on another
// machine, and a client (Measure) bound to the interface under test. One connection per
// direction: the client sends for a set duration and the server counts what arrived, then
// the server sends and the client counts.
//
// The protocol, all integers big-endian:
//
//	client → server  hello   "MAASTPUT" version(1) mode(1: 's' client sends, 'r' client receives) 0 0 duration-ms(4)
//	server → client  answer  "MAASTPUT" version(1) status(1: 0 go, 1 busy, 2 refused) message-length(2) message
//	then, mode 's'   client sends until the duration ends and shuts its side down;
//	                 server → client  report  bytes(8) nanoseconds from first to last byte(8)
//	      mode 'r'   server sends until the duration ends and shuts its side down; the client counts.
//
// The server measures one client at a time by default (others wait their turn, bounded),
// so that tests from several machines or ports do not share its link.
package throughput

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"
)

// DefaultPort is the port the server listens on and the client dials when none is given.
const DefaultPort = 5249

const (
	magic      = "MAASTPUT"
	version    = 1
	helloLen   = 16
	reportLen  = 16
	maxMessage = 512
)

// Modes: which side sends.
const (
	modeClientSends    byte = 's'
	modeClientReceives byte = 'r'
)

// Answer statuses.
const (
	statusGo      byte = 0
	statusBusy    byte = 1
	statusRefused byte = 2
)

// Duration bounds of one direction's measurement.
const (
	MinDuration = 100 * time.Millisecond
	MaxDuration = 5 * time.Minute
)

// ErrNotServer says the peer answered, but not as a throughput server.
var ErrNotServer = errors.New("the peer is not a throughput server (maas-run-scripts throughput serve)")

type hello struct {
	mode     byte
	duration time.Duration
}

func (h hello) encode() []byte {
	b := make([]byte, 0, helloLen)
	b = append(b, magic...)
	b = append(b, version, h.mode, 0, 0)
	return binary.BigEndian.AppendUint32(b, uint32(h.duration/time.Millisecond))
}

func readHello(r io.Reader) (hello, error) {
	var b [helloLen]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return hello{}, fmt.Errorf("read hello: %w", err)
	}
	if string(b[:8]) != magic {
		return hello{}, errors.New("not a throughput client")
	}
	if b[8] != version {
		return hello{}, fmt.Errorf("protocol version %d, want %d", b[8], version)
	}
	h := hello{mode: b[9], duration: time.Duration(binary.BigEndian.Uint32(b[12:])) * time.Millisecond}
	if h.mode != modeClientSends && h.mode != modeClientReceives {
		return h, fmt.Errorf("unknown mode %q", h.mode)
	}
	return h, nil
}

type answer struct {
	status  byte
	message string
}

func (a answer) encode() []byte {
	msg := a.message
	if len(msg) > maxMessage {
		msg = msg[:maxMessage]
	}
	b := append([]byte(magic), version, a.status)
	b = binary.BigEndian.AppendUint16(b, uint16(len(msg)))
	return append(b, msg...)
}

func readAnswer(r io.Reader) (answer, error) {
	var b [12]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return answer{}, ErrNotServer
		}
		return answer{}, err
	}
	if string(b[:8]) != magic || b[8] != version {
		return answer{}, ErrNotServer
	}
	n := int(binary.BigEndian.Uint16(b[10:]))
	if n > maxMessage {
		return answer{}, ErrNotServer
	}
	msg := make([]byte, n)
	if _, err := io.ReadFull(r, msg); err != nil {
		return answer{}, fmt.Errorf("read answer: %w", err)
	}
	return answer{status: b[9], message: string(msg)}, nil
}

// Measurement is what one direction moved: bytes from the first to the last byte's
// arrival, as the receiving side counted them.
type Measurement struct {
	Bytes   int64
	Elapsed time.Duration
}

// Mbps is the throughput in Mbit/s (10^6 bits per second); 0 when nothing was timed.
func (m Measurement) Mbps() float64 {
	if m.Elapsed <= 0 {
		return 0
	}
	return float64(m.Bytes) * 8 / m.Elapsed.Seconds() / 1e6
}

func (m Measurement) encode() []byte {
	b := binary.BigEndian.AppendUint64(nil, uint64(m.Bytes))
	return binary.BigEndian.AppendUint64(b, uint64(m.Elapsed))
}

func readReport(r io.Reader) (Measurement, error) {
	var b [reportLen]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return Measurement{}, fmt.Errorf("read the server's count: %w", err)
	}
	m := Measurement{Bytes: int64(binary.BigEndian.Uint64(b[:8])), Elapsed: time.Duration(binary.BigEndian.Uint64(b[8:]))}
	if m.Bytes < 0 || m.Elapsed < 0 {
		return Measurement{}, errors.New("read the server's count: out of range")
	}
	return m, nil
}
