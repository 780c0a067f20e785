package agent

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"maasgo/wire"
)

// prepareOutput empties script s's output directory and makes its download directory
// (DOWNLOAD_PATH) before it runs. When it cannot, the script's result is failed with the
// reason.
func (r *run) prepareOutput(pc *phaseCtx, s *Script) (outputFiles, bool) {
	o := r.outputs(s)
	err := o.reset()
	if err == nil {
		err = os.MkdirAll(r.downloadPath(s), 0o755)
	}
	if err != nil {
		r.failGroup(pc, []*Script{s}, o, wire.SignalWorking, wire.ScriptFailed, 2, err.Error(), "Failed to execute %s: 2")
		return o, false
	}
	return o, true
}

// captured is a script's result as capture makes it: its outcome, the signal that reports
// it, and the BMC configuration the script wrote (nil: none, or not this script's to send).
type captured struct {
	sig Signal
	oc  Outcome
	bmc *Signal
}

// capture is a script's capture step: from how its process ended and what it left (the
// output files, the result file, the BMC configuration of a serial commissioning script), the
// outcome and the signal that reports it, with the files the region gets.
func (r *run) capture(pc *phaseCtx, s *Script, o outputFiles, inv invocation, res procResult, closeErr error) captured {
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
	sig := s.ScriptSignal(status, msg)
	sig.ExitStatus = &sigExit
	rt := res.Runtime.Seconds()
	sig.Runtime = &rt
	sig.Files = existingFiles(s, o, false)
	return captured{sig: sig, oc: oc, bmc: bmc}
}

// bmcConfigPath is where a serial commissioning script writes the BMC configuration
// (BMC_CONFIG_PATH).
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
	sig := s.ScriptSignal(wire.SignalWorking, "BMC credentials reconfigured by "+s.Name)
	sig.PowerType, sig.PowerParameters = powerType, params
	return &sig, nil
}

// fail records a script that could not be run: its diagnostic becomes the combined and stderr
// output.
func (r *run) fail(pc *phaseCtx, s *Script, o outputFiles, diag string, exit int, msgFormat string, res *procResult) {
	if err := o.writeDiagnostic(diag); err != nil {
		r.logf("%s: write diagnostic: %v", s.Name, err)
	}
	sig := s.ScriptSignal(wire.SignalWorking, fmt.Sprintf(msgFormat, s.MsgName()))
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

// failGroup records the failed result of every script of a group whose preparation (package
// installation, network configuration, the output directory) failed, with the output of that
// step.
func (r *run) failGroup(pc *phaseCtx, group []*Script, o outputFiles, status string, outcome wire.ScriptStatus, exit int, diag, msgFormat string) {
	if diag != "" {
		appendText(o, diag+"\n")
	}
	for _, s := range group {
		msg := msgFormat
		if strings.Contains(msgFormat, "%s") {
			msg = fmt.Sprintf(msgFormat, s.MsgName())
		}
		sig := s.ScriptSignal(status, msg)
		sig.ExitStatus = &exit
		sig.Files = existingFiles(s, o, false)
		oc := Outcome{Phase: pc.phase.Type, Name: s.Name, ID: s.ID, Status: outcome, ExitStatus: exit, OutDir: o.Dir}
		r.finish(pc, s, sig, oc)
	}
}
