// Command maas-region is the lightweight MAAS region: the API 2.0 subset, the metadata server
// and the machine life-cycle over an embedded SQLite or a shared PostgreSQL database.
package main

import (
	"fmt"
	"os"
)

func main() {
	if err := newRootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "maas-region:", err)
		os.Exit(1)
	}
}
