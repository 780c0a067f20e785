package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
)

// machineHints is upstream's machine configuration hints document: the platform (the
// machine's subarchitecture hint) and tags.
type machineHints struct {
	Platform string   `json:"platform"`
	Tags     []string `json:"tags"`
}

// hintsResources is the part of the machine-resources document the hints read.
type hintsResources struct {
	Resources struct {
		System struct {
			Motherboard *struct {
				Vendor  string `json:"vendor"`
				Product string `json:"product"`
			} `json:"motherboard"`
		} `json:"system"`
	} `json:"resources"`
}

// hintsFor returns the hints for a machine-resources document, as upstream's
// 40-maas-01-machine-config-hints: platform "nvidia-dgx" for an NVIDIA DGX motherboard,
// "generic" otherwise, and no tags.
func hintsFor(resources []byte) (machineHints, error) {
	var doc hintsResources
	if err := json.Unmarshal(resources, &doc); err != nil {
		return machineHints{}, fmt.Errorf("parse the machine resources: %w", err)
	}
	h := machineHints{Platform: "generic", Tags: []string{}}
	if mb := doc.Resources.System.Motherboard; mb != nil &&
		strings.ToLower(mb.Vendor) == "nvidia" && strings.TrimPrefix(strings.ToLower(mb.Product), "nvidia ") == "dgx" {
		h.Platform = "nvidia-dgx"
	}
	return h, nil
}

// newMachineConfigHintsCmd builds "machine-config-hints", the work of the
// 40-maas-01-machine-config-hints script.
//
// Synopsis:
//
//	machine-config-hints [--resources FILE] [--output FILE]
//
// It reads the machine-resources document (MAAS_RESOURCES_FILE by default) and prints the
// hints as upstream does (JSON indented by 4, keys sorted), and writes them to --output.
func newMachineConfigHintsCmd() *cobra.Command {
	var resources, output string
	cmd := &cobra.Command{
		Use:   "machine-config-hints [--resources FILE] [--output FILE]",
		Short: "Print machine configuration hints (the platform) from the machine-resources document",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runMachineConfigHints(cmd.OutOrStdout(), resources, output)
		},
	}
	cmd.Flags().StringVar(&resources, "resources", os.Getenv("MAAS_RESOURCES_FILE"), "the machine-resources document `FILE`")
	cmd.Flags().StringVar(&output, "output", "", "also write the hints to `FILE` (MAAS_MACHINE_EXTRA_FILE)")
	return cmd
}

func runMachineConfigHints(stdout io.Writer, resources, output string) error {
	if resources == "" {
		return fmt.Errorf("no machine-resources document: set MAAS_RESOURCES_FILE or --resources")
	}
	data, err := os.ReadFile(resources)
	if err != nil {
		return fmt.Errorf("failed to read %s: %w", resources, err)
	}
	h, err := hintsFor(data)
	if err != nil {
		return fmt.Errorf("failed to parse %s: %w", resources, err)
	}
	out, err := json.MarshalIndent(h, "", "    ")
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(stdout, "%s\n", out); err != nil {
		return err
	}
	if output != "" {
		if err := os.WriteFile(output, out, 0o644); err != nil {
			return fmt.Errorf("write the hints: %w", err)
		}
	}
	return nil
}
