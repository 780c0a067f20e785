package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"maasgo/agent/bmc"
)

// newBMCConfigCmd builds "bmc-config", the work of the 30-maas-01-bmc-config script.
//
// Synopsis:
//
//	bmc-config [--root DIR]
//
// It looks for a Redfish host interface (SMBIOS type 42) or an IPMI device below the root
// and writes what it found to BMC_CONFIG_PATH as YAML: power_type (redfish or ipmi) and the
// power parameters (power_address, empty power_user and power_pass, and for IPMI
// power_boot_type and mac_address). The IPMI BMC's LAN settings are read with ipmitool. It
// creates no BMC user. When an earlier script already wrote BMC_CONFIG_PATH it says so,
// writes "status: skipped" to RESULT_PATH and exits 0. On a virtual machine or without a
// BMC it says why and exits 0, writing "status: skipped" too with --mark-skipped.
func newBMCConfigCmd() *cobra.Command {
	var (
		root        string
		markSkipped bool
	)
	cmd := &cobra.Command{
		Use:   "bmc-config [--root DIR]",
		Short: "Find the machine's IPMI or Redfish BMC and write its power settings to BMC_CONFIG_PATH",
		Long: `Find the machine's BMC, a Redfish service behind an SMBIOS type 42 host interface or an
IPMI BMC behind /dev/ipmi0 (its LAN settings read with ipmitool), and write its power type
and address to the file named by BMC_CONFIG_PATH, for the runner to send to MAAS. No BMC
user is created: power_user and power_pass are left empty. Without a BMC, on a virtual
machine it says why and exits 0 (marked skipped with --mark-skipped); when
BMC_CONFIG_PATH already exists the script is marked skipped.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runBMCConfig(cmdContext(cmd), cmd.OutOrStdout(), cmd.ErrOrStderr(), root, markSkipped,
				os.Getenv("BMC_CONFIG_PATH"), os.Getenv("RESULT_PATH"), bmc.LookIpmitool())
		},
	}
	cmd.Flags().StringVar(&root, "root", "/", "read the machine's /sys, /proc and /dev below `DIR`")
	cmd.Flags().BoolVar(&markSkipped, "mark-skipped", false, `write "status: skipped" to RESULT_PATH on a virtual machine or without a BMC`)
	return cmd
}

// runBMCConfig is bmc-config with its environment and IPMI transport passed in.
func runBMCConfig(ctx context.Context, stdout, stderr io.Writer, root string, markSkipped bool, configPath, resultPath string, t bmc.Transport) error {
	if configPath == "" {
		return errors.New(`environment variable "BMC_CONFIG_PATH" not defined`)
	}
	if _, err := os.Stat(configPath); err == nil {
		fmt.Fprintln(stdout, "INFO: BMC configuration has occurred in a previously run commissioning script, skipping")
		return writeSkipped(resultPath, stderr)
	}
	found, err := bmc.Detect(ctx, root, t)
	if errors.Is(err, bmc.ErrNone) {
		if !markSkipped {
			fmt.Fprintf(stdout, "INFO: %v: nothing to report\n", err)
			return nil
		}
		fmt.Fprintf(stdout, "INFO: %v, skipping\n", err)
		return writeSkipped(resultPath, stderr)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "INFO: %s BMC detected at %s", found.PowerType, found.Address)
	if found.MAC != "" {
		fmt.Fprintf(stdout, " (MAC %s, LAN channel %d)", found.MAC, found.Channel)
	}
	fmt.Fprintln(stdout)
	fmt.Fprintln(stdout, "WARNING: no BMC user was created: set power_user and power_pass of the machine in MAAS")
	if err := os.WriteFile(configPath, []byte(found.Config()), 0o600); err != nil {
		return fmt.Errorf("write the BMC configuration: %w", err)
	}
	return nil
}
