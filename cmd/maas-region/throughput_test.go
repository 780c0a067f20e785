package main

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"maasgo/agent/throughput"
	"maasgo/region/regiontest"
	"maasgo/region/store/storetest"
)

// TestRegionAnswersThroughput: with --throughput-listen the region is a network-throughput
// peer (the test's default, the region's host); without it nothing listens there.
func TestRegionAnswersThroughput(t *testing.T) {
	addr := freeAddr(t)
	r := regiontest.Start(t, storetest.SQLite(t), "--throughput-listen", addr)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	o := throughput.Options{Peer: addr}
	var m throughput.Measurement
	var err error
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if m, err = throughput.Send(ctx, o, 200*time.Millisecond); err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		t.Fatalf("send to the region's throughput server: %v", err)
	}
	if m.Bytes == 0 {
		t.Errorf("the region counted no bytes: %+v", m)
	}
	if !strings.Contains(r.Logs(), "answering throughput tests") {
		t.Errorf("the region did not say it answers throughput tests:\n%s", r.Logs())
	}
	r.Stop()

	plain := regiontest.Start(t, storetest.SQLite(t))
	defer plain.Stop()
	if _, err := throughput.Send(ctx, throughput.Options{Peer: addr, DialTimeout: time.Second}, 200*time.Millisecond); err == nil {
		t.Errorf("a region without --throughput-listen answered on %s", addr)
	}
}

// freeAddr is a loopback address with a port nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
