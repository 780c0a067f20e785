package agent

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"maasgo/wire"
)

// sudoEnv are the variables sudo keeps for the installers (upstream 3.7.3's list).
const sudoEnv = "DEBIAN_FRONTEND,http_proxy,https_proxy,no_proxy,HTTP_PROXY,HTTPS_PROXY,NO_PROXY,PYTHONPATH,LD_PRELOAD,PEBBLE"

// privileged prefixes argv with sudo when the runner is not root.
func (r *run) privileged(argv ...string) []string {
	if !r.a.Sudo {
		return argv
	}
	return append([]string{"sudo", "-n", "--preserve-env=" + sudoEnv}, argv...)
}

// installFailure is a failed installer command.
type installFailure struct {
	exit int
	err  error
}

// install installs the packages of group[0] (the same for the whole group) before the
// scripts run (protocol.md §6.6). The installers' output goes to group[0]'s output files. On
// failure every script of the group gets its result: INSTALLING with the installer's exit
// status and output, which the region records as FAILED_INSTALLING. It reports whether the
// scripts may run.
func (r *run) install(ctx context.Context, pc *phaseCtx, group []*Script) bool {
	pk := group[0].Packages
	if pk.Empty() {
		return true
	}
	o := r.outputs(group[0])
	if err := o.reset(); err != nil {
		r.failGroup(pc, group, o, wire.SignalInstalling, wire.ScriptFailedInstalling, 1, err.Error(), "Failed installing package(s) for %s")
		return false
	}
	err := os.MkdirAll(r.downloadPath(group[0]), 0o755)
	var sink *outputSink
	if err == nil {
		sink, err = openSink(o, r.maxOutput())
	}
	if err != nil {
		r.failGroup(pc, group, o, wire.SignalInstalling, wire.ScriptFailedInstalling, 1, err.Error(), "Failed installing package(s) for %s")
		return false
	}
	var fail *installFailure
	for _, kind := range []struct {
		name, msg string
		n         int
		run       func(context.Context, wire.Packages, *outputSink, string) *installFailure
	}{
		{"apt", "Installing apt packages for %s", len(pk.Apt), r.installApt},
		{"snap", "Installing snap packages for %s", len(pk.Snap), r.installSnap},
		{"url", "Downloading and extracting URLs for %s", len(pk.URL), r.installURL},
	} {
		if kind.n == 0 {
			continue
		}
		for _, s := range group {
			r.emitStep(pc, s, "install-"+kind.name, s.ScriptSignal(wire.SignalInstalling, fmt.Sprintf(kind.msg, s.MsgName())))
		}
		if fail = kind.run(ctx, pk, sink, r.downloadPath(group[0])); fail != nil {
			break
		}
	}
	closeErr := sink.Close()
	if fail == nil && closeErr == nil {
		return true
	}
	if fail == nil {
		fail = &installFailure{exit: 1, err: closeErr}
	}
	if fail.err != nil {
		appendText(o, fmt.Sprintf("\n%v\n", fail.err))
	}
	r.failGroup(pc, group, o, wire.SignalInstalling, wire.ScriptFailedInstalling, fail.exit, "", "Failed installing package(s) for %s")
	return false
}

// runInstaller runs one installer command into sink.
func (r *run) runInstaller(ctx context.Context, sink *outputSink, extra io.Writer, argv ...string) *installFailure {
	return r.runCommand(ctx, sink, extra, nil, argv...)
}

// runCommand runs one installer command into sink (and extra) with env added to the
// installers' environment.
func (r *run) runCommand(ctx context.Context, sink *outputSink, extra io.Writer, env []string, argv ...string) *installFailure {
	stdout, stderr := sink.Stdout, sink.Stderr
	if extra != nil {
		stdout, stderr = teeWriter{stdout, extra}, teeWriter{stderr, extra}
	}
	fmt.Fprintf(sink.Stdout, "$ %s\n", strings.Join(argv, " "))
	rc, err := r.commands().Run(ctx, argv, append([]string{"DEBIAN_FRONTEND=noninteractive"}, env...), stdout, stderr)
	if err != nil {
		fmt.Fprintf(sink.Stderr, "%v\n", err)
		if rc == 0 {
			rc = 127
		}
		return &installFailure{exit: rc}
	}
	if rc != 0 {
		return &installFailure{exit: rc}
	}
	return nil
}

func (r *run) installApt(ctx context.Context, pk wire.Packages, sink *outputSink, _ string) *installFailure {
	if _, err := os.Stat(filepath.Join(r.a.Roots.Var, "cache", "apt", "pkgcache.bin")); err != nil {
		if f := r.runInstaller(ctx, sink, nil, r.privileged("apt-get", "-qy", "update")...); f != nil {
			return f
		}
	}
	argv := r.privileged(append([]string{"apt-get", "-qy", "--no-install-recommends", "install"}, pk.Apt...)...)
	return r.runInstaller(ctx, sink, nil, argv...)
}

// SnapArgs is the snap install command of one snap, as upstream builds it.
func SnapArgs(p wire.SnapPackage) []string {
	argv := []string{"snap", "install", p.Name}
	if p.Channel != "" {
		argv = append(argv, "--"+p.Channel)
	}
	switch p.Mode {
	case "":
	case "classic":
		argv = append(argv, "--classic")
	default:
		argv = append(argv, "--"+p.Mode+"mode")
	}
	return argv
}

func (r *run) installSnap(ctx context.Context, pk wire.Packages, sink *outputSink, _ string) *installFailure {
	for _, p := range pk.Snap {
		if f := r.runInstaller(ctx, sink, nil, r.privileged(SnapArgs(p)...)...); f != nil {
			return f
		}
	}
	return nil
}

// savingTo matches wget's "Saving to: 'file'" line.
var savingTo = regexp.MustCompile(`^Saving to: ['‘](.+)['’]$`)

// wgetConnected matches wget's line for a connection made: "Connecting to HOST... connected."
var wgetConnected = regexp.MustCompile(`^Connecting to .*\.\.\. (connected)\.$`)

// lineWatcher remembers the last line matching re, reading lines of at most 4 KiB.
type lineWatcher struct {
	mu   sync.Mutex
	re   *regexp.Regexp
	line []byte
	last string
}

func (w *lineWatcher) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, c := range p {
		if c == '\n' {
			if m := w.re.FindSubmatch(bytes.TrimRight(w.line, "\r")); m != nil {
				w.last = string(m[1])
			}
			w.line = w.line[:0]
			continue
		}
		if len(w.line) < 4096 {
			w.line = append(w.line, c)
		}
	}
	return len(p), nil
}

// urlTries bounds the attempts at one URL package when --give-up-after does not: wget's own
// default number of tries.
const urlTries = 20

// wgetNetworkFailure is wget's exit status for a network failure: a connection refused or
// broken, or a read that received nothing for --read-timeout.
const wgetNetworkFailure = 4

func (r *run) installURL(ctx context.Context, pk wire.Packages, sink *outputSink, downloadPath string) *installFailure {
	for _, u := range pk.URL {
		file, f := r.fetchURL(ctx, sink, u, downloadPath)
		if f != nil {
			return f
		}
		if file == "" {
			continue // wget did not say where it saved the file
		}
		switch {
		case isTar(file):
			if err := extractFile(file, downloadPath); err != nil {
				return &installFailure{exit: 1, err: err}
			}
		case isZip(file):
			if err := extractZip(file, downloadPath); err != nil {
				return &installFailure{exit: 1, err: err}
			}
		case strings.HasSuffix(file, ".deb"):
			// dpkg may fail only for want of dependencies, which apt-get then installs.
			r.runInstaller(ctx, sink, nil, r.privileged("dpkg", "-i", file)...)
			if f := r.runInstaller(ctx, sink, nil, r.privileged("apt-get", "install", "-qyf", "--no-install-recommends")...); f != nil {
				return f
			}
		case strings.HasSuffix(file, ".snap"):
			if f := r.runInstaller(ctx, sink, nil, r.privileged("snap", "install", "--dangerous", file)...); f != nil {
				return f
			}
		}
	}
	return nil
}

// fetchURL downloads u into downloadPath with wget and returns the file wget saved ("" when
// it did not say). wget reads with the runner's idle timeout, so a server that stops sending
// fails the attempt instead of holding the run (wget's own default is 15 minutes per read, 20
// times over). A transfer that broke or stalled after wget reached the server is retried with
// the runner's backoff, from the start (the partial file is removed), for at most urlTries
// attempts and no longer than GiveUpAfter; a server that cannot be reached at all (refused,
// unknown host) fails at once, as wget and upstream do.
func (r *run) fetchURL(ctx context.Context, sink *outputSink, u, downloadPath string) (string, *installFailure) {
	readTimeout := "--read-timeout=" + strconv.FormatFloat(r.a.IdleTimeout.Seconds(), 'f', -1, 64)
	first := time.Now()
	for attempt := 1; ; attempt++ {
		saved := &lineWatcher{re: savingTo}
		reached := &lineWatcher{re: wgetConnected}
		// LC_ALL=C: the lines watched are wget's English ones.
		f := r.runCommand(ctx, sink, io.MultiWriter(saved, reached), []string{"LC_ALL=C"},
			"wget", u, "-P", downloadPath, readTimeout, "--tries=1")
		saved.Write([]byte("\n"))
		reached.Write([]byte("\n"))
		file := saved.last
		if file != "" && !filepath.IsAbs(file) {
			if wd, err := os.Getwd(); err == nil {
				file = filepath.Join(wd, file)
			}
		}
		if f == nil {
			return file, nil
		}
		if f.exit != wgetNetworkFailure || reached.last == "" || ctx.Err() != nil {
			return "", f
		}
		if attempt >= urlTries || (r.a.GiveUpAfter > 0 && time.Since(first) >= r.a.GiveUpAfter) {
			fmt.Fprintf(sink.Stderr, "download %s: gave up after %d attempts in %s\n", u, attempt, FormatRuntime(time.Since(first)))
			return "", f
		}
		if file != "" {
			// Left by the failed attempt; the next one would save beside it as FILE.1.
			_ = os.Remove(file)
		}
		d := r.a.Backoff.Delay(attempt)
		fmt.Fprintf(sink.Stderr, "download %s: the transfer broke or stalled (wget exit %d); retrying in %s\n", u, f.exit, FormatRuntime(d))
		r.a.Log.Warn("URL package download failed; retrying", "url", u, "exit", f.exit, "in", d.Round(time.Millisecond))
		if sleepCtx(ctx, d) != nil {
			return "", f
		}
	}
}
