# Build, test and run the MAAS region, agent and CLI. `make help` lists the targets.
GO       ?= go
VERSION  ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X main.version=$(VERSION)
BUILD    := CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)"
STATE    ?= $(CURDIR)/state
LISTEN   ?= :5240

.PHONY: help build test test-go lint fuzz run bench bench-full bench-fleet bench-collector update-fixtures fmt vet clean dist

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 12

HOSTARCH := $(shell $(GO) env GOARCH)

build: ## build static binaries into bin/: the region, the agent for amd64 and arm64, the CLI
	$(BUILD) -o bin/maas-region ./cmd/maas-region
	GOOS=linux GOARCH=amd64 $(BUILD) -o bin/maas-run-scripts-linux-amd64 ./cmd/maas-run-scripts
	GOOS=linux GOARCH=arm64 $(BUILD) -o bin/maas-run-scripts-linux-arm64 ./cmd/maas-run-scripts
	cp bin/maas-run-scripts-linux-$(HOSTARCH) bin/maas-run-scripts
	$(BUILD) -o bin/maas ./cmd/maas

dist: ## release archives and Debian packages into dist/: region, agent and CLI for amd64 and arm64 (hack/dist.sh)
	@GO="$(GO)" VERSION="$(VERSION)" LDFLAGS="$(LDFLAGS)" hack/dist.sh

test: ## run every test (sets up a local PostgreSQL when none is given), then the fuzzers briefly
	@hack/test.sh

test-go: ## go vet and go test only, with whatever MAAS_TEST_POSTGRES_URL says
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 20m ./...

lint: ## go vet, gofmt, go mod tidy and staticcheck, as make test runs them first
	@hack/lint.sh

fuzz: ## run every fuzz test for FUZZTIME (default 5s) each
	@hack/fuzz.sh

run: build ## the main job: start the region under ./state, register and report this machine, serve until Ctrl-C
	@STATE=$(STATE) LISTEN=$(LISTEN) MACHINE=$(MACHINE) GO=$(GO) hack/run.sh

bench: build ## benchmarks: sizes, the region's idle RSS and GET machines/ throughput, the collector beside lshw, a fleet of 100
	@hack/bench-region.sh
	@hack/bench-collector.sh
	@hack/bench-fleet.sh
	$(GO) test -run '^$$' -bench ListMachines -benchtime 20x ./region/api/

bench-fleet: build ## a fleet of 100 simulated machines commissioning at once (hack/fleet): signals/s, CPU per signal, latency, RSS
	@hack/bench-fleet.sh

bench-full: build ## the full sizes: 500 machines in flight, 10,000 machines x 15 results, the tar.xz encoders on 100 MiB
	@FULL=1 hack/bench-fleet.sh
	$(GO) test -run '^$$' -bench XZ -benchtime 1x -timeout 2h ./region/api/

bench-collector: build ## the hardware collector beside lshw -json: wall time and peak RSS
	hack/bench-collector.sh

update-fixtures: ## rebuild the hand-made fixture machines and every golden file
	$(GO) test ./collectors -run TestBuildFixtures -build-fixtures
	$(GO) test ./collectors ./region/inventory -run TestGolden -update

fmt: ## format the code
	gofmt -w $$(git ls-files '*.go')

vet: ## go vet and a gofmt check
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); exit 1)

clean: ## remove build output
	rm -rf bin
