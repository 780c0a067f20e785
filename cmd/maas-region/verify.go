package main

import (
	"bufio"
	"crypto/ed25519"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
	"github.com/ulikunitz/xz"

	"maasgo/wire/evidence"
)

func newVerifyBundleCmd() *cobra.Command {
	var key string
	cmd := &cobra.Command{
		Use:   "verify-bundle FILE [--key PUBLIC_KEY]",
		Short: "Check an evidence bundle: every output's SHA-256 against its manifest, and the manifest's signature",
		Long: `Check an evidence bundle (nodes/{system_id}/results/?op=export, or maas-run-scripts export):
every file the manifest lists is there with its size and SHA-256, no other file is, and the
manifest's ed25519 signature holds. Pass the region's key (op=export_key's public_key) with
--key to check who signed it; without it the bundle's own key is used, which proves only that
the bundle is whole. FILE may be a .tar.xz or a .tar; - reads standard input.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var trusted ed25519.PublicKey
			if key != "" {
				k, err := evidence.ParseKey(key)
				if err != nil {
					return fmt.Errorf("--key: %w", err)
				}
				trusted = k
			}
			in := io.Reader(os.Stdin)
			if args[0] != "-" {
				f, err := os.Open(args[0])
				if err != nil {
					return fmt.Errorf("open the bundle: %w", err)
				}
				defer f.Close()
				in = f
			}
			br := bufio.NewReader(in)
			var r io.Reader = br
			if magic, _ := br.Peek(6); string(magic) == "\xfd7zXZ\x00" {
				xr, err := xz.NewReader(br)
				if err != nil {
					return fmt.Errorf("read the bundle's xz: %w", err)
				}
				r = xr
			}
			v, err := evidence.Verify(r, trusted)
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			m := v.Manifest
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "%s: whole: %d files, %d results of %s (%s), made %s by %s\n", args[0], len(m.Files), len(m.Results),
				m.Machine.Hostname, m.Machine.SystemID, m.Generated.Format("2006-01-02 15:04:05Z"), m.Generator)
			switch {
			case v.Trusted:
				fmt.Fprintf(out, "signed by the trusted key %s\n", v.Fingerprint)
			case v.Fingerprint != "":
				fmt.Fprintf(cmd.ErrOrStderr(), "warning: signed by %s, the key the bundle carries; pass --key to check it is the region's\n", v.Fingerprint)
			default:
				fmt.Fprintln(cmd.ErrOrStderr(), "warning: the bundle is not signed (an agent's offline export): nobody vouches for it")
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&key, "key", "", "the public key the bundle must be signed with (base64, as op=export_key gives it)")
	return cmd
}
