package netcheck

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// DefaultTimeout bounds each target: name resolution and the probe together.
const DefaultTimeout = 15 * time.Second

// DefaultStubResolvConf is where systemd-resolved lists the name servers behind its local
// stub (127.0.0.53), which cannot be reached through another interface.
const DefaultStubResolvConf = "/run/systemd/resolve/resolv.conf"

// UserAgent is the User-Agent of fetches, upstream's.
const UserAgent = "maas_internet_connectivity_test"

// maxBody bounds what is read of a fetched body.
const maxBody = 1 << 20

// maxParallel bounds the targets probed at once.
const maxParallel = 16

// Options say what to check and through which interface.
type Options struct {
	// Interface is the interface every probe is bound to; "" binds none (the machine's
	// routes decide).
	Interface string
	// Targets are the targets to reach, each as ParseTarget reads it.
	Targets []string
	// Gateways adds the gateways routed through Interface (Gateways) as pinged targets.
	Gateways bool
	// Timeout bounds each target; zero: DefaultTimeout.
	Timeout time.Duration
	// Insecure fetches https:// URLs without checking the server's certificate.
	Insecure bool
	// StubResolvConf lists the name servers to ask when /etc/resolv.conf names only a local
	// stub resolver; "": DefaultStubResolvConf.
	StubResolvConf string
}

// Result is how one target went.
type Result struct {
	// Target is the target as given (a gateway's address for a gateway).
	Target string
	OK     bool
	// Latency is the round trip of a ping, the time to connect, or the time to an HTTP
	// response's headers.
	Latency time.Duration
	// Detail says more: the address that answered, the HTTP status, or why it failed.
	Detail string
}

// Line is the result as netcheck prints it: "OK  <target>  <latency>  (<detail>)" or
// "FAIL <target>  <why>".
func (r Result) Line() string {
	if !r.OK {
		return fmt.Sprintf("FAIL %s  %s", r.Target, r.Detail)
	}
	s := fmt.Sprintf("OK  %s  %s", r.Target, formatLatency(r.Latency))
	if r.Detail != "" {
		s += "  (" + r.Detail + ")"
	}
	return s
}

func formatLatency(d time.Duration) string {
	switch {
	case d >= time.Second:
		return d.Round(time.Millisecond).String()
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond).String()
	}
	return d.Round(time.Microsecond).String()
}

// Report is what a check found.
type Report struct {
	Results []Result
	// Skipped says why there was nothing to check (no gateway routed through the
	// interface); "" when there was.
	Skipped string
}

// Failed counts the targets that failed.
func (r Report) Failed() int {
	n := 0
	for _, res := range r.Results {
		if !res.OK {
			n++
		}
	}
	return n
}

// job is one target to probe.
type job struct {
	label   string
	target  Target
	err     error // the target could not be read
	gateway bool
}

// Run checks every target through the interface and writes one line per target to out,
// in the order given (gateways last), as each is known. Targets are probed in parallel,
// each within the timeout. The error is for what stops the check as a whole (no such
// interface, nothing to check); failed targets are in the report.
func Run(ctx context.Context, o Options, out io.Writer) (Report, error) {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.StubResolvConf == "" {
		o.StubResolvConf = DefaultStubResolvConf
	}
	b := &binder{ifname: o.Interface, stubConf: o.StubResolvConf}
	var ifc *iface
	if o.Interface != "" {
		var err error
		if ifc, err = lookupIface(o.Interface); err != nil {
			return Report{}, err
		}
		b.src4, b.src6 = ifc.src4, ifc.src6
	}
	var jobs []job
	for _, raw := range SplitTargets(o.Targets) {
		t, err := ParseTarget(raw)
		jobs = append(jobs, job{label: raw, target: t, err: err})
	}
	var rep Report
	if o.Gateways {
		gws, err := Gateways(o.Interface)
		if err != nil {
			return Report{}, err
		}
		for _, gw := range gws {
			jobs = append(jobs, job{label: gw.Addr.String(), target: Target{Kind: Ping, Scheme: "icmp", Host: gw.Addr.String()}, gateway: true})
		}
		if len(gws) == 0 && ifc != nil && !ifc.connected() {
			// A link that is down has no routes: that is the failure, not a reason to skip.
			r := Result{Target: "gateways", Detail: "no gateway can be reached (" + ifc.state() + ")"}
			fmt.Fprintln(out, r.Line())
			rep.Results = append(rep.Results, r)
			if len(jobs) == 0 {
				return rep, nil
			}
		} else if len(gws) == 0 {
			rep.Skipped = "no IPv4 or IPv6 gateway is routed through " + orAll(o.Interface)
			fmt.Fprintf(out, "SKIP gateways  %s\n", rep.Skipped)
			if len(jobs) == 0 {
				return rep, nil
			}
			rep.Skipped = ""
		}
	}
	if len(jobs) == 0 {
		return Report{}, errors.New("nothing to check: give targets (--url) or --gateways")
	}
	if ifc != nil && !ifc.carrier {
		// Nothing goes through a link without carrier: every target fails now, with the
		// link's state, rather than after its timeout.
		for _, j := range jobs {
			r := Result{Target: j.label, Detail: "not tried: " + ifc.state()}
			fmt.Fprintln(out, r.Line())
			rep.Results = append(rep.Results, r)
		}
		return rep, nil
	}
	results := make([]chan Result, len(jobs))
	sem := make(chan struct{}, maxParallel)
	var wg sync.WaitGroup
	for i, j := range jobs {
		results[i] = make(chan Result, 1)
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			results[i] <- b.probe(ctx, j, o)
		})
	}
	for i := range jobs {
		r := <-results[i]
		if !r.OK && ifc != nil {
			if now, err := lookupIface(ifc.name); err == nil && !now.connected() {
				r.Detail += " (" + now.state() + ")"
			}
		}
		fmt.Fprintln(out, r.Line())
		rep.Results = append(rep.Results, r)
	}
	wg.Wait()
	return rep, nil
}

func orAll(ifname string) string {
	if ifname == "" {
		return "any interface"
	}
	return ifname
}

// probe checks one target within the timeout.
func (b *binder) probe(ctx context.Context, j job, o Options) Result {
	r := Result{Target: j.label}
	if j.err != nil {
		r.Detail = j.err.Error()
		return r
	}
	ctx, cancel := context.WithTimeoutCause(ctx, o.Timeout, fmt.Errorf("no answer within %s", o.Timeout))
	defer cancel()
	var err error
	switch j.target.Kind {
	case Ping:
		r.Latency, r.Detail, err = b.pingHost(ctx, j.target.Host)
		if j.gateway && err == nil {
			r.Detail = "gateway"
		}
	case Connect:
		r.Latency, r.Detail, err = b.connect(ctx, j.target.Host, j.target.Port)
	case Fetch:
		r.Latency, r.Detail, err = b.fetch(ctx, j.target.URL, o.Insecure)
	default:
		err = fmt.Errorf("unknown kind of target %d", j.target.Kind)
	}
	if err != nil {
		r.Detail = err.Error()
		return r
	}
	r.OK = true
	return r
}

// pingHost pings each address of host in turn until one answers.
func (b *binder) pingHost(ctx context.Context, host string) (time.Duration, string, error) {
	addrs, err := b.lookup(ctx, host)
	if err != nil {
		return 0, "", err
	}
	var errs []error
	for i, a := range addrs {
		// Each address but the last gets its share of the time left.
		actx, cancel := shareOf(ctx, len(addrs)-i)
		rtt, err := b.ping(actx, a)
		cancel()
		if err == nil {
			detail := ""
			if a.String() != host {
				detail = a.String()
			}
			return rtt, detail, nil
		}
		errs = append(errs, err)
	}
	return 0, "", joinErrs(errs)
}

// connect opens a TCP connection to host:port, to each address of host in turn until one
// accepts.
func (b *binder) connect(ctx context.Context, host string, port uint16) (time.Duration, string, error) {
	addrs, err := b.lookup(ctx, host)
	if err != nil {
		return 0, "", err
	}
	d := &net.Dialer{Control: b.control}
	var errs []error
	for i, a := range addrs {
		actx, cancel := shareOf(ctx, len(addrs)-i)
		start := time.Now()
		c, err := d.DialContext(actx, "tcp", netip.AddrPortFrom(a, port).String())
		took := time.Since(start)
		cancel()
		if err == nil {
			c.Close()
			detail := ""
			if a.String() != host {
				detail = a.String()
			}
			return took, detail, nil
		}
		if errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("connect to %s: %w", netip.AddrPortFrom(a, port), context.Cause(actx))
		}
		errs = append(errs, err)
	}
	return 0, "", joinErrs(errs)
}

// fetch sends a GET for rawURL and reads (a bounded part of) the answer. Any HTTP answer
// counts: the server was reached (curl -I, upstream's check, passes on any status too).
// Redirects are followed, through the interface as well.
func (b *binder) fetch(ctx context.Context, rawURL string, insecure bool) (time.Duration, string, error) {
	d := b.dialer()
	var proxy string
	tr := &http.Transport{
		Proxy: func(r *http.Request) (*url.URL, error) {
			u, err := http.ProxyFromEnvironment(r)
			if u != nil {
				proxy = u.Host
			}
			return u, err
		},
		DialContext:       d.DialContext,
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: insecure},
		DisableKeepAlives: true,
		ForceAttemptHTTP2: true,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return 0, "", fmt.Errorf("fetch %s: %w", rawURL, err)
	}
	req.Header.Set("User-Agent", UserAgent)
	start := time.Now()
	resp, err := client.Do(req)
	took := time.Since(start)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the line names the URL already
		}
		if errors.Is(err, context.DeadlineExceeded) {
			err = context.Cause(ctx)
		}
		return 0, "", err
	}
	_, rerr := io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody))
	resp.Body.Close()
	detail := "HTTP " + strconv.Itoa(resp.StatusCode)
	if resp.Request != nil && resp.Request.URL.String() != rawURL {
		detail += " from " + resp.Request.URL.String()
	}
	if proxy != "" {
		detail += " via proxy " + proxy
	}
	if rerr != nil {
		return 0, "", fmt.Errorf("%s, then reading the body: %w", detail, rerr)
	}
	return took, detail, nil
}

// shareOf is ctx with 1/n of the time it has left.
func shareOf(ctx context.Context, n int) (context.Context, context.CancelFunc) {
	dl, ok := ctx.Deadline()
	if !ok || n <= 1 {
		return context.WithCancel(ctx)
	}
	left := time.Until(dl) / time.Duration(n)
	return context.WithTimeoutCause(ctx, left, fmt.Errorf("no answer within %s", left.Round(time.Millisecond)))
}

func joinErrs(errs []error) error {
	if len(errs) == 1 {
		return errs[0]
	}
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Error()
	}
	return errors.New(strings.Join(msgs, "; "))
}
