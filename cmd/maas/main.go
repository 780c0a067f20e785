// Command maas is the MAAS command-line client: it logs in to a region, keeps the region's
// API description per profile, and turns "maas PROFILE RESOURCE ACTION [ARGS] [key=value …]"
// into API calls the way upstream's maas CLI does.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"maasgo/cmd/maas/internal/cli"
)

// version is set at build time (-ldflags "-X main.version=…").
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], cli.OSEnv(version))
	stop()
	os.Exit(code)
}
