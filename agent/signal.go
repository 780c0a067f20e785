package agent

import (
	"context"
	"io"

	"maasgo/wire"
)

// Signal is one op=signal request (protocol.md §4.3); Fields is its encoding and Files its
// file parts, which a transport sends after the fields.
type Signal = wire.Signal

// File is a file part of a signal: the part name (also its filename) and the file it streams.
type File = wire.SignalFile

// PyFloat renders f as Python's repr does: "60.0", "0.052366007", "1e+16".
func PyFloat(f float64) string { return wire.PyFloat(f) }

// Region is the part of the region's metadata API the runner uses. The HTTP implementation is
// NewRegion (over maasgo/client); tests use an in-process region that speaks the same wire
// format.
type Region interface {
	// Scripts fetches the scripts tar (GET <metadata>/<ver>/maas-scripts). ok is false when
	// the region answers 204 No Content: there is nothing to run. The caller closes body.
	Scripts(ctx context.Context) (body io.ReadCloser, ok bool, err error)
	// Signal posts one signal (POST <metadata>/<ver>/ op=signal) and returns nil only when
	// the region answered 200. A non-empty idempotencyKey is sent as the Idempotency-Key
	// header; the region stores a signal whose key it has seen before only once.
	Signal(ctx context.Context, sig Signal, idempotencyKey string) error
}
