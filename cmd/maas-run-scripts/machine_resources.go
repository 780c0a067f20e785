package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"maasgo/collectors"
)

// machineResourcesOpts are the flags of machine-resources.
type machineResourcesOpts struct {
	root         string
	snapshot     string
	snapshotOut  string
	pretty       bool
	verbose      bool
	input        string
	storageExtra string
	machineExtra string
}

// newMachineResourcesCmd builds "machine-resources".
//
// Synopsis:
//
//	machine-resources [--root DIR | --snapshot FILE] [--snapshot-out FILE] [--pretty] [--verbose]
//	machine-resources --input FILE [--storage-extra FILE] [--machine-extra FILE] [--pretty]
//
// The first form collects the hardware inventory (spec/hardware.md §2) of the running
// machine, of a machine tree (--root) or of a snapshot (--snapshot), and can write a
// snapshot of everything it read (--snapshot-out). The second form re-emits a document
// with the storage-extra and machine-extra keys added, for 50-maas-01-commissioning.
func newMachineResourcesCmd() *cobra.Command {
	var o machineResourcesOpts
	cmd := &cobra.Command{
		Use:   "machine-resources",
		Short: "Print the machine's hardware inventory as machine-resources JSON",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runMachineResources(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), o)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.root, "root", "", "read a machine tree (an unpacked snapshot) below `DIR` instead of the running machine")
	fl.StringVar(&o.snapshot, "snapshot", "", "read the snapshot `FILE` (.tar.xz) instead of the running machine")
	fl.StringVar(&o.snapshotOut, "snapshot-out", "", "write everything read to the snapshot `FILE` (.tar.xz)")
	fl.BoolVar(&o.pretty, "pretty", false, "indent the JSON")
	fl.BoolVar(&o.verbose, "verbose", false, "log collector timings and errors to stderr")
	fl.StringVar(&o.input, "input", "", "re-emit the document in `FILE` instead of collecting")
	fl.StringVar(&o.storageExtra, "storage-extra", "", "with --input: add the JSON in `FILE` as storage-extra, when it exists")
	fl.StringVar(&o.machineExtra, "machine-extra", "", "with --input: add the JSON in `FILE` as machine-extra, when it exists")
	return cmd
}

func runMachineResources(ctx context.Context, stdout, stderr io.Writer, o machineResourcesOpts) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if o.input != "" {
		if o.root != "" || o.snapshot != "" || o.snapshotOut != "" {
			return errors.New("--input cannot be combined with --root, --snapshot or --snapshot-out")
		}
		return reemit(stdout, o)
	}
	if o.storageExtra != "" || o.machineExtra != "" {
		return errors.New("--storage-extra and --machine-extra need --input")
	}
	if o.root != "" && o.snapshot != "" {
		return errors.New("--root and --snapshot cannot be combined")
	}
	log := slog.New(slog.DiscardHandler)
	if o.verbose {
		log = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	} else {
		// ghw's DMI readers warn on stderr about absent files; this is its only switch.
		os.Setenv("GHW_DISABLE_WARNINGS", "1")
	}

	root := o.root
	if o.snapshot != "" {
		dir, cleanup, err := collectors.UnpackSnapshotFile(o.snapshot)
		if err != nil {
			return err
		}
		defer cleanup()
		root = dir
	}
	var (
		roots collectors.Roots
		seams collectors.Seams
	)
	if root != "" {
		if fi, err := os.Stat(root); err != nil || !fi.IsDir() {
			return fmt.Errorf("machine tree %s is not a directory", root)
		}
		roots, seams = collectors.RootsAt(root), collectors.ReplaySeams(root)
	} else {
		live, closeSeams, err := collectors.LiveSeams()
		if err != nil {
			return err
		}
		defer closeSeams()
		roots, seams = collectors.HostRoots(), live
	}
	var rec *collectors.Recorder
	if o.snapshotOut != "" {
		rec = collectors.NewRecorder()
		seams = collectors.RecordingSeams(seams, rec)
	}
	doc := collectors.Collect(ctx, roots, seams, rec, log)
	for _, name := range sortedErrNames(doc.CollectorErrors) {
		log.Warn("collector failed", "collector", name, "error", doc.CollectorErrors[name])
	}
	if err := writeJSON(stdout, doc, o.pretty); err != nil {
		return err
	}
	if rec != nil {
		if err := writeSnapshot(o.snapshotOut, rec); err != nil {
			return err
		}
	}
	return nil
}

func sortedErrNames(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

func writeJSON(w io.Writer, v any, pretty bool) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if pretty {
		enc.SetIndent("", "  ")
	}
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("encode json: %w", err)
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("write json: %w", err)
	}
	return nil
}

// writeSnapshot writes the recording next to file and renames it into place.
func writeSnapshot(file string, rec *collectors.Recorder) error {
	tmp, err := os.CreateTemp(filepath.Dir(file), "."+filepath.Base(file)+".*")
	if err != nil {
		return fmt.Errorf("create snapshot: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := rec.WriteTarXZ(tmp); err != nil {
		tmp.Close()
		return fmt.Errorf("write snapshot %s: %w", file, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write snapshot %s: %w", file, err)
	}
	if err := os.Rename(tmp.Name(), file); err != nil {
		return fmt.Errorf("write snapshot %s: %w", file, err)
	}
	return nil
}

// reemit prints the document in o.input with storage-extra and machine-extra added from
// their files when those exist. Keys come out sorted; values are kept as they were.
func reemit(w io.Writer, o machineResourcesOpts) error {
	data, err := os.ReadFile(o.input)
	if err != nil {
		return fmt.Errorf("read input: %w", err)
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(data, &doc); err != nil || doc == nil {
		if err == nil {
			err = errors.New("not a JSON object")
		}
		return fmt.Errorf("input %s is not a JSON object: %w", o.input, err)
	}
	for _, extra := range []struct{ key, file string }{
		{"storage-extra", o.storageExtra},
		{"machine-extra", o.machineExtra},
	} {
		if extra.file == "" {
			continue
		}
		raw, err := os.ReadFile(extra.file)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", extra.key, err)
		}
		if !json.Valid(raw) {
			return fmt.Errorf("%s file %s is not valid JSON", extra.key, extra.file)
		}
		doc[extra.key] = json.RawMessage(bytes.TrimSpace(raw))
	}
	return writeJSON(w, doc, o.pretty)
}
