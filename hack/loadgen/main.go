// Command loadgen measures a region: it can seed machines, then sends signed requests to one
// path from several workers for a while and prints requests per second and latencies.
//
//	go run ./hack/loadgen -url http://127.0.0.1:5240/MAAS -key CK:TK:TS -seed 1000 -path api/2.0/machines/ -c 4 -d 10s
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"maasgo/client"
	"maasgo/wire"
)

func main() {
	base := flag.String("url", "http://127.0.0.1:5240/MAAS", "region URL")
	key := flag.String("key", "", "API key consumer:token:secret")
	seed := flag.Int("seed", 0, "create this many deployed machines first")
	path := flag.String("path", "api/2.0/machines/", "path to GET, relative to -url")
	conc := flag.Int("c", 4, "concurrent workers")
	dur := flag.Duration("d", 10*time.Second, "how long to send requests")
	flag.Parse()
	creds, err := wire.ParseCredentials(*key)
	if err != nil {
		fail("-key: %v", err)
	}
	c := client.New(creds, &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *conc}})
	do := func(method, p string, form url.Values) (int, int, error) {
		req := &client.Request{Method: method, URL: strings.TrimSuffix(*base, "/") + "/" + p}
		if form != nil {
			req.Body = client.Form(form)
		}
		resp, err := c.Do(context.Background(), req)
		if err != nil {
			return 0, 0, err
		}
		defer resp.Body.Close()
		n, err := io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, int(n), err
	}
	if *seed > 0 {
		start := time.Now()
		for i := 0; i < *seed; i++ {
			mac := fmt.Sprintf("02:00:%02x:%02x:%02x:01", i>>16&0xff, i>>8&0xff, i&0xff)
			code, _, err := do("POST", "api/2.0/machines/", url.Values{"hostname": {fmt.Sprintf("load-%05d", i)},
				"deployed": {"true"}, "architecture": {"amd64"}, "mac_addresses": {mac}})
			if err != nil || code != 200 {
				fail("seed machine %d: status %d, %v", i, code, err)
			}
		}
		fmt.Printf("seeded %d machines in %.1f s\n", *seed, time.Since(start).Seconds())
	}
	var mu sync.Mutex
	var lat []time.Duration
	var bytes, errs int
	stop := time.Now().Add(*dur)
	var wg sync.WaitGroup
	for w := 0; w < *conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(stop) {
				t0 := time.Now()
				code, n, err := do("GET", *path, nil)
				d := time.Since(t0)
				mu.Lock()
				if err != nil || code != 200 {
					errs++
				} else {
					lat = append(lat, d)
					bytes += n
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(lat) == 0 {
		fail("no successful request (%d errors)", errs)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(p float64) time.Duration { return lat[int(float64(len(lat)-1)*p)] }
	fmt.Printf("GET %s: %d requests in %s with %d workers: %.1f req/s, %.1f MB/s, p50 %s, p99 %s, errors %d, body %d bytes\n",
		*path, len(lat), *dur, *conc, float64(len(lat))/dur.Seconds(), float64(bytes)/dur.Seconds()/1e6,
		pct(0.5).Round(time.Microsecond), pct(0.99).Round(time.Microsecond), errs, bytes/len(lat))
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "loadgen: "+format+"\n", args...)
	os.Exit(1)
}
