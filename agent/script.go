package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"maasgo/wire"
)

// runScript runs one script result and journals its result (protocol.md §6.4): "Starting",
// then the result with its files. A script interrupted by the runner's own end records
// nothing, so that resume runs it again.
func (r *run) runScript(ctx context.Context, pc *phaseCtx, s *Script) {
	if ctx.Err() != nil {
		return
	}
	o := r.outputs(s)
	firstStart := r.emitStep(pc, s, "start", r.scriptSignal(s, wire.SignalWorking, "Starting "+s.MsgName()))
	hasStarted := !firstStart || (s.HasStarted != nil && *s.HasStarted)
	if err := o.reset(); err != nil {
		r.failGroup(pc, []*Script{s}, o, wire.SignalWorking, wire.ScriptFailed, 2, err.Error(), "Failed to execute %s: 2")
		return
	}
	if err := os.MkdirAll(r.downloadPath(s), 0o755); err != nil {
		r.failGroup(pc, []*Script{s}, o, wire.SignalWorking, wire.ScriptFailed, 2, err.Error(), "Failed to execute %s: 2")
		return
	}
	scriptPath := filepath.Join(r.scriptsDir, filepath.FromSlash(s.Path))
	r.resMu.Lock()
	inv, err := r.res.resolve(s, scriptPath)
	found := ""
	if err != nil {
		found = r.res.describe()
	}
	r.resMu.Unlock()
	if err != nil {
		msg := strings.TrimPrefix(err.Error(), errParams.Error()+": ")
		diag := fmt.Sprintf("Unable to run '%s': %s\n\nGiven parameters:\n%s\n\n%s", s.Name, msg, describeParams(s), found)
		r.fail(pc, s, o, diag, 2, "Failed to execute %s: 2", nil)
		return
	}

	sink, err := openSink(o, r.maxOutput())
	if err != nil {
		r.fail(pc, s, o, err.Error(), 2, "Failed to execute %s: 2", nil)
		return
	}
	res := runProcess(ctx, inv.Argv, r.env(pc, s, o, inv, hasStarted), inv.Timeout, r.a.TimeoutGrace, sink, r.a.NiceScripts,
		r.track(pc, s))
	closeErr := sink.Close()
	if ctx.Err() != nil {
		return // interrupted: resume runs it again
	}
	if res.StartErr != nil {
		diag := fmt.Sprintf("Unable to execute %s: %s\n", s.Path, res.Diagnosis)
		r.fail(pc, s, o, diag, 2, "Failed to execute %s: 2", &res)
		return
	}

	exit := res.ExitStatus
	r.checkLinkConnected(s, inv, o, exit)
	var bmc *Signal
	if pc.allowBMC && s.Parallel == wire.ParallelDisabled && exit == 0 {
		var berr error
		if bmc, berr = r.bmcSignal(s); berr != nil {
			exit = 1
			appendText(o, fmt.Sprintf("\n\nError: Unable to send BMC config to MAAS - %v\n", berr))
		}
	}
	check := checkResultFile(o.Result, inv.Interface != "")
	// Output that could not be kept (the storage directory is full, say) means the region
	// gets less than the script printed: the result is not a pass, and says why. As upstream
	// does when the BMC configuration cannot be sent, a script that exited 0 is reported
	// with exit status 1; the message keeps the script's own.
	lost := closeErr != nil
	sigExit := exit
	if lost {
		r.a.Log.Error("the output of a script could not be kept; its result is failed", "script", s.Name, "error", closeErr)
		appendText(o, fmt.Sprintf("\n[maas-run-scripts: the output could not be kept: %v]\n", closeErr))
		if exit == 0 {
			sigExit = 1
		}
	}

	oc := Outcome{Phase: pc.phase.Type, Name: s.Name, ID: s.ID, ExitStatus: exit, Runtime: res.Runtime, OutDir: o.Dir, OutputLost: lost}
	status := wire.SignalWorking
	var msg string
	switch {
	case res.TimedOut:
		status = wire.SignalTimedOut
		oc.Status = wire.ScriptTimedOut
		msg = fmt.Sprintf("Timeout(%s) expired on %s", wire.FormatTimedelta(inv.Timeout), s.MsgName())
	case exit == 0 && !lost:
		oc.Status = wire.ScriptPassed
		msg = fmt.Sprintf("Finished %s: %d", s.MsgName(), exit)
	default:
		oc.Status = wire.ScriptFailed
		msg = fmt.Sprintf("Finished %s: %d", s.MsgName(), exit)
	}
	if check.Status != nil && !lost {
		oc.Status = *check.Status
	}
	var notes []string
	if lost {
		notes = append(notes, "its output could not be kept: "+closeErr.Error())
	}
	if check.Problem != "" {
		notes = append(notes, fmt.Sprintf("the result file %s.yaml is invalid: %s", s.Name, check.Problem))
	}
	if len(notes) > 0 {
		oc.Note = strings.Join(notes, "; ")
		msg += " (" + oc.Note + ")"
	}
	if bmc != nil {
		r.emit("bmc-config", kindSignal, *bmc, nil)
	}
	sig := r.scriptSignal(s, status, msg)
	sig.ExitStatus = &sigExit
	rt := res.Runtime.Seconds()
	sig.Runtime = &rt
	sig.Files = existingFiles(s, o, false)
	r.finish(pc, s, sig, oc)
}

// fail records a script that could not be run: its diagnostic becomes the combined and stderr
// output.
func (r *run) fail(pc *phaseCtx, s *Script, o outputFiles, diag string, exit int, msgFormat string, res *procResult) {
	if err := o.writeDiagnostic(diag); err != nil {
		r.logf("%s: write diagnostic: %v", s.Name, err)
	}
	sig := r.scriptSignal(s, wire.SignalWorking, fmt.Sprintf(msgFormat, s.MsgName()))
	sig.ExitStatus = &exit
	oc := Outcome{Phase: pc.phase.Type, Name: s.Name, ID: s.ID, Status: wire.ScriptFailed, ExitStatus: exit, OutDir: o.Dir,
		Note: strings.TrimSpace(strings.SplitN(diag, "\n", 2)[0])}
	if res != nil {
		rt := res.Runtime.Seconds()
		sig.Runtime = &rt
		oc.Runtime = res.Runtime
	}
	sig.Files = existingFiles(s, o, true)
	r.finish(pc, s, sig, oc)
}

// env is a script's environment (protocol.md §6.4): the runner's, plus the paths and
// settings of this result.
func (r *run) env(pc *phaseCtx, s *Script, o outputFiles, inv invocation, hasStarted bool) []string {
	base := r.a.Env
	if base == nil {
		base = os.Environ()
	}
	env := append([]string(nil), base...)
	hasFrontend := false
	for _, kv := range base {
		if strings.HasPrefix(kv, "DEBIAN_FRONTEND=") {
			hasFrontend = true
		}
	}
	if !hasFrontend {
		env = append(env, "DEBIAN_FRONTEND=noninteractive")
	}
	if u := BaseURL(r.a.Endpoint.MetadataURL); u != "" {
		env = append(env, "MAAS_BASE_URL="+u)
	}
	started := "False"
	if hasStarted {
		started = "True"
	}
	env = append(env,
		"MAAS_RESOURCES_FILE="+r.resources,
		"MAAS_MACHINE_EXTRA_FILE=/machine-extra.json",
		"MAAS_STORAGE_CONFIG_FILE=/storage-config.json",
		"OUTPUT_COMBINED_PATH="+o.Combined,
		"OUTPUT_STDOUT_PATH="+o.Stdout,
		"OUTPUT_STDERR_PATH="+o.Stderr,
		"RESULT_PATH="+o.Result,
		"DOWNLOAD_PATH="+r.downloadPath(s),
		"RUNTIME="+inv.Runtime,
		"HAS_STARTED="+started,
	)
	if r.a.Self != "" {
		env = append(env, "MAAS_RUN_SCRIPTS="+r.a.Self)
	}
	if r.a.MachineRoot != "" {
		env = append(env, "MAAS_MACHINE_ROOT="+r.a.MachineRoot)
	}
	if pc.allowBMC && s.Parallel == wire.ParallelDisabled {
		env = append(env, "BMC_CONFIG_PATH="+r.bmcConfigPath())
	}
	return env
}

func (r *run) bmcConfigPath() string { return filepath.Join(r.configDir, "bmc-config.yaml") }

// bmcSignal reads the BMC configuration a serial commissioning script wrote, once per run
// (upstream uploads it once). It returns nil when there is nothing to send.
func (r *run) bmcSignal(s *Script) (*Signal, error) {
	if _, done := r.j.Lookup("bmc-config"); done {
		return nil, nil
	}
	data, err := os.ReadFile(r.bmcConfigPath())
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	powerType, params, err := ParseBMCConfig(data)
	if err != nil {
		return nil, err
	}
	sig := r.scriptSignal(s, wire.SignalWorking, "BMC credentials reconfigured by "+s.Name)
	sig.PowerType, sig.PowerParameters = powerType, params
	return &sig, nil
}

// describeParams lists a script's parameters for a diagnostic.
func describeParams(s *Script) string {
	if len(s.Parameters) == 0 {
		return "  (none)"
	}
	names := make([]string, 0, len(s.Parameters))
	for n := range s.Parameters {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		p := s.Parameters[n]
		fmt.Fprintf(&b, "  %s: type %s, value %s\n", n, p.Type, pyStr(p.Value))
	}
	return strings.TrimRight(b.String(), "\n")
}
